"""Approvals under parallel clicks (issue 7 §5): of 5 identical lifecycle requests sent with the
same version exactly one becomes a pending approval (the others: 409), and of 5 parallel
approvals of one request exactly one applies the change (the others: 409, decided). Real
threads with their own connections, as in tests/test_write_races.py."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from crm.accounts.models import User
from crm.core.approvals import approval_approve
from crm.core.models import Approval
from crm.customers.lifecycle import customer_lifecycle_change
from crm.customers.models import Customer
from crm.tests_support.factories import customer_make, org_build
from tests.test_write_races import VENDORS, at_once, outcome

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def vendor(request):
    if connection.vendor != request.param:
        pytest.skip(f"needs {request.param} (this run uses {connection.vendor})")
    return request.param


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_parallel_requests_make_one_pending_approval(vendor):
    org = org_build()
    customer = customer_make(owner=org.rep1, status="deal")

    def work(_index: int):
        rep = User.objects.get(pk=org.rep1.pk)
        return customer_lifecycle_change(
            actor=rep,
            customer=Customer.objects.get(pk=customer.pk),
            status="lost",
            reason="competitor",
            version=customer.version,
        )

    results = Counter(outcome(r) for r in at_once(5, work))
    assert results == {"saved": 1, "ConflictError": 4}, results
    assert Approval.objects.filter(state="pending").count() == 1
    assert Customer.objects.get(pk=customer.pk).status == "deal"


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_parallel_approvals_apply_once(vendor):
    org = org_build()
    customer = customer_make(owner=org.rep1, status="deal")
    _c, approval = customer_lifecycle_change(
        actor=org.rep1, customer=customer, status="lost", reason="other", version=1
    )

    def work(_index: int):
        manager = User.objects.get(pk=org.manager.pk)
        return approval_approve(actor=manager, approval=Approval.objects.get(pk=approval.pk))

    results = Counter(outcome(r) for r in at_once(5, work))
    assert results == {"saved": 1, "ConflictError": 4}, results
    lost = Customer.objects.get(pk=customer.pk)
    assert lost.status == "lost" and lost.version == 2
