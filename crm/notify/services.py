"""Sending and reading notifications (issue 6 §5).

Every sender calls `notification_send` (inside its own transaction: a rolled-back write sends
nothing to other channels, and the in-app row rolls back with it); `notification_mark_read`
and `notifications_mark_all_read` are the recipient's own actions.

More channels (email, WeCom/DingTalk/Feishu robots) plug in without touching the senders:
a later `crm/notify/channels/email.py` defines

    def deliver_email(note: Notification) -> None:
        address = note.recipient.email
        if not address or not wants(note.recipient, "email", note.kind):
            return
        send_mail(subject=..., message=note.text + absolute(note.link), ...)

and registers it from NotifyConfig.ready(): `channel_register("email", deliver_email)`.
`deliver` runs once per new notification after the commit (a deduplicated repeat never
reaches it), must not raise for one recipient's trouble (log it and return), and should hand
slow work (SMTP, HTTP to a robot webhook) to a task (`django.tasks`) so the request that sent
the notification does not wait. Per-user choices of channels and kinds belong in a
preferences table read by each channel, not in the senders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.core.errors import NotFoundError
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


def notifications_send_many(items: list[dict[str, Any]]) -> int:
    """Many notifications in one INSERT (a sweep that tells a thousand owners at once).

    Each item has notification_send's keywords, with `recipient_id` for the recipient. Items
    whose (recipient, dedup_key) was sent before are skipped by the database (the unique
    constraint, ON CONFLICT DO NOTHING), so a re-run sends nothing twice. With a delivery
    channel registered, each goes through notification_send instead, so the channel hears
    of exactly the new ones. Returns how many were offered.
    """
    if not items:
        return 0
    if _CHANNELS:
        from crm.accounts.models import User

        users = User.objects.in_bulk({item["recipient_id"] for item in items})
        for item in items:
            recipient = users.get(item["recipient_id"])
            if recipient is not None:
                notification_send(
                    recipient=recipient,
                    kind=item["kind"],
                    text=item["text"],
                    link=item.get("link", ""),
                    dedup_key=item.get("dedup_key", ""),
                )
        return len(items)
    now = timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(
                recipient_id=item["recipient_id"],
                kind=item["kind"],
                text=item["text"][:500],
                link=item.get("link", "")[:300],
                dedup_key=item.get("dedup_key", "")[:200],
                created_at=now,
            )
            for item in items
        ],
        ignore_conflicts=True,
    )
    return len(items)


def notifications_sent(*, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (recipient id, dedup key) were sent already, in one query: a sweep that
    re-reads many candidates skips the known ones before calling notification_send (which
    still decides for the rest)."""
    pairs = [(r, k[:200]) for r, k in pairs if k]
    if not pairs:
        return set()
    # "<> ''" spelled out: the condition of the unique index (recipient, dedup_key) that
    # answers this, which PostgreSQL cannot infer from an IN list of more than 100 keys.
    found = (
        Notification.objects.filter(
            recipient_id__in={r for r, _k in pairs}, dedup_key__in={k for _r, k in pairs}
        )
        .exclude(dedup_key="")
        .values_list("recipient_id", "dedup_key")
    )
    wanted = set(pairs)
    return {pair for pair in found if pair in wanted}


@transaction.atomic
def notification_mark_read(*, actor: Any, notification: Notification) -> Notification:
    """Mark one notification read; only its recipient may (anyone else: 404, as if it did not
    exist). Marking a read one again changes nothing."""
    if actor is None or notification.recipient_id != getattr(actor, "pk", None):
        raise NotFoundError()
    if not notification.is_read:
        now = timezone.now()
        updated = Notification.objects.filter(pk=notification.pk, is_read=False).update(
            is_read=True, read_at=now
        )
        if updated:
            notification.is_read, notification.read_at = True, now
    return notification


@transaction.atomic
def notifications_mark_all_read(*, actor: Any) -> int:
    """Mark every unread notification of the actor read; returns how many changed."""
    if actor is None or not getattr(actor, "pk", None):
        return 0
    return Notification.objects.filter(recipient_id=actor.pk, is_read=False).update(
        is_read=True, read_at=timezone.now()
    )
