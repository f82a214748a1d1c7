"""Reading notifications (issue 6 §5): a person sees only their own."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from crm.core.errors import NotFoundError
from crm.notify.models import Notification

# The bell counts at most this many (and shows "99+" beyond 99): one LIMITed index range,
# whatever a neglected inbox holds.
UNREAD_COUNTED = 100


def notifications_for(*, user: Any, unread: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first; only the unread ones with `unread`."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    rows = Notification.objects.filter(recipient_id=user.pk)
    if unread:
        rows = rows.filter(is_read=False)
    return rows.order_by("-created_at", "-id")


def unread_count(*, user: Any) -> int:
    """How many unread notifications the user has, counted up to UNREAD_COUNTED (one query on
    the partial index of unread rows)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return (
        Notification.objects.filter(recipient_id=user.pk, is_read=False)
        .values("pk")[:UNREAD_COUNTED]
        .count()
    )


def unread_badge(count: int) -> str:
    """The bell's badge text: '' for none, '99+' beyond 99."""
    if count <= 0:
        return ""
    return "99+" if count > 99 else str(count)


def notification_get(*, user: Any, notification_id: Any) -> Notification:
    """One of the user's own notifications; anybody else's does not exist for them (404)."""
    try:
        pk = int(notification_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    if not 1 <= pk <= 2**63 - 1 or user is None or not user.is_authenticated:
        raise NotFoundError()
    note = Notification.objects.filter(pk=pk, recipient_id=user.pk).first()
    if note is None:
        raise NotFoundError()
    return note


def safe_link(link: str) -> str:
    """A notification's link, if it stays on this site (a path like /followups/12/); '' for
    anything else (absolute URLs, //host, javascript:), which is never followed."""
    link = (link or "").strip()
    if not link.startswith("/") or link.startswith("//") or "\\" in link:
        return ""
    if any(ord(c) < 32 for c in link):
        return ""
    return link
