"""Login, logout, password change, lockout page and the user's own API tokens."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from crm.accounts.forms import LoginForm, OwnPasswordChangeForm
from crm.accounts.lockout import LOCKED_ACCOUNT, LOCKED_ADDRESS, LOCKED_AT_ADDRESS
from crm.accounts.models import ApiToken
from crm.accounts.services import api_token_create, api_token_revoke, user_password_changed
from crm.core.errors import ValidationFailed


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    form_class = OwnPasswordChangeForm

    def form_valid(self, form):
        # The new password, the cleared "must change" flag and the audit entry land together.
        with transaction.atomic():
            response = super().form_valid(form)
            user_password_changed(user=self.request.user)
        update_session_auth_hash(self.request, self.request.user)
        messages.success(self.request, _("Your password has been changed."))
        return response

    def get_success_url(self) -> str:
        return "/"


def lockout_message(request: HttpRequest) -> tuple[str, int]:
    """What a refused login is told, and the minutes it may have to wait: the message names
    what is locked (this username here, this address, or the account everywhere), so that
    nobody is sent to an administrator who cannot help."""
    reason = getattr(request, "crm_lockout", LOCKED_AT_ADDRESS)
    if reason == LOCKED_ACCOUNT:
        minutes = int(settings.CRM_LOGIN_ACCOUNT_WINDOW.total_seconds() // 60)
        message = _(
            "This account is locked after many failed logins from several addresses; the "
            "administrators have been told. Ask one of them to unlock it, or try again in "
            "%(minutes)d minutes."
        )
    elif reason == LOCKED_ADDRESS:
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        message = _(
            "Too many failed logins from your network address. Try again in %(minutes)d minutes."
        )
    else:
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        message = _(
            "Too many failed logins. Try again in %(minutes)d minutes or ask an "
            "administrator to unlock the account."
        )
    return message % {"minutes": minutes}, minutes


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """Shown (HTTP 429) after too many failed logins; says what is locked and for how long."""
    message, _minutes = lockout_message(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "locked_out", "message": message}, status=429)
    return render(request, "accounts/locked_out.html", {"message": message}, status=429)


# The raw value of a token just created waits here for the page the POST redirects to.
NEW_TOKEN_SESSION_KEY = "crm_api_token_new"


@never_cache
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's own API tokens: create, list, revoke.

    Creating is post/redirect/get, so reloading the page never creates another token; the raw
    value rides in the server-side session to the next page view and is dropped there, so it
    is shown exactly once. The page is never cached: the browser's back button or a shared
    proxy must not show the secret again.
    """
    errors: dict[str, list[str]] = {}
    name = ""
    status = 200
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            _token, raw = api_token_create(user=request.user, name=name)
        except ValidationFailed as exc:
            errors = exc.fields
            status = 422
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = raw
            return redirect("api_tokens")
    new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return render(
        request,
        "accounts/api_tokens.html",
        {"tokens": tokens, "new_token": new_token, "errors": errors, "name": name},
        status=status,
    )


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("The token has been revoked."))
    return redirect("api_tokens")
