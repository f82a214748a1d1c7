"""Factories for the lead assignment and conversion tests (LEAD-4): assignment rules, and bare
lead rows until the leads service's own factory (crm.tests_support.leads.lead_make) is used."""

from __future__ import annotations

import itertools
from typing import Any

from crm.core.text import name_key
from crm.core.validators import digits_only
from crm.leads.models import AssignmentRule, Lead
from crm.tests_support.factories import mobile_number

_seq = itertools.count(1)


def lead_row_make(**fields: Any) -> Lead:
    """A lead row without the leads service (no numbering rule, no SLA, no signal): unassigned
    unless `owner` is given."""
    n = next(_seq)
    values: dict[str, Any] = {
        "number": f"XST{n:08d}",
        "company": f"线索测试{n:05d}有限公司",
        "name": "王先生",
        "title": "采购经理",
        "phone": mobile_number(700000 + n),
        "email": f"lead{n}@example.com",
        "source": "trade_show",
        "grade": "B",
        **fields,
    }
    values.setdefault("company_key", name_key(values["company"])[:100])
    values.setdefault("phone_digits", digits_only(values["phone"]))
    values.setdefault("email_key", (values["email"] or "").lower())
    return Lead.objects.create(**values)


def rule_make(**fields: Any) -> AssignmentRule:
    """An active rule, last in the order unless `position` is given."""
    from django.db.models import Max

    last = AssignmentRule.objects.aggregate(m=Max("position"))["m"] or 0
    values: dict[str, Any] = {"name": f"规则{next(_seq)}", "position": last + 10, **fields}
    if values.get("department") is not None:
        values.setdefault("target", AssignmentRule.Target.ROUND_ROBIN)
    return AssignmentRule.objects.create(**values)
