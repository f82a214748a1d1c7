"""Who sees which leads, and the list's filters (LEAD-1, LEAD-3; issue 7 §1)."""

from __future__ import annotations

import pytest

from crm.core.errors import NotFoundError
from crm.leads.models import Lead
from crm.leads.selectors import LeadFilters, lead_get, lead_list, leads_visible_to
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def test_scope_by_owner_and_unassigned_for_assigners(org):
    mine = lead_make(owner=org.rep1)
    theirs = lead_make(owner=org.rep3)
    free = lead_make()  # as from a web form
    assert set(leads_visible_to(org.rep1)) == {mine}
    assert set(leads_visible_to(org.manager)) == {mine, free}
    assert set(leads_visible_to(org.manager2)) == {theirs, free}
    assert set(leads_visible_to(org.admin)) == {mine, theirs, free}
    assert set(leads_visible_to(org.exec)) == {mine, theirs, free}
    assert not leads_visible_to(org.service).exists()
    assert not leads_visible_to(org.finance).exists()
    with pytest.raises(NotFoundError):
        lead_get(user=org.rep1, lead_id=free.pk)
    with pytest.raises(NotFoundError):
        lead_get(user=org.rep1, lead_id="abc")
    assert lead_get(user=org.manager, lead_id=str(free.pk)) == free


def test_filters(org):
    a = lead_make(owner=org.rep1, grade="A", source="referral")
    c = lead_make(owner=org.rep2, grade="C", source="trade_show", company="深圳蓝海贸易有限公司")
    free = lead_make(grade="B", phone="13566667777")
    Lead.objects.filter(pk=c.pk).update(status="contacted")

    def ids(**params):
        return [x.pk for x in lead_list(user=org.manager, filters=LeadFilters.from_params(params))]

    assert ids() == [free.pk, c.pk, a.pk]
    assert ids(grade="A") == [a.pk]
    assert ids(status="contacted") == [c.pk]
    assert ids(owner_id="none") == [free.pk]
    assert ids(owner_id=str(org.rep2.pk)) == [c.pk]
    assert ids(source="referral") == [a.pk]
    assert ids(sla_state="none") == [c.pk]
    assert ids(sla_state="on_time") == [free.pk, a.pk]
    assert ids(q="蓝海") == [c.pk]
    assert ids(q="szlh") == [c.pk]
    assert ids(q="6666 7777") == [free.pk]
    assert ids(q=c.number.lower()) == [c.pk]
    assert ids(sort="-created") == [a.pk, c.pk, free.pk]


def test_unknown_filter_values_are_named():
    f = LeadFilters.from_params(
        {"sla_state": "late", "grade": "Z", "owner_id": "x", "status": "new"}
    )
    assert f.invalid == {"sla_state": "late", "grade": "Z", "owner_id": "x"}
    assert f.sla_state == "" and f.status == "new"
