"""The data-scope engine: one place that turns (user, module) into a queryset filter (SYS-5).

Selectors call `scope_filter()`; nothing else decides which owned records a user may see.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from crm.core.permissions import MODULES, Grant, Scope

NOTHING = Q(pk__in=[])


def user_grants(user: Any) -> dict[str, Grant]:
    """The user's effective grant per module, computed once per user object (per request)."""
    cached = getattr(user, "_crm_grants", None)
    if cached is not None:
        return cached
    grants: dict[str, Grant] = {}
    if user is None or not user.is_authenticated or not user.is_active:
        grants = {}
    elif user.is_superuser:
        grants = {code: Grant(set(m.actions), Scope.ALL) for code, m in MODULES.items()}
    else:
        from crm.accounts.models import RolePermission

        for perm in RolePermission.objects.filter(role__users=user).only(
            "module", "actions", "scope"
        ):
            grants.setdefault(perm.module, Grant(set(), Scope.OWN)).widen(perm.actions, perm.scope)
    user._crm_grants = grants
    return grants


def user_can(user: Any, module: str, action: str) -> bool:
    grant = user_grants(user).get(module)
    return bool(grant and action in grant.actions)


def user_scope(user: Any, module: str) -> str | None:
    grant = user_grants(user).get(module)
    if not grant or "view" not in grant.actions:
        return None
    return grant.scope


def subordinate_ids(user: Any) -> set[int]:
    """Everyone below the user in the supervisor chain, at any depth."""
    cached = getattr(user, "_crm_subordinates", None)
    if cached is not None:
        return cached
    from crm.accounts.models import User

    children: dict[int, list[int]] = {}
    for uid, sup in User.objects.filter(supervisor__isnull=False).values_list(
        "id", "supervisor_id"
    ):
        children.setdefault(sup, []).append(uid)
    found: set[int] = set()
    stack = list(children.get(user.pk, []))
    while stack:
        uid = stack.pop()
        if uid in found or uid == user.pk:
            continue
        found.add(uid)
        stack.extend(children.get(uid, []))
    user._crm_subordinates = found
    return found


def department_tree_ids(department_id: int | None) -> set[int]:
    if department_id is None:
        return set()
    from crm.accounts.models import Department

    children: dict[int | None, list[int]] = {}
    for did, parent in Department.objects.values_list("id", "parent_id"):
        children.setdefault(parent, []).append(did)
    found = {department_id}
    stack = list(children.get(department_id, []))
    while stack:
        did = stack.pop()
        if did not in found:
            found.add(did)
            stack.extend(children.get(did, []))
    return found


def _scope_q(user: Any, scope: str, owner_field: str) -> Q:
    own = Q(**{f"{owner_field}_id": user.pk})
    if scope == Scope.ALL:
        return Q()
    if scope == Scope.SUBORDINATES:
        return Q(**{f"{owner_field}_id__in": [user.pk, *sorted(subordinate_ids(user))]})
    if scope == Scope.DEPARTMENT and user.department_id is not None:
        return Q(**{f"{owner_field}__department_id": user.department_id})
    if scope == Scope.DEPARTMENT_TREE and user.department_id is not None:
        ids = department_tree_ids(user.department_id)
        return Q(**{f"{owner_field}__department_id__in": sorted(ids)})
    return own  # OWN, or a department scope for a user without a department


def scope_filter(user: Any, module: str, *, owner_field: str = "owner") -> Q:
    """A Q limiting `module`'s records to what `user` may see, by the record's owner.

    Nothing without the module's "view" action (or for an inactive user); otherwise the union
    of the scopes the user's roles grant.
    """
    if user_scope(user, module) is None:
        return NOTHING
    grant = user_grants(user)[module]
    result: Q | None = None
    for scope in sorted(grant.effective_scopes()):
        q = _scope_q(user, scope, owner_field)
        if not q:
            return Q()  # ALL
        result = q if result is None else result | q
    return result if result is not None else NOTHING


def users_assignable_by(user: Any, module: str):
    """Active users the actor may make owner of a record: those inside the actor's scope."""
    from crm.accounts.models import User

    qs = User.objects.filter(is_active=True)
    if user_scope(user, module) is None:
        return qs.none()
    condition: Q | None = None
    for scope in sorted(user_grants(user)[module].effective_scopes()):
        if scope == Scope.ALL:
            return qs
        if scope == Scope.SUBORDINATES:
            q = Q(pk__in=[user.pk, *sorted(subordinate_ids(user))])
        elif scope == Scope.DEPARTMENT and user.department_id is not None:
            q = Q(department_id=user.department_id) | Q(pk=user.pk)
        elif scope == Scope.DEPARTMENT_TREE and user.department_id is not None:
            q = Q(department_id__in=sorted(department_tree_ids(user.department_id))) | Q(pk=user.pk)
        else:
            # OWN; and a department scope without a department must not match every user
            # whose department is also empty.
            q = Q(pk=user.pk)
        condition = q if condition is None else condition | q
    return qs.filter(condition) if condition is not None else qs.none()


def users_who_can_own(*, actor: Any, module: str):
    """Users the actor may make owner of one of `module`'s records (issue 5 §4).

    Inside the actor's scope (`users_assignable_by`) and holding, through their roles, the
    module's `owner_actions`: a transfer to someone who could not even open the record (a
    finance clerk, a user without roles) would hide it from everyone who works it. The same
    rule serves the choices the UI offers and the services' validation, so the API refuses
    exactly the users the UI does not offer.
    """
    from crm.accounts.models import RolePermission

    needed = MODULES[module].owner_actions
    granting: dict[str, set[int]] = {action: set() for action in needed}
    for role_id, actions in RolePermission.objects.filter(module=module).values_list(
        "role_id", "actions"
    ):
        for action in needed:
            if action in (actions or []):
                granting[action].add(role_id)
    qs = users_assignable_by(actor, module)
    # The actions may come from different roles of the same user (roles add up).
    condition = Q()
    for action in needed:
        holders = qs.model.objects.filter(roles__in=sorted(granting[action])).values("pk")
        condition &= Q(pk__in=holders)
    return qs.filter(Q(is_superuser=True) | condition)
