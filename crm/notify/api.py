"""The notify API routes (issue 6 §6): reads through selectors, writes through services.

Every caller reads and marks only their own notifications; anyone else's is 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from crm.core.api import OutSchema, PageParams, ParamInt, id_checked, page_envelope
from crm.core.pagination import paginate
from crm.notify.models import Notification
from crm.notify.selectors import notification_get, notifications_for, safe_link, unread_count
from crm.notify.services import notification_mark_read, notifications_mark_all_read

router = Router(tags=["notify"])


class NotificationOut(OutSchema):
    id: int
    kind: str = Field(description="What it is about, e.g. followup_due, followup_overdue.")
    text: str
    link: str = Field(description="A path on this site to open, or empty.")
    is_read: bool
    read_at: dt.datetime | None
    created_at: dt.datetime


class NotificationPageOut(OutSchema):
    items: list[NotificationOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None
    unread_count: int = Field(description="Unread notifications, counted up to 100.")


class NotificationListParams(PageParams):
    unread: Literal["1", "0", "true", "false"] | None = Field(
        default=None, description="1 (or true): only the unread ones."
    )


class ReadAllOut(OutSchema):
    updated: int = Field(description="How many notifications were marked read.")


def notification_out(note: Notification) -> dict[str, Any]:
    return {
        "id": note.pk,
        "kind": note.kind,
        "text": note.text,
        "link": safe_link(note.link),
        "is_read": note.is_read,
        "read_at": note.read_at,
        "created_at": note.created_at,
    }


@router.get(
    "/notifications",
    response={200: NotificationPageOut},
    summary="The caller's notifications, newest first",
    description="`unread=1`: only the unread ones. Paginated; `unread_count` for a badge.",
)
def notification_list_api(request: HttpRequest, params: Query[NotificationListParams]):
    user = request.auth
    rows = notifications_for(user=user, unread=params.unread in ("1", "true"))
    page = paginate(rows, page=params.page, size=params.page_size)
    envelope = page_envelope(request, page, [notification_out(n) for n in page.items])
    envelope["unread_count"] = unread_count(user=user)
    return envelope


@router.post(
    "/notifications/read-all",
    response={200: ReadAllOut},
    summary="Mark all the caller's notifications read",
)
def notifications_read_all_api(request: HttpRequest):
    return {"updated": notifications_mark_all_read(actor=request.auth)}


@router.post(
    "/notifications/{notification_id}/read",
    response={200: NotificationOut},
    summary="Mark one notification read",
    description="Only the recipient's own; anybody else's is 404.",
)
def notification_read_api(request: HttpRequest, notification_id: ParamInt):
    user = request.auth
    note = notification_get(user=user, notification_id=id_checked(notification_id))
    return notification_out(notification_mark_read(actor=user, notification=note))
