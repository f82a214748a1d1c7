"""Follow-ups logged at the same moment on one customer (issue 6 §2, CUS-7): the customer's
last and next follow-up times end as the rows say, and of several deletes of one copy exactly
one passes. Real threads with their own connections, released together; PostgreSQL and SQLite
(a file database in tests), each run skipping the other."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.activities.services import followup_create, followup_delete
from crm.core.errors import ConflictError
from crm.customers.models import Customer
from crm.tests_support.factories import customer_make, org_build
from tests.test_write_races import VENDORS, at_once

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def vendor(request):
    if connection.vendor != request.param:
        pytest.skip(f"needs {request.param} (this run uses {connection.vendor})")
    return request.param


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_parallel_follow_ups_leave_the_customer_times_right(vendor):
    org = org_build()
    customer = customer_make(owner=org.rep1)
    now = timezone.now()

    def work(i: int) -> int:
        return followup_create(
            actor=org.rep1,
            data={
                "customer": customer.pk,
                "method": "phone",
                "summary": f"并发{i}",
                "occurred_at": now - dt.timedelta(minutes=10 * (i + 1)),
                "next_at": now + dt.timedelta(hours=i + 1),
            },
        ).pk

    results = at_once(8, work)
    assert all(isinstance(r, int) for r in results), results
    saved = Customer.objects.get(pk=customer.pk)
    assert saved.last_followup_at == now - dt.timedelta(minutes=10)
    assert saved.next_followup_at == now + dt.timedelta(hours=1)
    assert FollowUp.objects.filter(customer=customer).count() == 8


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_parallel_deletes_of_one_copy_exactly_one_passes(vendor):
    org = org_build()
    customer = customer_make(owner=org.rep1)
    followup = followup_create(
        actor=org.rep1, data={"customer": customer.pk, "method": "phone", "summary": "删"}
    )
    results = at_once(5, lambda i: followup_delete(actor=org.manager, followup=followup, version=1))
    assert sum(isinstance(r, FollowUp) for r in results) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == 4
