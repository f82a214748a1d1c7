"""The follow-ups API (issue 6 §6): fields, filters, scope (404), 403 without the module,
field-level 422, 409 on a stale version, the customer's times, constant query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.core.models import Attachment
from crm.tests_support.activities import followup_make, followup_plan_at, opportunity_row_make
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "customer_id",
    "opportunity_id",
    "contact_id",
    "author_id",
    "method",
    "occurred_at",
    "summary",
    "feedback",
    "next_action",
    "due_on",
    "next_at",
    "next_method",
    "next_goal",
    "attachment_ids",
    "version",
    "created_at",
}


def body(customer, **overrides):
    return {
        "customer_id": customer.pk,
        "method": "visit",
        "occurred_at": "2026-03-01T10:00:00+08:00",
        "summary": "上门拜访，演示了方案",
        "feedback": "希望下周报价",
        "next_action": "准备报价单",
        "due_on": "2030-03-08",
        "next_at": "2030-03-05T14:00:00+08:00",
        "next_method": "phone",
        "next_goal": "确认报价",
        **overrides,
    }


def test_create_answers_201_with_the_contract_fields_and_the_customer_follows(org):
    customer = customer_make(owner=org.rep1)
    contact = customer.contacts.first()
    api = api_as(org.rep1, lang="en")
    response = api.post("followups", body(customer, contact_id=contact.pk))
    assert response.status_code == 201, response.content
    item = response.json()
    assert set(item) >= FIELDS
    assert item["author_id"] == org.rep1.pk and item["contact_id"] == contact.pk
    assert item["method_label"] == "Visit" and item["attachment_ids"] == []
    assert item["next_at"].startswith("2030-03-05T06:00:00") or item["next_at"].startswith(
        "2030-03-05T14:00:00+08:00"
    )
    # the customer's answer carries both times
    shown = api.get(f"customers/{customer.pk}").json()
    assert shown["last_followup_at"] is not None
    assert dt.datetime.fromisoformat(shown["next_followup_at"]) == dt.datetime.fromisoformat(
        "2030-03-05T14:00:00+08:00"
    )


def test_a_future_occurred_at_is_a_422_naming_the_field(org):
    customer = customer_make(owner=org.rep1)
    api = api_as(org.rep1, lang="en")
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    response = api.post("followups", body(customer, occurred_at=future, summary=""))
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert fields["occurred_at"] == ["A follow-up cannot happen in the future."]
    assert fields["summary"] == ["Describe what was discussed."]
    # in Chinese by default
    zh = api_as(org.rep1).post("followups", body(customer, occurred_at=future))
    assert zh.status_code == 422 and "occurred_at" in zh.json()["fields"]


def test_type_errors_are_422_too(org):
    customer = customer_make(owner=org.rep1)
    api = api_as(org.rep1)
    for bad in ({"customer_id": True}, {"occurred_at": 0}, {"due_on": "2026-02-30"}):
        assert api.post("followups", body(customer, **bad)).status_code == 422


def test_a_follow_up_on_an_invisible_customer_is_refused_404(org):
    theirs = customer_make(owner=org.rep3)
    response = api_as(org.rep1).post("followups", body(theirs))
    assert response.status_code == 404
    assert not FollowUp.objects.exists()


def test_without_the_module_the_answer_is_403(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer)
    finance = api_as(org.finance)
    assert finance.get("followups").status_code == 403
    assert finance.get(f"followups/{followup.pk}").status_code == 403
    assert api_as(org.exec).post("followups", body(customer)).status_code == 403


def test_scope_rep_own_manager_team_other_team_404(org):
    mine = followup_make(customer=customer_make(owner=org.rep1))
    colleague = followup_make(customer=customer_make(owner=org.rep2))
    other = followup_make(customer=customer_make(owner=org.rep3))
    listed = {i["id"] for i in api_as(org.rep1).get("followups").json()["items"]}
    assert listed == {mine.pk}
    listed = {i["id"] for i in api_as(org.manager).get("followups").json()["items"]}
    assert listed == {mine.pk, colleague.pk}
    rep3 = api_as(org.rep3)
    assert rep3.get(f"followups/{mine.pk}").status_code == 404
    assert rep3.patch(f"followups/{mine.pk}", {"version": 1, "summary": "x"}).status_code == 404
    assert api_as(org.manager2).delete(f"followups/{mine.pk}").status_code == 404
    assert rep3.get(f"followups/{other.pk}").status_code == 200
    assert rep3.get(f"followups/{2**63 - 1}").status_code == 404


def test_filters_as_query_parameters(org):
    customer = customer_make(owner=org.rep1)
    opportunity = opportunity_row_make(customer=customer)
    a = followup_make(customer=customer, occurred_at="2026-03-01T09:00")
    b = followup_make(customer=customer, occurred_at="2026-03-02T09:00", opportunity=opportunity.pk)
    planned = followup_make(customer=customer_make(owner=org.rep1), next_in=dt.timedelta(hours=1))
    overdue = followup_make(customer=customer_make(owner=org.rep1), next_in=dt.timedelta(hours=1))
    followup_plan_at(overdue, timezone.now() - dt.timedelta(hours=1))
    api = api_as(org.manager)

    def listed(**params) -> list[int]:
        response = api.get("followups", params)
        assert response.status_code == 200, response.content
        return [i["id"] for i in response.json()["items"]]

    assert listed(customer_id=customer.pk) == [b.pk, a.pk]
    assert listed(opportunity_id=opportunity.pk) == [b.pk]
    assert set(listed(author_id=org.rep1.pk)) == {a.pk, b.pk, planned.pk, overdue.pk}
    assert listed(occurred_from="2026-03-02", occurred_to="2026-03-02") == [b.pk]
    assert listed(planned="overdue") == [overdue.pk]
    assert planned.pk in listed(planned="week") or planned.pk in listed(planned="today")
    assert api.get("followups", {"planned": "someday"}).status_code == 422
    assert api.get("followups", {"occurred_from": "0"}).status_code == 422


def test_patch_is_versioned_and_stale_is_409(org):
    followup = followup_make(customer=customer_make(owner=org.rep1))
    api = api_as(org.rep1, lang="en")
    ok = api.patch(f"followups/{followup.pk}", {"version": 1, "feedback": "很满意"})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = api.patch(f"followups/{followup.pk}", {"version": 1, "feedback": "改"})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert FollowUp.objects.get(pk=followup.pk).feedback == "很满意"


def test_patch_after_24_hours_is_403_for_the_author_200_for_the_manager(org):
    followup = followup_make(customer=customer_make(owner=org.rep1), ago=dt.timedelta(days=2))
    FollowUp.objects.filter(pk=followup.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    rep = api_as(org.rep1, lang="en")
    refused = rep.patch(f"followups/{followup.pk}", {"version": 1, "summary": "改"})
    assert refused.status_code == 403
    assert "24 hours" in refused.json()["message"]
    assert (
        api_as(org.manager).patch(f"followups/{followup.pk}", {"version": 1, "summary": "改"})
    ).status_code == 200


def test_delete_and_restore_through_the_api(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer)
    manager = api_as(org.manager)
    assert api_as(org.rep1).delete(f"followups/{followup.pk}").status_code == 403
    assert manager.delete(f"followups/{followup.pk}?version=0").status_code == 409
    assert manager.delete(f"followups/{followup.pk}?version=1").status_code == 204
    assert manager.get(f"followups/{followup.pk}").status_code == 404
    assert manager.get(f"customers/{customer.pk}").json()["last_followup_at"] is None
    restored = manager.post(f"followups/{followup.pk}/restore?version=2")
    assert restored.status_code == 200 and restored.json()["deleted_at"] is None
    assert manager.get(f"customers/{customer.pk}").json()["last_followup_at"] is not None


def test_plan_id_marks_the_plan_done(org):
    customer = customer_make(owner=org.rep1)
    plan = followup_make(customer=customer, next_in=dt.timedelta(days=1))
    api = api_as(org.rep1)
    response = api.post(
        "followups",
        {
            "customer_id": customer.pk,
            "method": "visit",
            "summary": "按计划拜访",
            "plan_id": plan.pk,
        },
    )
    assert response.status_code == 201
    earlier = api.get(f"followups/{plan.pk}").json()
    assert earlier["next_done_at"] is not None
    assert earlier["next_done_by_id"] == response.json()["id"]


def test_attachment_ids_are_the_live_attachments(org):
    followup = followup_make(customer=customer_make(owner=org.rep1))
    content_type = ContentType.objects.get_for_model(FollowUp)
    kept, binned = (
        Attachment.objects.create(
            content_type=content_type,
            object_id=followup.pk,
            customer_id=followup.customer_id,
            file=f"attachments/test/{name}",
            name=name,
            size=10,
            mime_type="application/pdf",
            deleted_at=deleted,
        )
        for name, deleted in (("报价单.pdf", None), ("旧版.pdf", timezone.now()))
    )
    item = api_as(org.rep1).get(f"followups/{followup.pk}").json()
    assert item["attachment_ids"] == [kept.pk]
    listed = api_as(org.rep1).get("followups").json()["items"][0]
    assert listed["attachment_ids"] == [kept.pk]
    assert binned.pk not in listed["attachment_ids"]


def test_the_list_query_count_does_not_grow_with_rows(org):
    customer = customer_make(owner=org.rep1)
    opportunity = opportunity_row_make(customer=customer)
    contact = customer.contacts.first()
    api = api_as(org.manager)

    def make():
        followup_make(
            customer=customer,
            opportunity=opportunity.pk,
            contact=contact.pk,
            next_in=dt.timedelta(days=1),
        )

    make()
    api.get("followups")  # warm the token's last-used stamp and the caches

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get("followups", {"page_size": 50})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["items"])

    one, rows_one = count()
    for _i in range(19):
        make()
    twenty, rows_twenty = count()
    assert (rows_one, rows_twenty) == (1, 20)
    assert one == twenty
