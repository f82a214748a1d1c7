"""The notifications page (issue 6 §5): the user's own notifications, all or unread, marking
read one by one or all at once (HTMX), and opening one (marked read, then its link)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from crm.core.pagination import paginate
from crm.notify.context_processors import Bell, bell_for
from crm.notify.selectors import notification_get, notifications_for, safe_link
from crm.notify.services import notification_mark_read, notifications_mark_all_read
from crm.web.views_support import is_htmx, query_url, record_view, render_page

PAGE_SIZE = 20


def _show(source: Any) -> str:
    return "unread" if source.get("show") == "unread" else "all"


def _list_response(request: HttpRequest, *, source: Any, oob: bool = False) -> HttpResponse:
    show = _show(source)
    page = paginate(
        notifications_for(user=request.user, unread=show == "unread"),
        page=source.get("page"),
        size=PAGE_SIZE,
    )
    keep = {"show": show} if show == "unread" else {}
    context = {
        "page": page,
        "show": show,
        "bell": bell_for(request),
        "keep_query": urlencode(keep),
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
        "previous_url": (
            query_url(request, page=page.previous_number) if page.has_previous else ""
        ),
        "oob": oob,
    }
    template = "notify/list.html"
    if is_htmx(request):
        template += "#results"
    return render_page(request, template, context)


@record_view()
@require_GET
def notification_list_view(request: HttpRequest) -> HttpResponse:
    return _list_response(request, source=request.GET)


def _back(request: HttpRequest) -> HttpResponse:
    show = _show(request.GET)
    url = reverse("notify:list") + ("?show=unread" if show == "unread" else "")
    return redirect(url)


def _after_write(request: HttpRequest) -> HttpResponse:
    # The count changed: a fresh bell for the answer (and the top bar's, out of band).
    request._notify_bell = Bell(request.user)
    if is_htmx(request):
        return _list_response(request, source=request.GET, oob=True)
    return _back(request)


@record_view()
@require_POST
def notification_read_view(request: HttpRequest, pk: int) -> HttpResponse:
    note = notification_get(user=request.user, notification_id=pk)
    notification_mark_read(actor=request.user, notification=note)
    return _after_write(request)


@record_view()
@require_POST
def notifications_read_all_view(request: HttpRequest) -> HttpResponse:
    notifications_mark_all_read(actor=request.user)
    return _after_write(request)


@record_view()
@require_POST
def notification_open_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark read and go where the notification points, if that is a page of this site;
    otherwise back to the list."""
    note = notification_get(user=request.user, notification_id=pk)
    notification_mark_read(actor=request.user, notification=note)
    return redirect(safe_link(note.link) or reverse("notify:list"))
