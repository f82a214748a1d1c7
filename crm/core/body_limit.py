"""Requests over the upload size limit answer 413 in the CRM's own format (issue 5 §2).

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE by raising RequestDataTooBig where the
body is first read. Left to Django, that becomes its bare HTML 400 page and an ERROR log with a
traceback, for what is only a client sending too much. The API turns the exception into its
JSON error body (crm/api.py); this middleware does the same for the web UI's forms.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

API_PREFIX = "/api/"


# Django's three upload limits; each is raised where the body is first parsed.
TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def too_large_message(exc: Exception | None = None) -> str:
    if isinstance(exc, TooManyFieldsSent):
        return _("The request has too many fields (at most %(count)d).") % {
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        }
    if isinstance(exc, TooManyFilesSent):
        return _("The request has too many files (at most %(count)d).") % {
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FILES
        }
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:  # no limit configured: Django never raises, but say something true
        return _("The request is too large.")
    return _("The request is too large (at most %(size)s). Send less data at a time.") % {
        "size": filesizeformat(limit)
    }


class RequestTooLargeMiddleware:
    """Read a form's body before the CSRF check does, and answer 413 if it is too large.

    Django's CsrfViewMiddleware reads request.POST of every POST it checks; an exception there
    never reaches a view's error handling. Reading it here first (it is parsed once and cached,
    so nothing is read twice) lets the UI answer with a page in its own layout and language.
    The API is left out: its views read their own bodies, and crm/api.py answers in JSON.
    Must come after the authentication and language middleware (the page shows both).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and not request.path.startswith(API_PREFIX):
            try:
                request.POST  # noqa: B018 - parsing is the point
            except TOO_LARGE as exc:
                # What Django's own handler does, so nothing later tries to parse it again.
                request._mark_post_parse_error()
                return render(
                    request,
                    "web/request_too_large.html",
                    {"message": too_large_message(exc)},
                    status=413,
                )
        return self.get_response(request)
