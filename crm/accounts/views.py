"""Login, logout, password change, lockout page and the user's own API tokens."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from crm.accounts.forms import LoginForm, OwnPasswordChangeForm
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


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """Shown (HTTP 429) after too many failed logins; says when to try again."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse(
            {
                "error": "locked_out",
                "message": _(
                    "Too many failed logins. Try again in %(minutes)d minutes or ask an "
                    "administrator to unlock the account."
                )
                % {"minutes": minutes},
            },
            status=429,
        )
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)


@never_cache
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's own API tokens: create (shown once, so the page is never cached: the
    browser's back button or a shared proxy must not show the secret again), list, revoke."""
    new_token = None
    errors: dict[str, list[str]] = {}
    name = ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            _token, new_token = api_token_create(user=request.user, name=name)
            name = ""
        except ValidationFailed as exc:
            errors = exc.fields
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    return render(
        request,
        "accounts/api_tokens.html",
        {"tokens": tokens, "new_token": new_token, "errors": errors, "name": name},
    )


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("The token has been revoked."))
    return redirect("api_tokens")
