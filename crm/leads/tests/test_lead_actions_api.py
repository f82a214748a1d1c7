"""The lead actions API (issue 7 §7, LEAD-4)."""

from __future__ import annotations

import pytest

from crm.customers.models import Customer
from crm.leads.models import Lead
from crm.sales.models import Opportunity, Stage
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.lead_rules import rule_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def _state(lead: Lead) -> Lead:
    lead.refresh_from_db()
    return lead


def test_assign_one_lead(org):
    lead = lead_make()
    response = api_as(org.manager).post(f"leads/{lead.pk}/assign", {"owner_id": org.rep1.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["owner_id"] == org.rep1.pk and body["id"] == lead.pk
    assert body["version"] == _state(lead).version


def test_assign_refuses_an_owner_who_cannot_work_leads(org):
    lead = lead_make()
    response = api_as(org.admin).post(f"leads/{lead.pk}/assign", {"owner_id": org.finance.pk})
    assert response.status_code == 422
    assert "owner_id" in response.json()["fields"]
    response = api_as(org.admin).post(f"leads/{lead.pk}/assign", {})
    assert response.status_code == 422


def test_assign_is_for_assigners_and_in_scope(org):
    lead = lead_make(owner=org.rep1)
    assert (
        api_as(org.rep1).post(f"leads/{lead.pk}/assign", {"owner_id": org.rep2.pk}).status_code
        == 403
    )
    theirs = lead_make(owner=org.rep3)
    assert (
        api_as(org.manager).post(f"leads/{theirs.pk}/assign", {"owner_id": org.rep1.pk}).status_code
        == 404
    )


def test_bulk_assign_to_a_user_and_by_the_rules(org):
    leads = [lead_make() for _ in range(3)]
    client = api_as(org.admin)
    response = client.post(
        "leads/assign", {"lead_ids": [leads[0].pk, leads[1].pk, 99999], "owner_id": org.rep1.pk}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["assigned"], body["skipped"]) == (2, 1)
    assert body["skipped_ids"] == [99999] and body["message"]
    rule_make(match_grade="B", user=org.rep2)
    response = client.post("leads/assign", {"lead_ids": [x.pk for x in leads]})
    assert (response.json()["assigned"], response.json()["skipped"]) == (1, 2)
    # The rules never reshuffle leads someone is working.
    assert [_state(x).owner for x in leads] == [org.rep1, org.rep1, org.rep2]


def test_bulk_assign_validates_the_body(org):
    client = api_as(org.admin)
    assert client.post("leads/assign", {"lead_ids": []}).status_code == 422
    assert client.post("leads/assign", {"lead_ids": "1"}).status_code == 422
    assert client.post("leads/assign", {"lead_ids": list(range(1, 502))}).status_code == 422
    assert api_as(org.rep1).post("leads/assign", {"lead_ids": [1]}).status_code == 403


def test_convert_into_a_new_customer_with_an_opportunity(org):
    lead = lead_make(owner=org.rep1)
    response = api_as(org.rep1).post(
        f"leads/{lead.pk}/convert",
        {
            "customer": {"industry": "it", "grade": "A"},
            "opportunity": {"name": "一期", "amount": "50000", "expected_close_date": "2027-06-30"},
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    customer = Customer.objects.get(pk=body["customer_id"])
    assert customer.name == lead.company and customer.grade == "A"
    assert customer.contacts.get().pk == body["contact_id"]
    opp = Opportunity.objects.get(pk=body["opportunity_id"])
    first = Stage.objects.filter(kind="open", is_active=True).order_by("position", "id").first()
    assert opp.stage == first and opp.customer == customer
    lead = _state(lead)
    assert lead.status == "converted" and lead.converted_opportunity == opp
    detail = api_as(org.rep1).get(f"leads/{lead.pk}").json()
    assert detail["converted_customer_id"] == customer.pk
    assert detail["converted_opportunity_id"] == opp.pk


def test_convert_without_opportunity_and_into_an_existing_customer(org):
    existing = customer_make(owner=org.rep1)
    lead = lead_make(owner=org.rep1)
    body = api_as(org.rep1).post(f"leads/{lead.pk}/convert", {"customer_id": existing.pk}).json()
    assert body["customer_id"] == existing.pk and body["opportunity_id"] is None
    assert existing.contacts.filter(pk=body["contact_id"], name=lead.name).exists()


def test_convert_field_errors_use_the_customers_field_names(org):
    lead = lead_make(owner=org.rep1)
    response = api_as(org.rep1).post(f"leads/{lead.pk}/convert", {"customer": {"phone": "12"}})
    assert response.status_code == 422
    assert {"industry", "phone"} <= set(response.json()["fields"])
    response = api_as(org.rep1).post(
        f"leads/{lead.pk}/convert", {"customer": {"industry": "it"}, "opportunity": {"name": ""}}
    )
    assert response.status_code == 422
    assert "opportunity.name" in response.json()["fields"]
    response = api_as(org.rep1).post(
        f"leads/{lead.pk}/convert", {"customer_id": 1, "customer": {"industry": "it"}}
    )
    assert response.status_code == 422
    assert _state(lead).status == "new"


def test_convert_duplicates_409_then_confirm(org):
    other = customer_make(owner=org.rep1, phone="13700001111")
    lead = lead_make(owner=org.rep1, phone="13700001111")
    client = api_as(org.rep1)
    response = client.post(f"leads/{lead.pk}/convert", {"customer": {"industry": "it"}})
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "duplicate_warning" and body["warnings"][0]["id"] == other.pk
    response = client.post(
        f"leads/{lead.pk}/convert", {"customer": {"industry": "it"}, "confirm_duplicates": True}
    )
    assert response.status_code == 200
    # Converted: a second conversion is refused.
    response = client.post(f"leads/{lead.pk}/convert", {"customer": {"industry": "it"}})
    assert response.status_code == 409


def test_disqualify_and_requalify(org):
    lead = lead_make(owner=org.rep1)
    client = api_as(org.rep1)
    response = client.post(f"leads/{lead.pk}/disqualify", {"reason": "其他"})
    assert response.status_code == 200
    assert response.json()["status"] == "disqualified"
    assert response.json()["disqualify_reason"] == "other"
    assert client.post(f"leads/{lead.pk}/disqualify", {"reason": "no_need"}).status_code == 409
    response = client.post(f"leads/{lead.pk}/requalify")
    assert response.status_code == 200 and response.json()["status"] == "new"
    assert response.json()["disqualify_reason"] == ""
    assert client.post(f"leads/{lead.pk}/requalify").status_code == 409


def test_qualify_answers_the_lead_as_get_does(org):
    lead = lead_make(owner=org.rep1)
    client = api_as(org.rep1)
    response = client.post(f"leads/{lead.pk}/qualify")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "qualified" and body["version"] == _state(lead).version
    assert body == client.get(f"leads/{lead.pk}").json()
    response = client.post(f"leads/{lead.pk}/qualify")
    assert response.status_code == 409
    # Disqualified and requalified: back to qualified; a disqualified lead cannot be qualified.
    assert client.post(f"leads/{lead.pk}/disqualify", {"reason": "no_need"}).status_code == 200
    assert client.post(f"leads/{lead.pk}/qualify").status_code == 409
    response = client.post(f"leads/{lead.pk}/requalify")
    assert response.status_code == 200 and response.json()["status"] == "qualified"
    # Outside the scope: 404; a converted lead: 409.
    assert api_as(org.rep3).post(f"leads/{lead.pk}/qualify").status_code == 404
    converted = lead_make(owner=org.rep1)
    client.post(f"leads/{converted.pk}/convert", {"customer": {"industry": "it"}})
    assert client.post(f"leads/{converted.pk}/qualify").status_code == 409


def test_disqualify_requires_a_reason_from_the_list(org):
    lead = lead_make(owner=org.rep1)
    client = api_as(org.rep1)
    assert client.post(f"leads/{lead.pk}/disqualify", {}).status_code == 422
    response = client.post(f"leads/{lead.pk}/disqualify", {"reason": "太忙"})
    assert response.status_code == 422 and "reason" in response.json()["fields"]
    assert _state(lead).status == "new"


def test_read_only_roles_cannot_act(org):
    lead = lead_make(owner=org.rep1)
    for path, body in (
        (f"leads/{lead.pk}/convert", {"customer": {"industry": "it"}}),
        (f"leads/{lead.pk}/disqualify", {"reason": "no_need"}),
        (f"leads/{lead.pk}/requalify", None),
        (f"leads/{lead.pk}/qualify", None),
        (f"leads/{lead.pk}/assign", {"owner_id": org.rep2.pk}),
    ):
        assert api_as(org.exec).post(path, body).status_code == 403, path
        assert api_as(org.service).post(path, body).status_code == 403, path
    assert _state(lead).status == "new"
