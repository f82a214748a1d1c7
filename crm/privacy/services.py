"""Personal data (PIPL, issue 8 §6): every write of the privacy app.

Revealing a masked phone/email (contact_reveal) is an audited read: an AuditEntry of action
"reveal" on the record (who, when, which record, which field in `changes`, the client address
in `ip`) that never holds the value itself, so the log is no second copy of the data. Reveals
are counted per user per hour (crm.core.ratelimit) so that a script cannot read a whole list
through them; administrators are told when someone reaches the limit.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit_record
from crm.core.config import setting_get
from crm.core.errors import AppError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.ratelimit import rate_limit_hit
from crm.core.scope import user_can

logger = logging.getLogger(__name__)

KINDS = ("customer", "contact", "lead")
REVEAL_FIELDS = ("phone", "email")
REVEAL_WINDOW_SECONDS = 3600


class RevealLimited(AppError):
    """429: the user revealed their hourly share of contact details."""

    status = 429
    code = "rate_limited"
    default_message = gettext_lazy(
        "You have revealed too many contact details in the last hour. Try again later."
    )


def subject_get(*, user: Any, kind: str, record_id: Any) -> Any:
    """The customer, contact or lead `record_id` through its module's selector (the user's
    data scope: 404 outside it, as for every record)."""
    if kind == "customer":
        from crm.customers.selectors import customer_get

        return customer_get(user=user, customer_id=record_id)
    if kind == "contact":
        from crm.customers.selectors import contact_get

        return contact_get(user=user, contact_id=record_id)
    if kind == "lead":
        from crm.leads.selectors import lead_get

        return lead_get(user=user, lead_id=record_id)
    raise NotFoundError()


def _limit_alert(actor: Any, *, limit: int, now: dt.datetime) -> None:
    """Tell the administrators, once per user and window, that the user hit the limit.

    Its own transaction: the refused reveal raises afterwards, which must not roll it back.
    """
    from crm.accounts.services import configurers
    from crm.notify.services import notification_send

    bucket = int(now.timestamp()) // REVEAL_WINDOW_SECONDS
    text = _("%(user)s reached the limit of %(limit)d contact details revealed in an hour.") % {
        "user": actor.display_name,
        "limit": limit,
    }
    link = f"{reverse('settings:audit')}?action=reveal&actor={actor.pk}"
    logger.warning("contact reveal limit reached by user %s", actor.pk)
    with transaction.atomic():
        for admin in configurers():
            notification_send(
                recipient=admin,
                kind="reveal_limit",
                text=text,
                link=link,
                dedup_key=f"reveal-limit:{actor.pk}:{bucket}",
            )


def contact_reveal(
    *, actor: Any, kind: str, record_id: Any, field: Any, now: dt.datetime | None = None
) -> str:
    """The phone or email of one customer, contact or lead, in clear; logged.

    403 without customers/view_contact (the right to read contact details, leads' too), 404
    outside the actor's scope, 422 for another field, 429 over the hourly limit.
    """
    if not user_can(actor, "customers", "view_contact"):
        raise PermissionDeniedError()
    record = subject_get(user=actor, kind=kind, record_id=record_id)
    if field not in REVEAL_FIELDS:
        raise ValidationFailed(fields={"field": [_("Choose phone or email.")]})
    now = now or timezone.now()
    limit = int(setting_get("contact_reveal")["per_hour"])
    if rate_limit_hit(
        key=f"reveal:{actor.pk}", limit=limit, window_seconds=REVEAL_WINDOW_SECONDS, at=now
    ):
        _limit_alert(actor, limit=limit, now=now)
        raise RevealLimited()
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditEntry.Action.REVEAL,
            instance=record,
            # The field only, never its value: the log must not be a copy of the data.
            changes=[{"field": field, "revealed": True}],
        )
    return getattr(record, field) or ""


def reveals_of(*, instance: Any):
    """Who revealed what of one record, newest first (the per-record query)."""
    from django.contrib.contenttypes.models import ContentType

    return AuditEntry.objects.filter(
        action=AuditEntry.Action.REVEAL,
        content_type=ContentType.objects.get_for_model(instance),
        object_id=instance.pk,
    ).order_by("-created_at", "-id")


def reveals_by(*, user: Any):
    """Every reveal one user made, newest first (the per-user query)."""
    return AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL, actor=user).order_by(
        "-created_at", "-id"
    )
