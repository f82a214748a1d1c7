"""The data-scope engine: one place that turns (user, module) into a queryset filter (SYS-5).

Selectors call `scope_filter()`; nothing else decides which owned records a user may see.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from crm.core.configstate import config_section, config_section_register
from crm.core.permissions import MODULES, Grant, Scope

NOTHING = Q(pk__in=[])


def _grants_load() -> tuple[dict[int, tuple], dict[int, tuple[int, ...]]]:
    """(role id -> ((module, actions, scope), ...), user id -> role ids), for every role."""
    from crm.accounts.models import RolePermission, User

    by_role: dict[int, list[tuple[str, tuple[str, ...], str]]] = {}
    for role_id, module, actions, scope in RolePermission.objects.values_list(
        "role_id", "module", "actions", "scope"
    ):
        by_role.setdefault(role_id, []).append((module, tuple(actions or ()), scope))
    user_roles: dict[int, list[int]] = {}
    for user_id, role_id in User.roles.through.objects.values_list("user_id", "role_id"):
        user_roles.setdefault(user_id, []).append(role_id)
    return (
        {role: tuple(perms) for role, perms in by_role.items()},
        {user: tuple(roles) for user, roles in user_roles.items()},
    )


def _supervisors_load() -> dict[int, tuple[int, ...]]:
    """supervisor id -> the ids of their direct reports."""
    from crm.accounts.models import User

    children: dict[int, list[int]] = {}
    for uid, sup in User.objects.filter(supervisor__isnull=False).values_list(
        "id", "supervisor_id"
    ):
        children.setdefault(sup, []).append(uid)
    return {sup: tuple(ids) for sup, ids in children.items()}


def _departments_load() -> dict[int | None, tuple[int, ...]]:
    """parent department id -> the ids of its sub-departments."""
    from crm.accounts.models import Department

    children: dict[int | None, list[int]] = {}
    for did, parent in Department.objects.values_list("id", "parent_id"):
        children.setdefault(parent, []).append(did)
    return {parent: tuple(ids) for parent, ids in children.items()}


config_section_register("grants", _grants_load)
config_section_register("supervisors", _supervisors_load)
config_section_register("departments", _departments_load)


def user_grants(user: Any) -> dict[str, Grant]:
    """The user's effective grant per module, computed once per user object (per request)
    from the process's parsed roles (crm.core.configstate): no query while the stamp holds."""
    cached = getattr(user, "_crm_grants", None)
    if cached is not None:
        return cached
    grants: dict[str, Grant] = {}
    if user is None or not user.is_authenticated or not user.is_active:
        grants = {}
    elif user.is_superuser:
        grants = {code: Grant(set(m.actions), Scope.ALL) for code, m in MODULES.items()}
    else:
        by_role, user_roles = config_section("grants")
        for role_id in user_roles.get(user.pk, ()):
            for module, actions, scope in by_role.get(role_id, ()):
                grants.setdefault(module, Grant(set(), Scope.OWN)).widen(list(actions), scope)
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


def _descendants(children: dict[Any, tuple[int, ...]], root: Any) -> set[int]:
    found: set[int] = set()
    stack = list(children.get(root, ()))
    while stack:
        node = stack.pop()
        if node in found or node == root:
            continue
        found.add(node)
        stack.extend(children.get(node, ()))
    return found


def subordinate_ids(user: Any) -> set[int]:
    """Everyone below the user in the supervisor chain, at any depth."""
    cached = getattr(user, "_crm_subordinates", None)
    if cached is not None:
        return cached
    found = _descendants(config_section("supervisors"), user.pk)
    user._crm_subordinates = found
    return found


def department_tree_ids(department_id: int | None) -> set[int]:
    if department_id is None:
        return set()
    return {department_id} | _descendants(config_section("departments"), department_id)


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


def scope_covers(user: Any, module: str, owner: Any) -> bool:
    """Whether `user`'s data scope in `module` covers records owned by `owner` (a user with
    its department_id), decided from the parsed grants without a query."""
    if owner is None or user_scope(user, module) is None:
        return False
    for scope in user_grants(user)[module].effective_scopes():
        if scope == Scope.ALL or owner.pk == user.pk:
            return True
        if scope == Scope.SUBORDINATES and owner.pk in subordinate_ids(user):
            return True
        if user.department_id is not None and owner.department_id is not None:
            if scope == Scope.DEPARTMENT and owner.department_id == user.department_id:
                return True
            if scope == Scope.DEPARTMENT_TREE and owner.department_id in department_tree_ids(
                user.department_id
            ):
                return True
    return False


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


def _owner_condition(module: str) -> Q:
    """Users holding, through their roles, `module`'s `owner_actions` (or superusers)."""
    from crm.accounts.models import RolePermission, User

    needed = MODULES[module].owner_actions
    granting: dict[str, set[int]] = {action: set() for action in needed}
    for role_id, actions in RolePermission.objects.filter(module=module).values_list(
        "role_id", "actions"
    ):
        for action in needed:
            if action in (actions or []):
                granting[action].add(role_id)
    # The actions may come from different roles of the same user (roles add up).
    condition = Q()
    for action in needed:
        holders = User.objects.filter(roles__in=sorted(granting[action])).values("pk")
        condition &= Q(pk__in=holders)
    return Q(is_superuser=True) | condition


def users_who_can_own(*, actor: Any, module: str):
    """Users the actor may make owner of one of `module`'s records (issue 5 §4).

    Inside the actor's scope (`users_assignable_by`) and holding, through their roles, the
    module's `owner_actions`: a transfer to someone who could not even open the record (a
    finance clerk, a user without roles) would hide it from everyone who works it. The same
    rule serves the choices the UI offers and the services' validation, so the API refuses
    exactly the users the UI does not offer.
    """
    return users_assignable_by(actor, module).filter(_owner_condition(module))


def users_who_could_own(*, module: str):
    """Active users who could own one of `module`'s records, whoever hands it to them: those
    holding the module's `owner_actions` through their roles (or superusers), without the
    limit of an actor's scope. What the automatic lead assignment (LEAD-4) and a lead
    dispatcher choose from; `users_who_can_own` adds the actor's scope."""
    from crm.accounts.models import User

    return User.objects.filter(is_active=True).filter(_owner_condition(module))
