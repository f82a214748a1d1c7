"""The leads API (issue 7 §7): fields, filters, writes, recycle bin, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.leads.models import Lead
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "number",
    "company",
    "name",
    "title",
    "phone",
    "email",
    "source",
    "grade",
    "status",
    "owner_id",
    "region",
    "requirement",
    "budget",
    "notes",
    "first_contact_due_at",
    "first_contacted_at",
    "sla_state",
    "converted_customer_id",
    "converted_opportunity_id",
    "disqualify_reason",
    "version",
    "created_at",
}


def test_create_read_update_delete_restore(org):
    api = api_as(org.rep1)
    res = api.post(
        "leads",
        {
            "company": "苏州新材料有限公司",
            "name": "陈静",
            "phone": "13912340000",
            "grade": "A",
            "source": "trade_show",
            "region": "east",
            "budget": "80000",
        },
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert set(body) >= FIELDS
    assert body["number"].startswith("XS") and body["status"] == "new"
    assert body["owner_id"] == org.rep1.pk and body["sla_state"] == "on_time"
    assert body["budget"] == "80000.00" and body["first_contact_due_at"]
    lead_id = body["id"]
    assert api.get(f"leads/{lead_id}").json()["id"] == lead_id
    res = api.patch(f"leads/{lead_id}", {"version": 1, "grade": "C"})
    assert res.status_code == 200 and res.json()["first_contact_due_at"] is None
    assert res.json()["sla_state"] == "none"
    assert api.patch(f"leads/{lead_id}", {"version": 1, "title": "x"}).status_code == 409
    assert api.patch(f"leads/{lead_id}", {"version": 2, "status": "qualified"}).status_code == 422
    # A rep has no delete permission; the manager has.
    assert api.delete(f"leads/{lead_id}").status_code == 403
    manager = api_as(org.manager)
    assert manager.delete(f"leads/{lead_id}").status_code == 204
    assert api.get(f"leads/{lead_id}").status_code == 404
    binned = manager.get("recycle-bin/leads").json()["items"]
    assert [x["id"] for x in binned] == [lead_id] and binned[0]["deleted_at"]
    assert api.get("recycle-bin/leads").status_code == 403
    assert manager.post(f"leads/{lead_id}/restore").status_code == 200
    assert api.get(f"leads/{lead_id}").status_code == 200


def test_validation_and_duplicates(org):
    api = api_as(org.rep1)
    res = api.post("leads", {"company": "", "name": "", "phone": "1"})
    assert res.status_code == 422
    assert {"company", "name", "phone"} <= set(res.json()["fields"])
    assert api.post("leads", {"company": "x", "name": "y", "grade": "D"}).status_code == 422
    customer = customer_make(owner=org.rep1, phone="13855556666")
    body = {"company": "另一家公司", "name": "赵", "phone": "138 5555 6666"}
    res = api.post("leads", body)
    assert res.status_code == 409
    (warning,) = res.json()["warnings"]
    assert warning["kind"] == "customer" and warning["id"] == customer.pk
    assert api.post("leads", {**body, "confirm_duplicates": True}).status_code == 201


def test_filters_and_unknown_values(org):
    a = lead_make(owner=org.rep1, grade="A")
    free = lead_make(grade="C")
    api = api_as(org.manager)

    def listed(**params):
        res = api.get("leads", params)
        assert res.status_code == 200, res.content
        return [x["id"] for x in res.json()["items"]]

    assert listed() == [free.pk, a.pk]
    assert listed(owner_id="none") == [free.pk]
    assert listed(owner_id=org.rep1.pk) == [a.pk]
    assert listed(grade="A") == [a.pk]
    assert listed(sla_state="none") == [free.pk]
    assert listed(status="new", q=a.company) == [a.pk]
    assert listed(source="trade_show", sort="-created") == [a.pk, free.pk]
    for bad in ({"sla_state": "late"}, {"grade": "Z"}, {"owner_id": "x"}, {"status": "won"}):
        res = api.get("leads", bad)
        assert res.status_code == 422, bad
        assert set(res.json()["fields"]) == set(bad)
    # A rep sees neither the unassigned lead nor the filter's answer for it.
    assert [
        x["id"] for x in api_as(org.rep1).get("leads", {"owner_id": "none"}).json()["items"]
    ] == []


def test_permissions(org):
    lead = lead_make(owner=org.rep1)
    assert api_as(org.service).get("leads").status_code == 403
    assert api_as(org.rep2).get(f"leads/{lead.pk}").status_code == 404
    assert api_as(org.exec).get(f"leads/{lead.pk}").status_code == 200
    assert api_as(org.exec).post("leads", {"company": "a", "name": "b"}).status_code == 403
    assert (
        api_as(org.rep1)
        .post(
            "leads",
            {"company": "外部公司", "name": "b", "phone": "13900009999", "owner_id": org.rep2.pk},
        )
        .status_code
        == 422
    )


def test_the_list_query_count_does_not_grow_with_rows(org):
    api = api_as(org.manager)
    lead_make(owner=org.rep1)
    api.get("leads")  # warm the token's last-used stamp and the caches

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get("leads", {"page_size": 50})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["items"])

    one, rows_one = count()
    for i in range(9):
        lead_make(owner=org.rep2 if i % 2 else org.rep1)
        lead_make()
    ten, rows_ten = count()
    assert (rows_one, rows_ten) == (1, 19)
    assert one == ten
    assert Lead.objects.count() == 19
