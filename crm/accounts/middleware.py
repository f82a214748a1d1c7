"""Send users who must change their password (ORG-1, first login) to the change form."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

ALLOWED_PREFIXES = (
    "/account/password/",
    "/account/logout/",
    "/static/",
    "/i18n/",
    "/favicon.ico",
)
API_PREFIX = "/api/"


class ForcePasswordChangeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)  # the session's user; API tokens come later
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "must_change_password", False)
            and not request.path.startswith(ALLOWED_PREFIXES)
        ):
            if request.path.startswith(API_PREFIX):
                # The browser session of such a user must not reach the data through the
                # API either (a header like "Authorization: Bearer junk" would fall back to
                # the session). The token exchange already refuses them with the same code.
                return JsonResponse(
                    {
                        "error": "password_change_required",
                        "message": _("Change your initial password in the web app first."),
                    },
                    status=403,
                )
            return redirect("password_change")
        return self.get_response(request)
