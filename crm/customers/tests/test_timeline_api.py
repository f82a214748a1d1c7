"""GET /api/v1/customers/{id}/timeline (issue 6 §6): the customer's timeline as the caller may
see it, newest first, filtered by kind, paged without a count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.models import TimelineEntry
from crm.customers.services import customer_transfer, customer_update
from crm.tests_support.api import ApiClient, api_as
from crm.tests_support.factories import UserFactory, customer_make
from crm.tests_support.timeline import kinds_registered, timeline_line_make

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def url(customer) -> str:
    return f"customers/{customer.pk}/timeline"


def test_the_timeline_lists_the_customers_lines_newest_first(org):
    # given a customer created, then edited and transferred
    customer = customer_make(owner=org.rep1, grade="B")
    customer_update(actor=org.rep1, customer=customer, data={"grade": "A"}, version=1)
    customer_transfer(actor=org.manager, customer=customer, to_user=org.rep2)
    # when the new owner reads the timeline in English
    response = api_as(org.rep2, lang="en").get(url(customer))
    # then the lines come newest first, each with its kind, actor, text and object
    assert response.status_code == 200, response.content
    body = response.json()
    assert [i["kind"] for i in body["items"]] == ["transfer", "field_change", "created"]
    first = body["items"][0]
    assert first["actor_id"] == org.manager.pk and first["actor_name"] == org.manager.display_name
    assert first["text"] == "Transferred the customer from 李明 to 张芳"
    assert first["kind_label"] == "Transferred"
    assert (first["object_type"], first["object_id"]) == ("customer", customer.pk)
    assert set(first) >= {"kind", "at", "actor_id", "text", "object_type", "object_id"}
    assert body["has_next"] is False and body["next"] is None and body["previous"] is None


def test_kind_filter_repeated_or_comma_separated(org):
    customer = customer_make(owner=org.rep1)
    customer_update(actor=org.rep1, customer=customer, data={"grade": "A"}, version=1)
    customer_transfer(actor=org.manager, customer=customer, to_user=org.rep2)
    api = api_as(org.manager)
    repeated = api.client.get(f"/api/v1/{url(customer)}?kind=created&kind=transfer").json()
    commas = api.get(url(customer), {"kind": "transfer,created"}).json()
    assert [i["kind"] for i in repeated["items"]] == ["transfer", "created"]
    assert [i["kind"] for i in commas["items"]] == ["transfer", "created"]


def test_an_unknown_kind_is_refused_naming_the_kind_parameter(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1, lang="en").get(url(customer), {"kind": "created,nonsense"})
    assert response.status_code == 422
    assert response.json()["fields"]["kind"] == ["Unknown kind: nonsense."]


def test_paging_follows_next_and_previous_links_without_a_total(org):
    customer = customer_make(owner=org.rep1)
    TimelineEntry.objects.filter(customer_id=customer.pk).delete()
    with kinds_registered(("t_note", "customers")):
        for i in range(5):
            timeline_line_make(
                customer=customer,
                kind="t_note",
                at=T0 + dt.timedelta(hours=i),
                data={"note": str(i)},
            )
        api = api_as(org.rep1)
        first = api.get(url(customer), {"page_size": 2, "kind": "t_note"}).json()
        second = api.client.get(first["next"]).json()
        last = api.client.get(api.client.get(second["next"]).json()["previous"]).json()
    assert [i["text"] for i in first["items"]] == ["t_note: 4", "t_note: 3"]
    assert [i["text"] for i in second["items"]] == ["t_note: 2", "t_note: 1"]
    assert "kind=t_note" in first["next"] and "page=1" in second["previous"]
    assert last == second
    assert "total_approx" not in first


def test_lines_outside_the_callers_scope_in_their_module_are_left_out(org):
    # given rep1's customer with opportunity lines of rep1 and of rep2
    customer = customer_make(owner=org.rep1)
    with kinds_registered(("t_opp", "opportunities")):
        timeline_line_make(customer=customer, kind="t_opp", owner=org.rep1, data={"note": "a"})
        timeline_line_make(customer=customer, kind="t_opp", owner=org.rep2, data={"note": "b"})
        rep = api_as(org.rep1).get(url(customer), {"kind": "t_opp"}).json()
        manager = api_as(org.manager).get(url(customer), {"kind": "t_opp"}).json()
    assert [i["text"] for i in rep["items"]] == ["t_opp: a"]
    assert sorted(i["text"] for i in manager["items"]) == ["t_opp: a", "t_opp: b"]


def test_contact_details_are_masked_without_view_contact(org):
    customer = customer_make(owner=org.rep1, phone="13800001111")
    customer_update(actor=org.rep1, customer=customer, data={"phone": "13912345678"}, version=1)
    finance = api_as(org.finance).get(url(customer), {"kind": "field_change"}).json()
    owner = api_as(org.rep1).get(url(customer), {"kind": "field_change"}).json()
    assert "139****5678" in finance["items"][0]["text"]
    assert "13912345678" not in finance["items"][0]["text"]
    assert "13912345678" in owner["items"][0]["text"]


def test_a_customer_outside_the_scope_is_not_found_and_no_view_permission_is_refused(org):
    customer = customer_make(owner=org.rep1)
    assert api_as(org.rep3).get(url(customer)).status_code == 404
    assert api_as(org.rep1).get("customers/999999999/timeline").status_code == 404
    assert api_as(UserFactory()).get(url(customer)).status_code == 403
    assert ApiClient().get(url(customer)).status_code == 401


def test_a_deleted_customer_has_no_timeline_answer(org):
    from crm.customers.services import customer_delete

    customer = customer_make(owner=org.rep1)
    customer_delete(actor=org.manager, customer=customer)
    assert api_as(org.manager).get(url(customer)).status_code == 404


def test_bad_paging_parameters_are_field_errors(org):
    customer = customer_make(owner=org.rep1)
    api = api_as(org.rep1)
    assert api.get(url(customer), {"page_size": "0"}).status_code == 422
    assert api.get(url(customer), {"page": "x"}).status_code == 422
    assert api.get(url(customer), {"kind": "x" * 300}).status_code == 422


def test_the_query_count_does_not_grow_with_the_lines(org):
    customer = customer_make(owner=org.rep1)
    api = api_as(org.manager)
    api.get(url(customer))  # warm-up
    with CaptureQueriesContext(connection) as one:
        assert len(api.get(url(customer)).json()["items"]) == 1
    actors = [org.rep1, org.manager, org.admin]
    for i in range(29):
        customer_update(
            actor=actors[i % 3], customer=customer, data={"remarks": f"第{i}次"}, version=i + 1
        )
    with CaptureQueriesContext(connection) as thirty:
        assert len(api.get(url(customer)).json()["items"]) == 30
    assert len(thirty) == len(one)
