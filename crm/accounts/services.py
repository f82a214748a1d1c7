"""Writes for accounts: users, departments, roles, API tokens (ORG-1..4)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.accounts.lockout import (
    account_addresses,
    account_attack_started,
    account_failures,
    accounts_over_limit,
)
from crm.accounts.models import ApiToken, Department, LoginFailure, Role, RolePermission, User
from crm.accounts.tasks import login_lockout_alert
from crm.accounts.transfer import records_transfer_all, transfer_refused_modules
from crm.core.audit import audit_record, diff
from crm.core.configstate import config_changed
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.permissions import MODULES, Scope
from crm.core.scope import user_can
from crm.core.validators import email_normalize, phone_normalize

TOKEN_PREFIX = "crm_"


def _require_configure(actor: Any) -> None:
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# --- users ----------------------------------------------------------------------------------


def _user_clean(*, data: dict[str, Any], current: User | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    partial = current is not None

    def fail(name: str, message: Any) -> None:
        errors.setdefault(name, []).append(str(message))

    if "username" in data or not partial:
        username = _text(data.get("username"))
        if not username:
            fail("username", _("Enter a username."))
        elif not all(ch.isalnum() or ch in "@.+-_" for ch in username) or len(username) > 150:
            fail("username", _("Use up to 150 letters, digits and @ . + - _ only."))
        elif (
            User.objects.filter(username__iexact=username)
            .exclude(pk=getattr(current, "pk", None))
            .exists()
        ):
            fail("username", _("This username is taken."))
        else:
            cleaned["username"] = username
    if "full_name" in data or not partial:
        full_name = _text(data.get("full_name"))
        if not full_name:
            fail("full_name", _("Enter the person's name."))
        cleaned["full_name"] = full_name[:80]
    if "email" in data:
        raw = _text(data.get("email"))
        try:
            cleaned["email"] = email_normalize(raw) if raw else ""
        except ValidationError as exc:
            fail("email", exc.messages[0])
    if "phone" in data:
        raw = _text(data.get("phone"))
        try:
            cleaned["phone"] = phone_normalize(raw) if raw else ""
        except ValidationError as exc:
            fail("phone", exc.messages[0])
    if "department" in data:
        dept = data.get("department")
        dept_id = getattr(dept, "pk", dept)
        if dept_id in (None, ""):
            cleaned["department"] = None
        else:
            found = (
                Department.objects.filter(pk=dept_id, is_active=True).first()
                if str(dept_id).isdigit()
                else None
            )
            if found is None:
                fail("department", _("Choose an active department."))
            cleaned["department"] = found
    if "supervisor" in data:
        sup = data.get("supervisor")
        sup_id = getattr(sup, "pk", sup)
        if sup_id in (None, ""):
            cleaned["supervisor"] = None
        else:
            found = (
                User.objects.filter(pk=sup_id, is_active=True).first()
                if str(sup_id).isdigit()
                else None
            )
            if found is None:
                fail("supervisor", _("Choose an active user as supervisor."))
            elif current is not None and _supervisor_creates_cycle(current, found):
                fail(
                    "supervisor",
                    _("A user cannot report to themselves or to their own subordinate."),
                )
            cleaned["supervisor"] = found
    if "roles" in data or not partial:
        ids = [getattr(r, "pk", r) for r in (data.get("roles") or [])]
        roles = list(Role.objects.filter(pk__in=[i for i in ids if str(i).isdigit()]))
        if len(roles) != len(set(ids)):
            fail("roles", _("Choose roles from the list."))
        elif not roles:
            # A user without a role can open nothing and lands on an empty dashboard.
            fail("roles", _("Choose at least one role."))
        cleaned["roles"] = roles
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _supervisor_creates_cycle(user: User, supervisor: User) -> bool:
    seen: set[int] = set()
    node: User | None = supervisor
    while node is not None and node.pk not in seen:
        if node.pk == user.pk:
            return True
        seen.add(node.pk)
        node = node.supervisor
    return False


def _user_snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "phone": user.phone,
        "department": str(user.department) if user.department_id else "",
        "supervisor": user.supervisor.display_name if user.supervisor_id else "",
        "roles": sorted(str(r) for r in user.roles.all()) if user.pk else [],
        "is_active": user.is_active,
    }


def password_check(password: str, *, user: User | None = None, field: str = "password") -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(fields={field: list(exc.messages)}) from None


@transaction.atomic
def user_create(*, actor: Any, data: dict[str, Any]) -> tuple[User, str]:
    """Create an account with an initial password that must be changed at first login (ORG-1).

    Returns the user and the initial password (generated when none is given) to hand over.
    """
    _require_configure(actor)
    cleaned = _user_clean(data=data, current=None)
    password = _text(data.get("password")) or secrets.token_urlsafe(9)
    roles = cleaned.pop("roles", [])
    user = User(**cleaned, must_change_password=True)
    password_check(password, user=user)
    user.set_password(password)
    user.save()
    user.roles.set(roles)
    config_changed()  # grants and scopes: every process re-reads them
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=user,
        changes=diff({}, _user_snapshot(user)),
    )
    return user, password


@transaction.atomic
def user_update(*, actor: Any, user: User, data: dict[str, Any]) -> User:
    _require_configure(actor)
    cleaned = _user_clean(data=data, current=user)
    before = _user_snapshot(user)
    roles = cleaned.pop("roles", None)
    for name, value in cleaned.items():
        setattr(user, name, value)
    user.save()
    if roles is not None:
        user.roles.set(roles)
        _require_configurers_remain("roles")
    changes = diff(before, _user_snapshot(user))
    if changes:
        action = (
            AuditEntry.Action.PERMISSION_CHANGE
            if any(c["field"] == "roles" for c in changes)
            else AuditEntry.Action.UPDATE
        )
        config_changed()  # grants and scopes: every process re-reads them
        audit_record(actor=actor, action=action, instance=user, changes=changes)
    return user


@transaction.atomic
def user_password_reset(*, actor: Any, user: User, password: str = "") -> str:
    """An administrator sets a new initial password; the user must change it (ORG-4).

    A reset often means "this account may be compromised": the new hash already ends the
    user's sessions, and their API tokens are revoked with it.
    """
    _require_configure(actor)
    password = password or secrets.token_urlsafe(9)
    password_check(password, user=user)
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit_record(
        actor=actor,
        action=AuditEntry.Action.PASSWORD_CHANGE,
        instance=user,
        changes=[{"field": "password", "before": None, "after": _("reset by administrator")}],
    )
    return password


@transaction.atomic
def user_password_changed(*, user: User) -> None:
    """Called after the user chose a new password themselves."""
    User.objects.filter(pk=user.pk).update(must_change_password=False)
    user.must_change_password = False
    audit_record(actor=user, action=AuditEntry.Action.PASSWORD_CHANGE, instance=user)


@transaction.atomic
def user_deactivate(*, actor: Any, user: User, transfer_to: User | None = None) -> dict[str, int]:
    """Disable a leaving user's account (ORG-3): never deleted, sessions and tokens revoked at
    once, their records optionally transferred in bulk to another user."""
    _require_configure(actor)
    if user.pk == getattr(actor, "pk", None):
        raise ValidationFailed(fields={"user": [_("You cannot deactivate your own account.")]})
    if transfer_to is not None and (transfer_to.pk == user.pk or not transfer_to.is_active):
        raise ValidationFailed(
            fields={"transfer_to": [_("Choose another active user to receive the records.")]}
        )
    if transfer_to is not None and transfer_refused_modules(actor=actor, to_user=transfer_to):
        raise ValidationFailed(
            fields={
                "transfer_to": [
                    _(
                        "%(name)s cannot own these records: their roles do not let them work "
                        "on them. Choose a user with a sales role."
                    )
                    % {"name": transfer_to.display_name}
                ]
            }
        )
    now = timezone.now()
    user.is_active = False
    user.deactivated_at = now
    user.save(update_fields=["is_active", "deactivated_at"])
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    sessions_revoke(user=user)
    moved: dict[str, int] = {}
    if transfer_to is not None:
        moved = records_transfer_all(from_user=user, to_user=transfer_to, actor=actor)
    config_changed()  # grants and scopes: every process re-reads them
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DEACTIVATE,
        instance=user,
        changes=[
            {"field": "is_active", "before": True, "after": False},
            *(
                [{"field": "transfer_to", "before": None, "after": transfer_to.display_name}]
                if transfer_to
                else []
            ),
        ],
    )
    return moved


def sessions_revoke(*, user: User) -> int:
    """Delete every stored session of the user (the auth backend also refuses inactive users on
    their next request, so a cached session cannot outlive this)."""
    from django.contrib.sessions.models import Session

    removed = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            removed += 1
    return removed


@transaction.atomic
def user_reactivate(*, actor: Any, user: User) -> User:
    _require_configure(actor)
    user.is_active = True
    user.deactivated_at = None
    user.save(update_fields=["is_active", "deactivated_at"])
    config_changed()  # grants and scopes: every process re-reads them
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=user,
        changes=[{"field": "is_active", "before": False, "after": True}],
    )
    return user


# --- departments ----------------------------------------------------------------------------


@transaction.atomic
def department_save(
    *, actor: Any, data: dict[str, Any], department: Department | None = None
) -> Department:
    _require_configure(actor)
    errors: dict[str, list[str]] = {}
    name = _text(data.get("name"))
    if not name:
        errors["name"] = [_("Enter the department's name.")]
    parent_id = data.get("parent")
    parent_id = getattr(parent_id, "pk", parent_id)
    parent = None
    if parent_id not in (None, ""):
        parent = (
            Department.objects.filter(pk=parent_id).first() if str(parent_id).isdigit() else None
        )
        if parent is None:
            errors["parent"] = [_("Choose a department from the list.")]
        elif department is not None:
            node: Department | None = parent
            while node is not None:
                if node.pk == department.pk:
                    errors["parent"] = [_("A department cannot sit inside itself.")]
                    break
                node = node.parent
    if (
        name
        and Department.objects.filter(parent=parent, name=name)
        .exclude(pk=getattr(department, "pk", None))
        .exists()
    ):
        errors["name"] = [_("A department with this name already exists here.")]
    if errors:
        raise ValidationFailed(fields=errors)
    before = {"name": department.name, "parent": str(department.parent or "")} if department else {}
    if department is None:
        department = Department()
    department.name = name
    department.parent = parent
    if "position" in data and str(data["position"]).isdigit():
        department.position = int(data["position"])
    department.save()
    config_changed()  # grants and scopes: every process re-reads them
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE if before else AuditEntry.Action.CREATE,
        instance=department,
        changes=diff(before, {"name": department.name, "parent": str(department.parent or "")}),
    )
    return department


@transaction.atomic
def department_deactivate(*, actor: Any, department: Department) -> None:
    _require_configure(actor)
    if (
        department.members.filter(is_active=True).exists()
        or department.children.filter(is_active=True).exists()
    ):
        raise ValidationFailed(
            fields={
                "department": [
                    _("Move this department's members and sub-departments elsewhere first.")
                ]
            }
        )
    department.is_active = False
    department.save(update_fields=["is_active"])
    config_changed()  # grants and scopes: every process re-reads them
    audit_record(actor=actor, action=AuditEntry.Action.DELETE, instance=department)


# --- roles ----------------------------------------------------------------------------------


@transaction.atomic
def role_save(*, actor: Any, data: dict[str, Any], role: Role | None = None) -> Role:
    """Create or edit a role and its per-module permissions and scopes (audited)."""
    _require_configure(actor)
    errors: dict[str, list[str]] = {}
    name = _text(data.get("name"))
    if not name:
        errors["name"] = [_("Enter the role's name.")]
    code = _text(data.get("code")) if role is None else role.code
    if role is None:
        if not code or not code.replace("_", "").isalnum() or not code.isascii():
            errors["code"] = [_("Use lower-case letters, digits and underscores.")]
        elif Role.objects.filter(code=code).exists():
            errors["code"] = [_("This code is taken.")]
    permissions: dict[str, dict[str, Any]] = data.get("permissions") or {}
    for module, grant in permissions.items():
        if module not in MODULES:
            errors.setdefault("permissions", []).append(_("Unknown module: %(m)s") % {"m": module})
            continue
        bad = set(grant.get("actions", [])) - set(MODULES[module].actions)
        if bad:
            errors[f"permissions.{module}.actions"] = [
                _("Unknown actions: %(a)s") % {"a": ", ".join(sorted(bad))}
            ]
        if grant.get("scope", Scope.OWN) not in Scope.values:
            errors[f"permissions.{module}.scope"] = [_("Choose a data scope from the list.")]
    if errors:
        raise ValidationFailed(fields=errors)
    before = _role_snapshot(role) if role else {}
    if role is None:
        role = Role(code=code)
    role.name = name
    role.name_en = _text(data.get("name_en"))[:80]
    role.description = _text(data.get("description"))[:200]
    role.description_en = _text(data.get("description_en"))[:200]
    role.save()
    if permissions or "permissions" in data:
        RolePermission.objects.filter(role=role).delete()
        RolePermission.objects.bulk_create(
            RolePermission(
                role=role,
                module=module,
                actions=sorted(set(g.get("actions", []))),
                scope=g.get("scope", Scope.OWN),
            )
            for module, g in permissions.items()
            if g.get("actions")
        )
        _require_configurers_remain("permissions.settings.actions")
    changes = diff(before, _role_snapshot(role))
    config_changed()  # grants and scopes: every process re-reads them
    audit_record(
        actor=actor, action=AuditEntry.Action.PERMISSION_CHANGE, instance=role, changes=changes
    )
    return role


def _role_snapshot(role: Role) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": role.name,
        "name_en": role.name_en,
        "description": role.description,
        "description_en": role.description_en,
    }
    for perm in RolePermission.objects.filter(role=role).order_by("module"):
        data[f"{perm.module}"] = f"{','.join(perm.actions)} / {perm.scope}"
    return data


# --- API tokens -----------------------------------------------------------------------------


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for the user; the raw value is returned once and only its hash is kept."""
    name = _text(name).replace("\x00", "")
    if not name:
        raise ValidationFailed(
            fields={"name": [_("Name the token, e.g. the integration using it.")]}
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:80], prefix=raw[:12], token_hash=_hash(raw)
    )
    audit_record(
        actor=user,
        action=AuditEntry.Action.TOKEN,
        instance=user,
        changes=[{"field": "api_token", "before": None, "after": token.name}],
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken) -> None:
    if token.user_id != actor.pk and not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.TOKEN,
            instance=token.user,
            changes=[{"field": "api_token", "before": token.name, "after": None}],
        )


