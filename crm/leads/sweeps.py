"""The leads' clocks as of a moment (LEAD-3, issue 7 §3, §7): the first-contact SLA and the
follow-up cadence after it. Set-based, like the customers' (crm.customers.clocks).

`lead_sla_sweep` stores every open lead's `sla_state` as of `now` (the rule of
crm.leads.clocks.lead_sla_state_at, spelled as UPDATEs over `lead_sla_due_idx`), reminds the
owner once when the deadline is near and tells the owner and the owner's supervisor once when
it has passed. A notice belongs to one deadline: `sla_reminded_at` / `sla_breach_notified_at`
older than the current deadline mean a notice for an earlier one (the grade changed), and the
dedup key holds the deadline, so a re-run, or two workers at once, send nothing twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core.config import setting_get
from crm.customers.clocks import GRADES, batched_update, cadence_intervals
from crm.leads.models import OPEN_STATUSES, Lead, SlaState

# Breaches older than this get their state stored but no notice (an outage's backlog is on
# the lead list, not worth a burst of notifications), as for follow-up reminders.
BREACH_NOTICE_WINDOW = dt.timedelta(days=7)
LIVE = Q(deleted_at__isnull=True)
# The condition of lead_sla_due_idx: live, not contacted yet, with a deadline.
SLA_OPEN = LIVE & Q(first_contacted_at__isnull=True, first_contact_due_at__isnull=False)


def lead_link(lead_id: int) -> str:
    """The lead's page, once leads' pages exist (leads:detail), else the follow-up page."""
    try:
        return reverse("leads:detail", args=[lead_id])
    except NoReverseMatch:
        return reverse("activities:overdue")


def _sla_rows() -> QuerySet[Lead]:
    return Lead.objects.filter(SLA_OPEN)


def lead_sla_states_store(*, now: dt.datetime) -> int:
    """The state of every lead on the SLA clock as of `now`; rows changed."""
    soon = dt.timedelta(hours=float(setting_get("lead_sla_due_soon_hours")))
    open_rows = _sla_rows().filter(status__in=OPEN_STATUSES)
    changed = batched_update(
        open_rows.filter(first_contact_due_at__lte=now).exclude(sla_state=SlaState.BREACHED),
        sla_state=SlaState.BREACHED,
    )
    changed += batched_update(
        open_rows.filter(
            first_contact_due_at__gt=now, first_contact_due_at__lte=now + soon
        ).exclude(sla_state=SlaState.DUE_SOON),
        sla_state=SlaState.DUE_SOON,
    )
    changed += batched_update(
        open_rows.filter(first_contact_due_at__gt=now + soon).exclude(sla_state=SlaState.ON_TIME),
        sla_state=SlaState.ON_TIME,
    )
    # Converted or disqualified before the first contact: off the clock.
    changed += batched_update(
        _sla_rows().exclude(status__in=OPEN_STATUSES).exclude(sla_state=SlaState.NONE),
        sla_state=SlaState.NONE,
    )
    return changed


def _when(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment, timezone.get_default_timezone()):%Y-%m-%d %H:%M}"


def sla_dedup_key(lead: Any, stage: str) -> str:
    return f"lead_sla:{lead.pk}:{lead.first_contact_due_at.isoformat()}:{stage}"


def _notice_rows(queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    return (
        queryset.select_related("owner", "owner__supervisor")
        .only(
            "id",
            "number",
            "company",
            "name",
            "first_contact_due_at",
            "owner__id",
            "owner__is_active",
            "owner__username",
            "owner__full_name",
            "owner__first_name",
            "owner__last_name",
            "owner__supervisor__id",
            "owner__supervisor__is_active",
        )
        .order_by("first_contact_due_at", "id")
    )


def lead_sla_notices_send(*, now: dt.datetime, batch: int = 500) -> int:
    """Due-soon reminders to owners, breach notices to owners and their supervisors; each
    once per lead and deadline. Returns the notices sent."""
    from crm.notify.services import notification_send

    soon = dt.timedelta(hours=float(setting_get("lead_sla_due_soon_hours")))
    open_rows = _sla_rows().filter(status__in=OPEN_STATUSES, owner__isnull=False)
    due_soon = open_rows.filter(
        Q(sla_reminded_at__isnull=True) | Q(sla_reminded_at__lt=F("first_contact_due_at") - soon),
        first_contact_due_at__gt=now,
        first_contact_due_at__lte=now + soon,
        owner__is_active=True,
    )
    breached = open_rows.filter(
        Q(sla_breach_notified_at__isnull=True)
        | Q(sla_breach_notified_at__lt=F("first_contact_due_at")),
        first_contact_due_at__lte=now,
        first_contact_due_at__gt=now - BREACH_NOTICE_WINDOW,
    )
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        while True:
            leads = list(_notice_rows(due_soon)[:batch])
            with transaction.atomic():
                for lead in leads:
                    note = notification_send(
                        recipient=lead.owner,
                        kind="lead_sla_due",
                        text=_(
                            "First contact due soon: lead %(number)s %(company)s (%(name)s), "
                            "by %(when)s."
                        )
                        % {
                            "number": lead.number,
                            "company": lead.company,
                            "name": lead.name,
                            "when": _when(lead.first_contact_due_at),
                        },
                        link=lead_link(lead.pk),
                        dedup_key=sla_dedup_key(lead, "soon"),
                    )
                    sent += note is not None
                Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(sla_reminded_at=now)
            if len(leads) < batch:
                break
        while True:
            leads = list(_notice_rows(breached)[:batch])
            with transaction.atomic():
                for lead in leads:
                    owner = lead.owner
                    values = {
                        "number": lead.number,
                        "company": lead.company,
                        "name": lead.name,
                        "when": _when(lead.first_contact_due_at),
                        "owner": owner.display_name,
                    }
                    recipients = [owner] if owner.is_active else []
                    supervisor = owner.supervisor
                    if supervisor is not None and supervisor.is_active:
                        recipients.append(supervisor)
                    for recipient in recipients:
                        text = (
                            _(
                                "First contact overdue: lead %(number)s %(company)s (%(name)s) "
                                "was due %(when)s."
                            )
                            if recipient is owner
                            else _(
                                "First contact overdue: lead %(number)s %(company)s (%(name)s) "
                                "of %(owner)s was due %(when)s."
                            )
                        ) % values
                        note = notification_send(
                            recipient=recipient,
                            kind="lead_sla_breached",
                            text=text,
                            link=lead_link(lead.pk),
                            dedup_key=sla_dedup_key(lead, "breach"),
                        )
                        sent += note is not None
                Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(
                    sla_breach_notified_at=now
                )
            if len(leads) < batch:
                break
    return sent


def lead_sla_sweep(*, now: dt.datetime) -> int:
    """The `lead_sla` sweep: states as of `now`, then the notices; returns rows changed plus
    notices sent."""
    return lead_sla_states_store(now=now) + lead_sla_notices_send(now=now)


# --- cadence after the first contact (LEAD-3, seed 004) --------------------------------------


def lead_cadence_base() -> Coalesce:
    return Coalesce(F("last_followup_at"), F("assigned_at"), F("created_at"))


def leads_cadence_sweep(*, now: dt.datetime, reconcile: bool = True) -> int:
    """Store every open, assigned lead's cadence state as of `now` (setting
    "lead_cadence_days"; a grade set to None has no clock); rows changed. `reconcile`: as
    for customers (crm.customers.clocks.customers_cadence_sweep)."""
    intervals = cadence_intervals("lead_cadence_days")
    on_clock = Lead.objects.filter(LIVE, owner__isnull=False, status__in=OPEN_STATUSES)
    overdue_rows = Lead.objects.filter(LIVE, followup_overdue_since__isnull=False)
    changed = 0
    for grade in GRADES:
        interval = intervals[grade]
        if interval is None:
            changed += batched_update(overdue_rows.filter(grade=grade), followup_overdue_since=None)
            continue
        cutoff = now - interval
        due = ExpressionWrapper(lead_cadence_base() + Value(interval), output_field=DateTimeField())
        changed += batched_update(
            on_clock.filter(followup_overdue_since__isnull=True, grade=grade)
            .alias(base=lead_cadence_base())
            .filter(base__lt=cutoff),
            order=("base",),
            followup_overdue_since=due,
        )
        graded = overdue_rows.filter(grade=grade).alias(base=lead_cadence_base())
        changed += batched_update(
            graded.filter(base__gte=cutoff), order=("base",), followup_overdue_since=None
        )
        if not reconcile:
            continue
        changed += batched_update(
            graded.filter(base__lt=cutoff).alias(due=due).exclude(followup_overdue_since=F("due")),
            followup_overdue_since=due,
        )
    # Off the clock: unassigned, converted or disqualified.
    changed += batched_update(
        overdue_rows.filter(Q(owner__isnull=True) | ~Q(status__in=OPEN_STATUSES)),
        followup_overdue_since=None,
    )
    return changed
