"""Requests over the upload size limit answer 413 in the CRM's own format (issue 5 §2).

Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE by raising RequestDataTooBig where the
body is first read. Left to Django, that becomes its bare HTML 400 page and an ERROR log with a
traceback, for what is only a client sending too much. The API turns the exception into its
JSON error body (crm/api.py); this middleware does the same for the web UI's forms.

Files are another matter (issue 6 §3): Django leaves file parts out of that limit and would
spool any amount of them to disk. Here a POST whose declared length passes the body limit is
answered 413 at once, before a byte of it is read, unless its view takes attachments
(`accepts_uploads`, or an API route in `api_upload_path_register`): those may carry files up
to the attachment limit an administrator sets (`attachment_max_mb`), which crm.core.files
checks again for every file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

API_PREFIX = "/api/"
_API_UPLOAD_PATHS: set[str] = set()


def accepts_uploads(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a web view whose form carries attachments (outermost decorator).

    Its requests may be as large as crm.core.files.FILES_PER_UPLOAD files of the attachment
    limit; a view may also set `crm_too_large(request, message) -> HttpResponse` to answer a
    too-large request in its own page (the attachments panel does)."""
    view.crm_accepts_uploads = True  # type: ignore[attr-defined]
    return view


def api_upload_path_register(path: str) -> None:
    """An API route (exact path) that takes one attachment in a multipart body."""
    _API_UPLOAD_PATHS.add(path)


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except (TypeError, ValueError):
        return 0


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


def _upload_too_large_message() -> str:
    from crm.core.files import attachment_too_large_message

    return attachment_too_large_message()


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

    def _too_long(self, request: HttpRequest) -> HttpResponse | None:
        """413 for a body declared longer than its view accepts, before reading it."""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = _declared_length(request)
        if limit is None or length <= limit:
            return None
        from crm.core.files import FILES_PER_UPLOAD, attachment_max_bytes

        if request.path.startswith(API_PREFIX):
            if request.path not in _API_UPLOAD_PATHS or length <= attachment_max_bytes() + limit:
                return None  # other API bodies: Django's limit, answered by crm/api.py
            return JsonResponse(
                {"error": "too_large", "message": _upload_too_large_message()}, status=413
            )
        try:
            view: Any = resolve(request.path_info).func
        except Resolver404:
            return None
        if not getattr(view, "crm_accepts_uploads", False):
            # A form without files is refused by Django's own check anyway; one with files
            # has no business carrying megabytes to a view that ignores them.
            return self._page(request, too_large_message())
        if length <= FILES_PER_UPLOAD * attachment_max_bytes() + limit:
            return None
        message = _upload_too_large_message()
        answer = getattr(view, "crm_too_large", None)
        if answer is not None:
            return answer(request, message)
        return self._page(request, message)

    @staticmethod
    def _page(request: HttpRequest, message: str) -> HttpResponse:
        request._mark_post_parse_error()
        return render(request, "web/request_too_large.html", {"message": message}, status=413)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            refused = self._too_long(request)
            if refused is not None:
                return refused
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
