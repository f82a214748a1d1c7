"""Sending notifications (issue 6 §5). Every sender calls `notification_send`; channels
beyond the in-app one (email, team-chat robots) plug in through `channel_register` and receive
each new notification after the transaction that made it commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from crm.notify.models import Notification

Channel = Callable[[Notification], None]
_CHANNELS: dict[str, Channel] = {}


def channel_register(name: str, deliver: Channel) -> None:
    """A delivery channel besides the in-app list; `deliver` runs on commit, once per new
    notification, and must not raise for one recipient's trouble (log and go on)."""
    _CHANNELS[name] = deliver


def notification_send(
    *, recipient: Any, kind: str, text: str, link: str = "", dedup_key: str = ""
) -> Notification | None:
    """Notify one person; with `dedup_key`, at most once per (recipient, key).

    Returns the new notification, or None when the same key was sent before (a sweep that
    runs twice sends nothing twice, even when two workers run it at the same moment: the
    unique constraint decides, inside a savepoint, so the caller's transaction goes on).
    """
    if dedup_key and Notification.objects.filter(recipient=recipient, dedup_key=dedup_key).exists():
        return None
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                recipient=recipient,
                kind=kind,
                text=text[:500],
                link=link[:300],
                dedup_key=dedup_key[:200],
            )
    except IntegrityError:
        if dedup_key:
            return None
        raise
    for deliver in _CHANNELS.values():
        transaction.on_commit(lambda deliver=deliver, note=note: deliver(note))
    return note
