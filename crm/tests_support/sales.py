"""Factories for the opportunities module's tests: records made through the real services
(numbering, stage history, pipeline totals, audit, timeline)."""

from __future__ import annotations

import itertools
from typing import Any

from crm.accounts.models import User
from crm.customers.models import Customer
from crm.sales.models import Opportunity, Stage
from crm.sales.services import opportunity_create
from crm.tests_support.factories import customer_make

_seq = itertools.count(1)


def opportunity_make(
    *,
    owner: User,
    customer: Customer | None = None,
    actor: User | None = None,
    name: str | None = None,
    **fields: Any,
) -> Opportunity:
    """Create an opportunity through opportunity_create; a customer of the same owner is made
    when none is given."""
    n = next(_seq)
    if customer is None:
        customer = customer_make(owner=owner)
    data = {
        "customer_id": customer.pk,
        "name": name or f"测试商机{n:04d}",
        "amount": "100000.00",
        "owner_id": owner.pk,
        **fields,
    }
    return opportunity_create(actor=actor or owner, data=data)


def stage(code: str) -> Stage:
    """A seeded stage by its code: initial, needs, proposal, negotiation, contract, paid, lost."""
    return Stage.objects.get(code=code)
