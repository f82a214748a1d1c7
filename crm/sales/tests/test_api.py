"""The opportunities API (issue 6 §6): contract, scope, stage rules, versions, field errors."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.customers.models import Customer
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.sales import opportunity_make, stage

pytestmark = pytest.mark.django_db

FIELDS = {
    "id", "number", "name", "customer_id", "contact_id", "owner_id", "stage_id", "status",
    "amount", "probability", "expected_close_date", "description", "competitors", "source",
    "contract_no", "actual_amount", "closed_on", "lost_reason", "lost_note", "version",
    "created_at", "updated_at",
}  # fmt: skip


def test_stages_list_the_pipeline(org):
    body = api_as(org.rep1).get("stages").json()
    assert [s["name"] for s in body][:4] == ["初步接触", "需求分析", "方案提交", "商务谈判"]
    assert {"id", "name", "position", "probability", "kind"} <= set(body[0])
    assert [s["kind"] for s in body] == ["open"] * 4 + ["won", "won", "lost"]
    english = api_as(org.rep1, lang="en").get("stages").json()
    assert english[0]["name"] == "Initial contact"


def test_create_read_list_and_field_errors(org):
    customer = customer_make(owner=org.rep1)
    api = api_as(org.rep1)
    response = api.post(
        "opportunities",
        {
            "customer_id": customer.pk,
            "name": "A公司2024年Q1办公设备采购",
            "amount": "120000",
            "expected_close_date": "2027-03-31",
            "contact_id": customer.contacts.first().pk,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= FIELDS
    assert body["amount"] == "120000.00" and body["probability"] == 10
    assert body["status"] == "open" and body["stage_id"] == stage("initial").pk
    assert body["weighted_amount"] == "12000.00"
    assert api.get(f"opportunities/{body['id']}").json()["number"] == body["number"]
    page = api.get("opportunities", {"q": "办公", "status": "open"}).json()
    assert [o["id"] for o in page["items"]] == [body["id"]]
    assert page["total_approx"] == {"count": 1, "exact": True, "estimated": False}
    # field errors in the 422 body, in Chinese by default
    bad = api.post("opportunities", {"customer_id": customer.pk, "name": "", "amount": "-5"})
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"name", "amount"}
    english = api_as(org.rep1, lang="en").post(
        "opportunities", {"customer_id": customer.pk, "name": ""}
    )
    assert english.json()["fields"]["name"] == ["Enter the opportunity's name."]


def test_scope_404_and_read_only_403(org):
    theirs = opportunity_make(owner=org.rep3)
    team = opportunity_make(owner=org.rep2)
    assert api_as(org.rep1).get(f"opportunities/{theirs.pk}").status_code == 404
    assert api_as(org.rep1).get(f"opportunities/{team.pk}").status_code == 404
    assert api_as(org.manager).get(f"opportunities/{team.pk}").status_code == 200
    assert api_as(org.manager).get(f"opportunities/{theirs.pk}").status_code == 404
    service = api_as(org.service)
    assert service.get(f"opportunities/{theirs.pk}").status_code == 200
    assert (
        service.patch(f"opportunities/{theirs.pk}", {"version": 1, "name": "x"}).status_code == 403
    )
    assert (
        service.post(f"opportunities/{theirs.pk}/stage", {"stage_id": 1, "version": 1}).status_code
        == 403
    )
    assert (
        service.post("opportunities", {"customer_id": theirs.customer_id, "name": "x"}).status_code
        == 403
    )
    # a user whose roles give no opportunities at all: 403
    from crm.tests_support.factories import UserFactory

    nobody = UserFactory(roles=[])
    assert api_as(nobody).get("opportunities").status_code == 403
    assert api_as(nobody).get("pipeline").status_code == 403


def test_stage_rules_via_the_api(org):
    opp = opportunity_make(owner=org.rep1)
    api = api_as(org.rep1)
    url = f"opportunities/{opp.pk}"
    refused = api.post(f"{url}/stage", {"stage_id": stage("contract").pk, "version": 1})
    assert refused.status_code == 422 and "stage_id" in refused.json()["fields"]
    moved = api.post(f"{url}/stage", {"stage_id": stage("proposal").pk, "version": 1})
    assert moved.status_code == 200 and moved.json()["probability"] == 50
    stale = api.post(f"{url}/stage", {"stage_id": stage("needs").pk, "version": 1})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    history = api.get(f"{url}/stage-history").json()["items"]
    assert [(h["from_stage_id"], h["to_stage_id"]) for h in history] == [
        (stage("initial").pk, stage("proposal").pk),
        (None, stage("initial").pk),
    ]
    assert set(history[0]) == {
        "from_stage_id", "to_stage_id", "actor_id", "changed_at", "seconds_in_previous"
    }  # fmt: skip


def test_win_lose_reopen_and_their_errors(org):
    customer = customer_make(owner=org.rep1, status="potential")
    opp = opportunity_make(owner=org.rep1, customer=customer)
    api = api_as(org.rep1)
    url = f"opportunities/{opp.pk}"
    missing = api.post(f"{url}/win", {"version": 1})
    assert missing.status_code == 422
    assert set(missing.json()["fields"]) == {"contract_no", "actual_amount"}
    assert (
        api.post(f"{url}/win", {"contract_no": "HT", "actual_amount": 5, "version": 0}).status_code
        == 409
    )
    won = api.post(f"{url}/win", {"contract_no": "HT-9", "actual_amount": "99.5", "version": 1})
    assert won.status_code == 200
    body = won.json()
    assert body["status"] == "won" and body["actual_amount"] == "99.50"
    assert body["stage_id"] == stage("contract").pk
    assert Customer.objects.get(pk=customer.pk).status == "deal"
    # won -> won stage allowed
    paid = api.post(f"{url}/stage", {"stage_id": stage("paid").pk, "version": body["version"]})
    assert paid.status_code == 200
    reopened = api.post(f"{url}/reopen", {"version": paid.json()["version"]})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert reopened.json()["contract_no"] == ""
    v = reopened.json()["version"]
    assert api.post(f"{url}/lose", {"version": v}).json()["fields"].keys() == {"lost_reason"}
    assert api.post(f"{url}/lose", {"lost_reason": "budget", "version": v - 1}).status_code == 409
    lost = api.post(f"{url}/lose", {"lost_reason": "budget", "lost_note": "无预算", "version": v})
    assert lost.status_code == 200 and lost.json()["lost_reason"] == "budget"
    assert api.post(f"{url}/reopen", {"version": 1}).status_code == 409


def test_patch_delete_restore_and_recycle_bin(org):
    customer = customer_make(owner=org.manager)
    opp = opportunity_make(owner=org.manager, customer=customer)
    api = api_as(org.manager)
    url = f"opportunities/{opp.pk}"
    assert api.patch(url, {"version": 0, "name": "x"}).status_code == 409
    changed = api.patch(url, {"version": 1, "amount": 5000, "probability": 40})
    assert changed.status_code == 200
    assert changed.json()["amount"] == "5000.00" and changed.json()["probability_manual"]
    assert api.delete(f"{url}?version=1").status_code == 409
    assert api.delete(f"{url}?version=2").status_code == 204
    assert api.get(url).status_code == 404
    binned = api.get("recycle-bin/opportunities").json()["items"]
    assert [o["id"] for o in binned] == [opp.pk]
    assert api.post(f"{url}/restore?version=2").status_code == 409
    restored = api.post(f"{url}/restore?version=3")
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    assert api_as(org.rep1).get("recycle-bin/opportunities").status_code == 403


def test_milestones(org):
    opp = opportunity_make(owner=org.rep1)
    api = api_as(org.rep1)
    url = f"opportunities/{opp.pk}/milestones"
    bad = api.post(url, {"kind": "", "occurred_on": "2999-01-01"})
    assert bad.status_code == 422 and set(bad.json()["fields"]) == {"kind", "occurred_on"}
    made = api.post(url, {"kind": "signed", "occurred_on": "2026-01-05", "note": "签约"})
    assert made.status_code == 201 and made.json()["kind_label"] == "完成签约"
    assert [m["note"] for m in api.get(url).json()["items"]] == ["签约"]


def test_pipeline_and_forecast(org):
    opportunity_make(owner=org.rep1, amount="1000", expected_close_date="2027-03-01")
    opportunity_make(owner=org.rep3, amount="9000")
    pipe = api_as(org.rep1).get("pipeline").json()
    assert pipe[0] == {
        "stage_id": stage("initial").pk,
        "name": "初步接触",
        "probability": 10,
        "count": 1,
        "amount": "1000.00",
        "weighted_amount": "100.00",
    }
    assert len(pipe) == 4
    months = api_as(org.admin).get("forecast", {"group": "month"}).json()
    assert [(r["month"], r["amount"]) for r in months["items"]] == [
        ("2027-03", "1000.00"),
        (None, "9000.00"),
    ]
    owners = api_as(org.admin).get("forecast", {"group": "owner"}).json()["items"]
    assert [r["owner_name"] for r in owners] == ["刘洋", "李明"]
    assert api_as(org.admin).get("forecast", {"group": "x"}).status_code == 422


def test_list_queries_do_not_grow_with_rows(org):
    api = api_as(org.rep1)
    customer = customer_make(owner=org.rep1)
    opportunity_make(owner=org.rep1, customer=customer)
    api.get("opportunities")
    with CaptureQueriesContext(connection) as one:
        assert api.get("opportunities").status_code == 200
    for _ in range(19):
        opportunity_make(owner=org.rep1, customer=customer)
    with CaptureQueriesContext(connection) as twenty:
        assert len(api.get("opportunities").json()["items"]) == 20
    assert len(one.captured_queries) == len(twenty.captured_queries)
