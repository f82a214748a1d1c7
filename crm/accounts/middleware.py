"""Send users who must change their password (ORG-1, first login) to the change form."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

ALLOWED_PREFIXES = (
    "/account/password/",
    "/account/logout/",
    "/static/",
    "/i18n/",
    "/favicon.ico",
    # A web form's public page and endpoint act for no user (issue 7 §2).
    "/f/",
    "/api/v1/public/",
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


SESSION_SEEN_KEY = "_crm_seen"
SESSION_REFRESH_SECONDS = 60


class SessionIdleRefreshMiddleware:
    """Push a logged-in session's idle deadline forward at most once a minute.

    Saving the session on every request (SESSION_SAVE_EVERY_REQUEST) costs a write to the
    session store per page and per API call made with the browser session. Instead the
    session remembers when it was last refreshed and is saved (new expiry, SESSION_COOKIE_AGE
    from now, and a new cookie) only when that is over a minute ago: the idle timeout stays
    30 minutes after the last refresh, i.e. 29 to 30 minutes after the last request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.session_key is None or SESSION_KEY not in session:
            return response  # no logged-in session (API tokens, the login page)
        now = int(time.time())
        seen = session.get(SESSION_SEEN_KEY)
        if not isinstance(seen, int) or not 0 <= now - seen < SESSION_REFRESH_SECONDS:
            session[SESSION_SEEN_KEY] = now  # marks it modified: SessionMiddleware saves it
        return response