def api_token_authenticate(raw: str) -> User | None:
    """The active user behind a raw token, or None (revoked, unknown, or user deactivated)."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.filter(
            token_hash=_hash(raw), revoked_at__isnull=True, user__is_active=True
        )
        .select_related("user")
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def users_search(*, query: str):
    q = _text(query)
    qs = User.objects.all()
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(full_name__icontains=q))
    return qs


# --- settings area helpers (ORG-1..4) -------------------------------------------------------


def _configurers_remain() -> bool:
    """Whether some active account can still open Settings; an edit that would lock every
    administrator out of user and role management is refused instead."""
    return configurers().exists()


def _require_configurers_remain(field: str) -> None:
    if not _configurers_remain():
        raise ValidationFailed(
            fields={
                field: [
                    _(
                        "This would leave nobody able to manage settings; keep the configure "
                        "permission for at least one active user."
                    )
                ]
            }
        )


def configurers():
    """Active accounts that can open Settings (superusers, or a role with settings/configure):
    the administrators who unlock accounts and are told about attacks on them."""
    role_ids = [
        perm.role_id
        for perm in RolePermission.objects.filter(module="settings").only("role_id", "actions")
        if "configure" in (perm.actions or [])
    ]
    return User.objects.filter(
        Q(is_superuser=True) | Q(roles__in=role_ids), is_active=True
    ).distinct()


@transaction.atomic
def user_unlock(*, actor: Any, user: User) -> int:
    """Lift a login lockout (ORG-4) before it ends, at every address and for the whole account;
    returns the attempts cleared. The failures still count against the addresses they came
    from (issue 5 §3), so an attacker's address gets no fresh guesses from an unlock."""
    _require_configure(actor)
    cleared = axes_reset(username=user.username)
    cleared += LoginFailure.objects.filter(username=user.username, counts_for_account=True).update(
        counts_for_account=False
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=user,
        changes=[{"field": "login_lockout", "before": True, "after": False}],
    )
    return cleared


