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


def test_search_finds_company_fragments_numbers_phones_pinyin_and_emails(org):
    """The customers' search (crm.core.search) on leads: every term must match, the same
    rows on SQLite and PostgreSQL (there through the stored vector first)."""
    from crm.leads.selectors import lead_search

    wanted = lead_make(
        owner=org.rep1, company="北京华科信息技术有限公司", name="王磊", phone="13812345678"
    )
    other = lead_make(owner=org.rep1, company="上海浦江数据有限公司", name="李娜")
    for q in ("华科", "北京华科", "5678", "bjhk", wanted.number.lower(), wanted.email, "华科 5678"):
        got = set(lead_search(Lead.objects.all(), q).values_list("pk", flat=True))
        assert got == {wanted.pk}, q
    assert set(lead_search(Lead.objects.all(), "华科 浦江").values_list("pk", flat=True)) == set()
    assert other.pk in set(lead_search(Lead.objects.all(), "浦江").values_list("pk", flat=True))


@pytest.mark.postgres
def test_postgresql_lead_search_uses_the_gin_index(org):
    from django.db import connection

    from crm.leads.selectors import lead_search

    if connection.vendor != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    lead_make(owner=org.rep1, company="北京华科信息技术有限公司")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    for q in ("华科", "5678", "bjhk"):
        plan = lead_search(Lead.objects.all(), q).explain()
        assert "lead_search_gin" in plan, plan
