"""Accounts API: tokens, the current user, deactivating a leaving user (ORG-1..4)."""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router

from crm.accounts.models import User
from crm.accounts.schemas import DeactivateIn, DeactivateOut, MeOut, TokenIn, TokenOut
from crm.accounts.services import api_token_create, user_deactivate
from crm.accounts.views import lockout_response
from crm.core.api import ParamInt, errors, id_checked
from crm.core.errors import AppError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.net import client_address
from crm.core.permissions import MODULES
from crm.core.scope import user_can, user_grants

router = Router(tags=["accounts"])


class InvalidCredentials(AppError):
    status = 401
    code = "invalid_credentials"


class PasswordChangeRequired(AppError):
    status = 403
    code = "password_change_required"


@router.post(
    "/auth/token",
    auth=None,
    response={200: TokenOut, **errors(401, 403, 429)},
    summary="Exchange a username and password for an API token",
    description=(
        "Failed attempts count towards the login lockout: 5 failures in 15 minutes lock the "
        "username at the caller's address, 20 failures in 15 minutes from one address lock "
        "that address for every username, and 50 failures in an hour from all addresses lock "
        "the account everywhere (the administrators are told). A locked login gets 429 with "
        '`{"error": "locked_out", "message": ...}` until the lockout ends, even with the right '
        "password. Deactivated users get 401. Accounts that must change their initial password "
        "get 403 until they do so in the web app."
    ),
)
def token_create(request: HttpRequest, payload: TokenIn):
    # authenticate() with the request goes through django-axes, which counts the failure,
    # audits it (user_login_failed) and marks the request once the account is locked.
    user = authenticate(request=request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        return lockout_response(request)
    if user is None or not user.is_active:
        raise InvalidCredentials(_("Wrong username or password, or the account is disabled."))
    if user.must_change_password:
        # The initial password an administrator handed over must not become a lasting
        # credential: the forced change at first login applies to the API too (ORG-1).
        raise PasswordChangeRequired(
            _("Change your initial password in the web app before requesting an API token.")
        )
    if settings.AXES_RESET_ON_SUCCESS:
        # What a successful web login does (through user_logged_in, which a token exchange
        # does not send): earlier typos at this address stop counting towards its lockout.
        # Failures from other addresses stay: they may be someone else's guesses.
        axes_reset(ip=client_address(request), username=user.get_username())
    name = payload.name.strip() or _("API token %(when)s") % {
        "when": timezone.localtime().strftime("%Y-%m-%d %H:%M")
    }
    token, raw = api_token_create(user=user, name=name)
    return {"token": raw, "name": token.name, "prefix": token.prefix}


@router.get("/me", response={200: MeOut}, summary="The authenticated user")
def me(request: HttpRequest):
    user = request.auth
    grants = user_grants(user)
    permissions = {}
    for code, module in MODULES.items():
        grant = grants.get(code)
        if grant is None or not grant.actions:
            continue
        permissions[code] = {
            "actions": [a for a in module.actions if a in grant.actions],
            "scope": str(grant.scope) if module.scoped else None,
        }
    department = user.department
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.full_name,
        "display_name": user.display_name,
        "email": user.email,
        "department": {"id": department.pk, "name": department.name} if department else None,
        "supervisor_id": user.supervisor_id,
        "roles": [{"code": r.code, "name": str(r)} for r in user.roles.all()],
        "permissions": permissions,
        "must_change_password": user.must_change_password,
    }


@router.post(
    "/users/{user_id}/deactivate",
    response={200: DeactivateOut},
    summary="Deactivate a leaving user and transfer their records",
    description=(
        "Needs the settings/configure permission. The user's sessions and API tokens are "
        "revoked at once; with `transfer_to`, every record they own moves to that user "
        "(each move audited). Returns the number of records moved per module."
    ),
)
def user_deactivate_api(request: HttpRequest, user_id: ParamInt, payload: DeactivateIn):
    actor = request.auth
    # Checked before the lookup so that callers without the right cannot probe user ids.
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()
    user = User.objects.filter(pk=id_checked(user_id)).first()
    if user is None:
        raise NotFoundError()
    transfer_to = None
    if payload.transfer_to is not None:
        transfer_to = User.objects.filter(pk=payload.transfer_to).first()
        if transfer_to is None:
            raise ValidationFailed(
                fields={"transfer_to": [_("Choose another active user to receive the records.")]}
            )
    moved = user_deactivate(actor=actor, user=user, transfer_to=transfer_to)
    return {
        "id": user.pk,
        "username": user.username,
        "is_active": user.is_active,
        "deactivated_at": user.deactivated_at,
        "transferred": moved,
    }
