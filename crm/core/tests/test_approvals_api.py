"""The approvals API and the lifecycle route (issue 7 §7): fields, filters, status codes,
visibility, and a constant number of queries for the list."""

from __future__ import annotations

import pytest

from crm.core.config import setting_set
from crm.core.models import Approval
from crm.customers.models import Customer
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "kind",
    "object_type",
    "object_id",
    "requested_by_id",
    "approver_ids",
    "state",
    "payload",
    "comment",
    "decided_by_id",
    "decided_at",
    "created_at",
}


def ask_lost(org, customer=None, user=None):
    customer = customer or customer_make(owner=org.rep1, status="deal")
    response = api_as(user or org.rep1).post(
        f"customers/{customer.pk}/lifecycle",
        {"status": "lost", "reason": "competitor", "version": customer.version},
    )
    assert response.status_code == 202, response.content
    return customer, response.json()["approval_id"]


def test_lifecycle_applies_with_200_and_the_customer(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).post(
        f"customers/{customer.pk}/lifecycle", {"status": "intent", "version": customer.version}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "intent" and body["version"] == customer.version + 1


def test_lifecycle_waits_with_202_and_the_approval_id(org):
    customer, approval_id = ask_lost(org)
    assert Customer.objects.get(pk=customer.pk).status == "deal"
    body = api_as(org.manager).get(f"approvals/{approval_id}").json()
    assert set(body) == FIELDS
    assert body["kind"] == "customer_lifecycle" and body["object_type"] == "customer"
    assert body["object_id"] == customer.pk and body["requested_by_id"] == org.rep1.pk
    assert body["approver_ids"] == [org.manager.pk] and body["state"] == "pending"
    assert body["payload"]["from"] == "deal" and body["payload"]["to"] == "lost"
    assert body["decided_by_id"] is None and body["decided_at"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "lost", "version": 1}, 422),  # no reason
        ({"status": "lost", "reason": "nope", "version": 1}, 422),
        ({"status": "zzz", "version": 1}, 422),
        ({"status": "intent"}, 422),  # no version
        ({"status": "intent", "version": 99}, 409),
    ],
)
def test_lifecycle_refuses_bad_input(org, body, status):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).post(f"customers/{customer.pk}/lifecycle", body)
    assert response.status_code == status, response.content


def test_lifecycle_second_request_is_409_with_the_pending_one(org):
    customer, approval_id = ask_lost(org)
    response = api_as(org.rep1).post(
        f"customers/{customer.pk}/lifecycle",
        {"status": "lost", "reason": "other", "version": customer.version},
    )
    assert response.status_code == 409
    assert response.json()["approval_id"] == approval_id


def test_lifecycle_without_an_approver_is_422_with_a_clear_message(org):
    org.rep3.supervisor = None
    org.rep3.save()
    org.manager2.department = None
    org.manager2.save()
    customer = customer_make(owner=org.rep3, status="deal")
    response = api_as(org.rep3).post(
        f"customers/{customer.pk}/lifecycle",
        {"status": "lost", "reason": "other", "version": customer.version},
    )
    assert response.status_code == 422
    assert "approver" in response.json()["fields"]


def test_patch_refuses_a_status_change(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).patch(
        f"customers/{customer.pk}", {"status": "intent", "version": customer.version}
    )
    assert response.status_code == 422
    assert "lifecycle" in response.json()["fields"]["status"][0]


def test_approve_reject_withdraw_and_their_errors(org):
    customer, approval_id = ask_lost(org)
    rep, manager = api_as(org.rep1), api_as(org.manager)
    # not an approver: 403; someone who cannot even see it: 404
    assert rep.post(f"approvals/{approval_id}/approve", {}).status_code == 403
    assert api_as(org.rep2).post(f"approvals/{approval_id}/approve", {}).status_code == 404
    assert manager.post(f"approvals/{approval_id}/withdraw").status_code == 403
    # reject needs a comment
    assert manager.post(f"approvals/{approval_id}/reject", {"comment": ""}).status_code == 422
    response = manager.post(f"approvals/{approval_id}/approve", {"comment": "同意"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "approved" and body["decided_by_id"] == org.manager.pk
    assert body["comment"] == "同意" and body["decided_at"]
    assert Customer.objects.get(pk=customer.pk).status == "lost"
    # decided: 409 for everything
    assert manager.post(f"approvals/{approval_id}/approve", {}).status_code == 409
    assert manager.post(f"approvals/{approval_id}/reject", {"comment": "x"}).status_code == 409
    assert rep.post(f"approvals/{approval_id}/withdraw").status_code == 409


def test_withdraw_by_the_requester(org):
    _customer, approval_id = ask_lost(org)
    response = api_as(org.rep1).post(f"approvals/{approval_id}/withdraw")
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"


def test_stale_apply_is_409_apply_failed_and_stays_pending(org):
    customer, approval_id = ask_lost(org)
    Customer.objects.filter(pk=customer.pk).update(status="loyal")
    response = api_as(org.manager).post(f"approvals/{approval_id}/approve", {})
    assert response.status_code == 409 and response.json()["error"] == "apply_failed"
    assert Approval.objects.get(pk=approval_id).state == "pending"


def test_list_filters_state_and_mine(org):
    _c, first = ask_lost(org)
    _c, second = ask_lost(org)
    api_as(org.rep1).post(f"approvals/{second}/withdraw")
    manager = api_as(org.manager)
    ids = [
        a["id"] for a in manager.get("approvals", {"state": "pending", "mine": "1"}).json()["items"]
    ]
    assert ids == [first]
    ids = [a["id"] for a in manager.get("approvals").json()["items"]]
    assert ids == [second, first]
    rep = api_as(org.rep1)
    assert [a["id"] for a in rep.get("approvals", {"mine": "1"}).json()["items"]] == []
    assert [a["id"] for a in rep.get("approvals", {"state": "withdrawn"}).json()["items"]] == [
        second
    ]
    assert api_as(org.rep2).get("approvals").json()["items"] == []
    assert manager.get("approvals", {"state": "zzz"}).status_code == 422


def test_list_costs_the_same_queries_for_one_row_or_many(org, django_assert_num_queries):
    setting_set(key="lifecycle_approval", value=["potential:intent"])
    customer = customer_make(owner=org.rep1)
    ask = api_as(org.rep1)
    r = ask.post(f"customers/{customer.pk}/lifecycle", {"status": "intent", "version": 1})
    assert r.status_code == 202
    manager = api_as(org.manager)
    manager.get("approvals")  # warm the caches (configuration, token)

    def queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert manager.get("approvals").status_code == 200
        return len(ctx.captured_queries)

    one = queries()
    for _ in range(6):
        other = customer_make(owner=org.rep2)
        api_as(org.rep2).post(f"customers/{other.pk}/lifecycle", {"status": "intent", "version": 1})
    assert len(manager.get("approvals").json()["items"]) == 7
    assert queries() == one
