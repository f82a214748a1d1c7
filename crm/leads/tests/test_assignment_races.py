"""Round-robin under load (LEAD-4): leads arriving at the same moment go to the team's members
in turn, each member getting their share, because the rule's pointer moves under
select_for_update (PostgreSQL) or the write lock the lead's numbering already holds (SQLite)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from crm.leads.models import AssignmentRule, Lead
from crm.tests_support.factories import DepartmentFactory, UserFactory
from crm.tests_support.leads import lead_make
from tests.test_write_races import VENDORS, at_once

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def vendor(request):
    if connection.vendor != request.param:
        pytest.skip(f"needs {request.param} (this run uses {connection.vendor})")
    return request.param


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_six_leads_at_once_go_two_to_each_of_three_members(vendor):
    dept = DepartmentFactory(name="并发组")
    reps = [UserFactory(department=dept, roles=["sales_rep"]) for _ in range(3)]
    AssignmentRule.objects.create(name="轮流", target="round_robin", department=dept)

    results = at_once(6, lambda i: lead_make(company=f"并发线索{i:02d}有限公司"))
    assert all(isinstance(r, Lead) for r in results), results
    owners = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert owners == {rep.pk: 2 for rep in reps}
