"""The first-contact SLA of a lead (LEAD-3): its deadline and its state at a moment.

The sweep stores `sla_state` as of its run; the services call these at once when they
settle or move the clock (creation, a grade change, the first contact).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from crm.core.config import setting_get
from crm.leads.models import OPEN_STATUSES, SlaState


def lead_first_contact_due(*, grade: str, start: dt.datetime) -> dt.datetime | None:
    """The deadline for the first contact of a lead of `grade` that arrived at `start`."""
    hours = setting_get("lead_sla_hours").get(grade)
    if not hours:
        return None
    return start + dt.timedelta(hours=float(hours))


def lead_sla_state_at(*, lead: Any, now: dt.datetime) -> str:
    """on_time / due_soon / breached / met / none for `lead` at `now`."""
    if lead.first_contacted_at is not None:
        return SlaState.MET
    if lead.first_contact_due_at is None or lead.status not in OPEN_STATUSES:
        return SlaState.NONE
    if now >= lead.first_contact_due_at:
        return SlaState.BREACHED
    soon = dt.timedelta(hours=float(setting_get("lead_sla_due_soon_hours")))
    if now >= lead.first_contact_due_at - soon:
        return SlaState.DUE_SOON
    return SlaState.ON_TIME
