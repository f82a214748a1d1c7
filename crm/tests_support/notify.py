"""Notifications for tests, sent through the service like every sender does."""

from __future__ import annotations

from typing import Any

from crm.notify.models import Notification
from crm.notify.services import notification_send


def notification_make(
    *,
    recipient: Any,
    text: str = "跟进提醒：华科信息 今天 15:00 电话回访",
    link: str = "/",
    kind: str = "followup_due",
    read: bool = False,
) -> Notification:
    note = notification_send(recipient=recipient, kind=kind, text=text, link=link)
    assert note is not None
    if read:
        Notification.objects.filter(pk=note.pk).update(is_read=True)
        note.refresh_from_db()
    return note
