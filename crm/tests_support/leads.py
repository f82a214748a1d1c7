"""Factories for leads (crm.leads)."""

from __future__ import annotations

import itertools
from typing import Any

from crm.leads.models import Lead
from crm.leads.services import lead_create

_seq = itertools.count(1)


def lead_make(
    *,
    actor: Any = None,
    owner: Any = None,
    web_form: Any = None,
    confirm_duplicates: bool = True,
    **fields: Any,
) -> Lead:
    """Create a lead through the real service (numbering, SLA deadline, derived keys, audit,
    the lead_created signal). `actor` defaults to `owner`; with neither, the lead comes in
    as from a public web form (unassigned). Distinct company, phone and email each time, and
    duplicates confirmed unless told otherwise."""
    n = next(_seq)
    data: dict[str, Any] = {
        "company": f"线索{n:05d}信息技术有限公司",
        "name": f"联系人{n}",
        "title": "采购经理",
        "phone": f"137{n:08d}",
        "email": f"lead{n}@example.com",
        "source": "trade_show",
        "grade": "B",
        "region": "east",
        "requirement": "需要一套CRM系统",
        **fields,
    }
    if owner is not None:
        data.setdefault("owner_id", owner.pk)
    who = actor if actor is not None else owner
    return lead_create(
        actor=who, data=data, web_form=web_form, confirm_duplicates=confirm_duplicates
    )
