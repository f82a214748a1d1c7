"""Bulk actions on a selection of customers (issue 5 §4): scope, permissions, audit, one
transaction, constant query counts; and the rule of who could own a record.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.accounts.services import api_token_create
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.scope import users_who_can_own
from crm.customers.models import Customer
from crm.customers.services import (
    customers_bulk_delete,
    customers_bulk_grade_set,
    customers_bulk_transfer,
)
from crm.tests_support.factories import UserFactory, customer_make

pytestmark = pytest.mark.django_db


def _audit(ids, action):
    return AuditEntry.objects.filter(object_id__in=ids, action=action)


# --- who could own a record ------------------------------------------------------------------


def test_users_who_can_own_are_active_in_scope_and_granted_the_module(org):
    """Given users without roles, with only a settings role, and inactive ones, when an admin
    (scope: all) asks who could own a customer, then only active users whose roles grant the
    customers module are named."""
    from crm.accounts.models import Role, RolePermission

    settings_only = Role.objects.create(code="cfg", name="配置")
    RolePermission.objects.create(role=settings_only, module="settings", actions=["view"])
    nobody = UserFactory(roles=[])
    configurator = UserFactory(roles=[settings_only])
    gone = UserFactory(roles=["sales_rep"])
    gone.is_active = False
    gone.save()

    owners = set(users_who_can_own(actor=org.admin, module="customers"))

    assert {org.admin, org.manager, org.rep1, org.rep2, org.rep3} <= owners
    assert nobody not in owners and configurator not in owners and gone not in owners


def test_read_only_roles_are_not_offered_as_owners(org):
    """Given the default roles, when an admin asks who could own a customer, then customer
    service, finance and executives, who see every customer but may not change one, are not
    among them (issue 5 §4: "offer only users who could own the record")."""
    owners = set(users_who_can_own(actor=org.admin, module="customers"))

    assert not {org.service, org.finance, org.exec} & owners
    assert {org.manager, org.rep1} <= owners


def test_users_who_can_own_stay_inside_the_actors_scope(org):
    owners = set(users_who_can_own(actor=org.manager, module="customers"))
    assert owners == {org.manager, org.rep1, org.rep2}
    assert set(users_who_can_own(actor=org.rep1, module="customers")) == {org.rep1}


def test_a_superuser_without_roles_could_own_records(org):
    boss = UserFactory(roles=[], is_superuser=True)
    assert boss in set(users_who_can_own(actor=org.admin, module="customers"))


# --- bulk services ----------------------------------------------------------------------------


def test_bulk_transfer_changes_only_the_customers_in_scope_one_audit_entry_each(org):
    mine = [customer_make(owner=org.rep1) for _ in range(3)]
    outside = customer_make(owner=org.rep3)
    ids = [c.pk for c in mine] + [outside.pk, 999_999]

    result = customers_bulk_transfer(actor=org.manager, ids=ids, to_user=org.rep2)

    assert sorted(result.changed) == sorted(c.pk for c in mine)
    assert result.skipped == [outside.pk, 999_999]
    for c in mine:
        c.refresh_from_db()
        assert c.owner == org.rep2 and c.version == 2 and c.updated_by == org.manager
    outside.refresh_from_db()
    assert outside.owner == org.rep3 and outside.version == 1
    entries = _audit([c.pk for c in mine], "transfer")
    assert entries.count() == 3
    assert entries.first().changes == [
        {"field": "owner", "before": org.rep1.display_name, "after": org.rep2.display_name}
    ]
    assert not _audit([outside.pk], "transfer").exists()


def test_bulk_transfer_to_someone_who_could_not_own_changes_nothing(org):
    nobody = UserFactory(roles=[])
    customers = [customer_make(owner=org.rep1) for _ in range(2)]
    for target in (nobody, org.rep3):  # no roles; outside the manager's scope
        with pytest.raises(ValidationFailed) as exc:
            customers_bulk_transfer(
                actor=org.manager, ids=[c.pk for c in customers], to_user=target
            )
        assert "owner" in exc.value.fields
    assert set(Customer.objects.values_list("owner", flat=True)) == {org.rep1.pk}
    assert not AuditEntry.objects.filter(action="transfer").exists()


def test_customers_already_in_the_requested_state_are_skipped_not_audited(org):
    a = customer_make(owner=org.rep1, grade="A")
    b = customer_make(owner=org.rep1, grade="B")

    result = customers_bulk_grade_set(actor=org.rep1, ids=[a.pk, b.pk], grade="A")

    assert result.changed == [b.pk] and result.skipped == [a.pk]
    assert _audit([a.pk], "update").count() == 0
    assert _audit([b.pk], "update").get().changes == [
        {"field": "grade", "before": "B", "after": "A"}
    ]


def test_bulk_delete_moves_the_selection_to_the_recycle_bin(org):
    customers = [customer_make(owner=org.rep2) for _ in range(2)]
    result = customers_bulk_delete(actor=org.manager, ids=[c.pk for c in customers])
    assert len(result.changed) == 2
    assert Customer.objects.filter(deleted_at__isnull=False, deleted_by=org.manager).count() == 2
    assert _audit([c.pk for c in customers], "delete").count() == 2
    # deleted ones are no longer part of a later selection
    again = customers_bulk_delete(actor=org.manager, ids=[c.pk for c in customers])
    assert again.changed == [] and len(again.skipped) == 2


def test_bulk_actions_need_their_permission(org):
    c = customer_make(owner=org.rep1)
    with pytest.raises(PermissionDeniedError):
        customers_bulk_delete(actor=org.rep1, ids=[c.pk])
    with pytest.raises(PermissionDeniedError):
        customers_bulk_transfer(actor=org.rep1, ids=[c.pk], to_user=org.rep1)
    with pytest.raises(PermissionDeniedError):
        customers_bulk_grade_set(actor=org.finance, ids=[c.pk], grade="A")


@pytest.mark.parametrize("ids", [[], "12", [True], ["1; DROP"], [1.5], list(range(1, 502)), None])
def test_bulk_ids_must_be_a_short_list_of_ids(org, ids):
    with pytest.raises(ValidationFailed) as exc:
        customers_bulk_grade_set(actor=org.admin, ids=ids, grade="A")
    assert "ids" in exc.value.fields


def test_bulk_grade_refuses_an_unknown_grade(org):
    c = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed):
        customers_bulk_grade_set(actor=org.admin, ids=[c.pk], grade="Z")


def test_a_failure_inside_a_bulk_action_leaves_every_record_as_it_was(org, monkeypatch):
    """All or nothing: the audit rows and the updates share one transaction."""
    from crm.customers import services

    customers = [customer_make(owner=org.rep1, grade="C") for _ in range(3)]
    real_update = services.Customer.objects.filter

    def failing_filter(*args, **kwargs):
        qs = real_update(*args, **kwargs)
        if "pk__in" in kwargs and not args:
            raise RuntimeError("database went away")
        return qs

    monkeypatch.setattr(services.Customer.objects, "filter", failing_filter)
    with pytest.raises(RuntimeError):
        customers_bulk_grade_set(actor=org.admin, ids=[c.pk for c in customers], grade="A")
    monkeypatch.undo()

    assert set(Customer.objects.values_list("grade", flat=True)) == {"C"}
    assert not _audit([c.pk for c in customers], "update").exists()


def test_bulk_actions_cost_the_same_queries_for_1_and_for_20_customers(org):
    one = [customer_make(owner=org.rep1).pk]
    twenty = [customer_make(owner=org.rep1).pk for _ in range(20)]
    # the actor's grants are read once per user object, as once per request in the app
    customers_bulk_grade_set(actor=org.admin, ids=[customer_make(owner=org.rep1).pk], grade="A")
    counts = []
    for ids in (one, twenty):
        with CaptureQueriesContext(connection) as ctx:
            customers_bulk_grade_set(actor=org.admin, ids=ids, grade="A")
            customers_bulk_transfer(actor=org.admin, ids=ids, to_user=org.rep2)
            customers_bulk_delete(actor=org.admin, ids=ids)
        counts.append(len(ctx))
    assert counts[0] == counts[1]


# --- the API ----------------------------------------------------------------------------------


def _api(user):
    from django.test import Client

    _token, raw = api_token_create(user=user, name="bulk")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_api_bulk_answers_what_was_changed_and_skipped(org):
    a = customer_make(owner=org.rep1)
    outside = customer_make(owner=org.rep3)
    client = _api(org.manager)

    response = client.post(
        "/api/v1/customers/bulk",
        data=json.dumps({"action": "transfer", "ids": [a.pk, outside.pk], "owner_id": org.rep2.pk}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["changed"] == [a.pk] and body["skipped"] == [outside.pk]
    assert body["message"]
    a.refresh_from_db()
    assert a.owner == org.rep2


@pytest.mark.parametrize(
    ("user", "body", "status"),
    [
        ("rep1", {"action": "delete", "ids": [1]}, 403),
        ("manager", {"action": "transfer", "ids": [1]}, 422),  # no owner_id
        ("manager", {"action": "grade", "ids": [1], "grade": "Z"}, 422),
        ("manager", {"action": "grade", "ids": [True], "grade": "A"}, 422),
        ("manager", {"action": "grade", "ids": [], "grade": "A"}, 422),
        ("manager", {"action": "nuke", "ids": [1]}, 422),
        ("finance", {"action": "grade", "ids": [1], "grade": "A"}, 403),
    ],
)
def test_api_bulk_refuses_bad_requests(org, user, body, status):
    response = _api(getattr(org, user)).post(
        "/api/v1/customers/bulk", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == status, response.content
    assert "error" in response.json()


def test_api_bulk_transfer_refuses_an_owner_who_could_not_own_the_record(org):
    nobody = UserFactory(roles=[])
    a = customer_make(owner=org.rep1)
    response = _api(org.admin).post(
        "/api/v1/customers/bulk",
        data=json.dumps({"action": "transfer", "ids": [a.pk], "owner_id": nobody.pk}),
        content_type="application/json",
    )
    assert response.status_code == 422
    a.refresh_from_db()
    assert a.owner == org.rep1


def test_api_list_carries_an_approximate_total(org):
    for _ in range(3):
        customer_make(owner=org.rep1)
    client = _api(org.rep1)
    body = client.get("/api/v1/customers", {"page_size": 2}).json()
    assert body["total_approx"] == {"count": 3, "exact": True, "estimated": False}
    assert {"items", "page", "page_size", "has_next", "next"} <= set(body)
    last = client.get("/api/v1/customers", {"page_size": 2, "page": 2}).json()
    assert last["total_approx"] == {"count": 3, "exact": True, "estimated": False}


def test_openapi_documents_the_bulk_route_and_the_total(client):
    spec = client.get("/api/v1/openapi.json").json()
    bulk = spec["paths"]["/api/v1/customers/bulk"]["post"]
    assert {"200", "400", "401", "403", "413", "422"} <= set(bulk["responses"])
    assert "TotalOut" in json.dumps(spec["components"]["schemas"]["CustomerPageOut"])
