"""Factories for follow-ups (crm.activities) and a minimal opportunity row for their tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from crm.activities.models import FollowUp
from crm.activities.services import followup_create

_seq = itertools.count(1)


def followup_make(
    *,
    customer: Any = None,
    lead: Any = None,
    actor: Any | None = None,
    author: Any | None = None,
    ago: dt.timedelta = dt.timedelta(hours=1),
    next_in: dt.timedelta | None = None,
    **fields: Any,
) -> FollowUp:
    """Log a follow-up through the real service (validation, customer times, timeline,
    audit). `ago`: how long before now it happened; `next_in`: plan the next one that long
    from now."""
    now = timezone.now()
    who = actor or author or (customer if customer is not None else lead).owner
    data: dict[str, Any] = {
        # On a customer, or on a lead (issue 7 §1).
        **({"customer": customer.pk} if customer is not None else {"lead": lead.pk}),
        "method": "phone",
        "occurred_at": now - ago,
        "summary": f"第{next(_seq)}次电话沟通，确认需求",
        "author": (author or who).pk,
        **fields,
    }
    if next_in is not None:
        data.setdefault("next_at", now + next_in)
        data.setdefault("next_method", "visit")
        data.setdefault("next_goal", "上门演示方案")
    return followup_create(actor=who, data=data)


def followup_plan_at(followup: FollowUp, when: dt.datetime) -> FollowUp:
    """Move a plan's time, past or future, without the service's "still to come" rule (the
    way time passing moves it): for reminder and "my follow-ups" tests."""
    FollowUp.objects.filter(pk=followup.pk).update(next_at=when)
    followup.refresh_from_db()
    return followup


def opportunity_row_make(*, customer: Any, owner: Any | None = None, name: str = "") -> Any:
    """A bare opportunity row of `customer` (no sales service on this branch): enough for a
    follow-up's optional opportunity and the opportunity tab."""
    from crm.sales.models import Opportunity, Stage

    n = next(_seq)
    stage = Stage.objects.filter(kind="open").order_by("position", "id").first()
    return Opportunity.objects.create(
        number=f"SJT{n:08d}",
        name=name or f"测试商机{n}",
        customer=customer,
        owner=owner or customer.owner,
        stage=stage,
        stage_entered_at=timezone.now(),
    )
