"""The plumbing every module's HTMX views share (DESIGN convention 6).

`record_view` turns the services' NotFoundError / PermissionDeniedError into the CRM's 404 /
403 card (inline for an HTMX request), `render_page` sets `Vary: HX-Request`, `is_htmx` tells
a partial request from a full one (a history restore is a full one).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django_htmx.http import reswap, retarget

from crm.core.errors import NotFoundError, PermissionDeniedError

VARY = ("HX-Request",)


def is_htmx(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    response = render(request, template, context, status=status)
    patch_vary_headers(response, VARY)
    return response


def error_page(
    request: HttpRequest,
    status: int,
    exc: Exception,
    *,
    back_url: str = "",
    back_label: str = "",
) -> HttpResponse:
    title = _("Not found") if status == 404 else _("Not allowed")
    context = {
        "status": status,
        "title": title,
        "message": str(exc),
        "back_url": back_url,
        "back_label": back_label,
    }
    if is_htmx(request):
        # An inline action was refused: show the notice in the page's main area instead of
        # silently doing nothing.
        response = render_page(request, "web/record_error.html#error_card", context, status=status)
        return reswap(retarget(response, "#content"), "innerHTML")
    return render_page(request, "web/record_error.html", context, status=status)


def record_view(
    back: Callable[[], tuple[str, str]] | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """login_required, plus the services' 403/404 errors rendered as the CRM's pages.

    `back` gives the (url, label) of the 404 card's way out, e.g. the module's list.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except NotFoundError as exc:
                url, label = back() if back else ("", "")
                return error_page(request, 404, exc, back_url=url, back_label=label)
            except PermissionDeniedError as exc:
                return error_page(request, 403, exc)

        return login_required(wrapper)

    return decorate


def query_url(request: HttpRequest, **changes: Any) -> str:
    """The current URL with some query parameters changed (None or '' removes one)."""
    params = request.GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"{request.path}?{encoded}" if encoded else request.path


def recycle_bin_context(request: HttpRequest, queryset: Any, *, key: str) -> dict[str, Any]:
    """A page of a module's recycle bin: the deleted records (newest deletion first, as the
    queryset orders them), each under `key` with the day it will be purged and the days left
    (the retention "recycle_bin_days"), and the links to the older and newer pages."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from crm.core.config import setting_get
    from crm.core.pagination import paginate

    days = int(setting_get("recycle_bin_days"))
    page = paginate(queryset, page=request.GET.get("page"), size=settings.CRM_PAGE_SIZE)
    now = timezone.now()
    rows = []
    for record in page.items:
        purge_on = record.deleted_at + dt.timedelta(days=days)
        rows.append({key: record, "purge_on": purge_on, "days_left": max(0, (purge_on - now).days)})
    return {
        "page": page,
        "rows": rows,
        "days": days,
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
    }
