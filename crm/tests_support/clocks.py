"""A bare lead row for the clocks' tests (until crm.tests_support.leads lands with the
services), and helpers to put records back in time."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from crm.leads.clocks import lead_first_contact_due
from crm.leads.models import Lead

_seq = itertools.count(1)


def lead_row_make(
    *, owner: Any = None, grade: str = "A", created_at: dt.datetime | None = None, **fields: Any
) -> Lead:
    """A lead as the service would store it: number, SLA deadline from the grade counted
    from `created_at` (default now), state on time or none."""
    n = next(_seq)
    created = created_at or timezone.now()
    due = fields.pop("first_contact_due_at", lead_first_contact_due(grade=grade, start=created))
    lead = Lead.objects.create(
        number=f"XS202612{n:04d}",
        company=fields.pop("company", f"线索{n:04d}科技有限公司"),
        name=fields.pop("name", f"联系人{n}"),
        grade=grade,
        owner=owner,
        assigned_at=created if owner is not None else None,
        first_contact_due_at=due,
        sla_state="on_time" if due else "none",
        company_key=f"线索{n:04d}",
        **fields,
    )
    Lead.objects.filter(pk=lead.pk).update(created_at=created)
    lead.created_at = created
    return lead


def backdate(instance: Any, **values: Any) -> Any:
    """Set columns with a plain UPDATE (no service, no version bump) and reload."""
    type(instance).objects.filter(pk=instance.pk).update(**values)
    instance.refresh_from_db()
    return instance