def users_locked_out(*, usernames: list[str]) -> set[str]:
    """Which of these usernames cannot log in now from some address, or from any (two queries,
    for lists): locked at one address (5 failures there) or for everybody (issue 5 §3)."""
    if not usernames:
        return set()
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    rows = (
        AccessAttempt.objects.filter(username__in=usernames, attempt_time__gte=since)
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"))
    )
    at_an_address = {r["username"] for r in rows if r["failures"] >= settings.AXES_FAILURE_LIMIT}
    return at_an_address | accounts_over_limit(usernames=usernames)


def users_locked_for_everybody() -> list[User]:
    """Accounts locked at every address after failures from many (the Users page banner)."""
    return list(User.objects.filter(username__in=accounts_over_limit()).order_by("username"))


def user_login_locked(*, username: str, site_url: str) -> AuditEntry | None:
    """An account went over the all-addresses limit: audit it and tell the administrators,
    once per attack (issue 5 §3).

    An attack is the run of failures still inside the account window: once the account is
    locked its failures stop counting in, so while the attack goes on the oldest of them
    predates the first report and no second one is sent; after an unlock, or once the window
    has emptied, a new run is a new attack. Usernames nobody has are refused all the same, but
    there is no one to tell. `site_url` (scheme and host the request came to) makes the
    email's unlock link absolute.
    """
    with transaction.atomic():
        # The row lock makes two failures crossing the limit at once report it once.
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            return None
        started = account_attack_started(username)
        if started is None:
            return None
        already = AuditEntry.objects.filter(
            action=AuditEntry.Action.ACCOUNT_LOCKED,
            content_type=ContentType.objects.get_for_model(User),
            object_id=user.pk,
            created_at__gte=started,
        ).exists()
        if already:
            return None
        entry = audit_record(
            actor=None,
            action=AuditEntry.Action.ACCOUNT_LOCKED,
            instance=user,
            changes=[{"field": "login_lockout", "before": False, "after": True}],
        )
        alert = {
            "user_id": user.pk,
            "failures": account_failures(username),
            "addresses": account_addresses(username, since=started),
            "link": site_url.rstrip("/") + reverse("settings:user_edit", args=[user.pk]),
        }
        transaction.on_commit(lambda: login_lockout_alert.enqueue(**alert))
    return entry


@transaction.atomic
def department_reactivate(*, actor: Any, department: Department) -> Department:
    _require_configure(actor)
    if department.parent_id and not department.parent.is_active:
        raise ValidationFailed(
            fields={"department": [_("Reactivate the parent department first.")]}
        )
    if not department.is_active:
        department.is_active = True
        department.save(update_fields=["is_active"])
        config_changed()  # grants and scopes: every process re-reads them
        audit_record(
            actor=actor,
            action=AuditEntry.Action.RESTORE,
            instance=department,
            changes=[{"field": "is_active", "before": False, "after": True}],
        )
    return department
