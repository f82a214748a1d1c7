"""The customer archive's own timeline lines (CUS-11): each service that leaves an audit entry
also writes the customer's timeline line, in the same transaction, owned by the customer's
owner (so a transfer moves the lines into the new owner's scope)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import override

from crm.core.errors import ValidationFailed
from crm.core.models import TimelineEntry
from crm.core.timeline import timeline_for_customer
from crm.customers.models import Customer
from crm.customers.services import (
    contact_create,
    contact_delete,
    contact_update,
    customer_delete,
    customer_restore,
    customer_transfer,
    customer_update,
    customers_bulk_delete,
    customers_bulk_grade_set,
    customers_bulk_transfer,
    customers_purge_expired,
    customers_transfer_all,
)
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


def lines(customer, kind=None):
    qs = TimelineEntry.objects.filter(customer_id=customer.pk).order_by("at", "id")
    return list(qs.filter(kind=kind) if kind else qs)


def text_of(user, customer, kind):
    with override("en"):
        page = timeline_for_customer(user=user, customer=customer, kinds=[kind])
    return [item.text for item in page.items]


def test_creating_a_customer_writes_one_created_line(org):
    customer = customer_make(owner=org.rep1, actor=org.manager, name="北京华科信息技术有限公司")
    [line] = lines(customer)
    assert (line.kind, line.module, line.object_type, line.object_id) == (
        "created",
        "customers",
        "customer",
        customer.pk,
    )
    assert (line.actor_id, line.owner_id) == (org.manager.pk, org.rep1.pk)
    assert text_of(org.rep1, customer, "created") == [
        f"Created the customer 北京华科信息技术有限公司 ({customer.number})"
    ]


def test_an_edit_writes_one_line_with_every_changed_field_as_displayed(org):
    customer = customer_make(owner=org.rep1, grade="B")
    customer_update(
        actor=org.rep1,
        customer=customer,
        data={"grade": "A", "remarks": "重点跟进", "budget": "150000"},
        version=customer.version,
    )
    [line] = lines(customer, "field_change")
    fields = {c["field"]: (c["before"], c["after"]) for c in line.data["changes"]}
    assert fields["grade"] == ("B", "A")
    assert fields["budget"] == (None, "150000.00")
    assert fields["remarks"] == ("", "重点跟进")
    [text] = text_of(org.rep1, customer, "field_change")
    assert text.startswith("Changed ") and "grade: B → A" in text and "¥150,000.00" in text


def test_an_edit_that_changes_nothing_writes_no_line(org):
    customer = customer_make(owner=org.rep1, grade="B")
    customer_update(actor=org.rep1, customer=customer, data={"grade": "B"}, version=1)
    assert lines(customer, "field_change") == []


def test_a_refused_edit_writes_no_line(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed):
        customer_update(actor=org.rep1, customer=customer, data={"grade": "Z"}, version=1)
    assert [line.kind for line in lines(customer)] == ["created"]


def test_long_texts_are_cut_on_the_timeline(org):
    customer = customer_make(owner=org.rep1)
    customer_update(actor=org.rep1, customer=customer, data={"remarks": "长" * 300}, version=1)
    [text] = text_of(org.rep1, customer, "field_change")
    assert "…" in text and len(text) < 120


def test_a_transfer_writes_a_line_and_moves_the_customers_lines_to_the_new_owner(org):
    customer = customer_make(owner=org.rep1)
    customer_transfer(actor=org.manager, customer=customer, to_user=org.rep2)
    [line] = lines(customer, "transfer")
    assert line.data == {"before": "李明", "after": "张芳"} and line.actor_id == org.manager.pk
    assert {line.owner_id for line in lines(customer)} == {org.rep2.pk}
    assert text_of(org.rep2, customer, "transfer") == ["Transferred the customer from 李明 to 张芳"]


def test_changing_the_owner_on_the_edit_form_also_moves_the_lines(org):
    customer = customer_make(owner=org.rep1)
    customer_update(actor=org.manager, customer=customer, data={"owner_id": org.rep2.pk}, version=1)
    assert {line.owner_id for line in lines(customer)} == {org.rep2.pk}


def test_transfer_all_writes_a_line_per_customer_in_one_insert(org):
    mine = [customer_make(owner=org.rep1) for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        customers_transfer_all(from_user=org.rep1, to_user=org.rep2, actor=org.admin)
    timeline_inserts = [
        q for q in queries if q["sql"].startswith("INSERT") and "core_timelineentry" in q["sql"]
    ]
    assert len(timeline_inserts) == 1
    for customer in mine:
        [line] = lines(customer, "transfer")
        assert line.owner_id == org.rep2.pk and line.actor_id == org.admin.pk
        assert {line.owner_id for line in lines(customer)} == {org.rep2.pk}


def test_delete_and_restore_write_their_lines(org):
    customer = customer_make(owner=org.rep1)
    customer_delete(actor=org.manager, customer=customer)
    customer_delete(actor=org.manager, customer=customer)  # already deleted: nothing more
    customer_restore(actor=org.manager, customer=customer)
    assert [line.kind for line in lines(customer)] == ["created", "deleted", "restored"]
    restored = Customer.objects.get(pk=customer.pk)
    assert text_of(org.rep1, restored, "deleted") == ["Moved the customer to the recycle bin"]


def test_contacts_added_changed_and_removed_write_contact_lines(org):
    customer = customer_make(owner=org.rep1)
    contact = contact_create(
        actor=org.rep1, customer=customer, data={"name": "王五", "phone": "13700001111"}
    )
    contact_update(actor=org.rep1, contact=contact, data={"phone": "13700002222", "title": "总监"})
    contact_delete(actor=org.rep1, contact=contact)
    got = [line.data for line in lines(customer, "contact_change")]
    assert got[0] == {"action": "added", "contact": "王五"}
    assert got[1]["action"] == "changed" and got[1]["contact"] == "王五"
    assert {c["field"] for c in got[1]["changes"]} == {"phone", "title"}
    assert got[2] == {"action": "removed", "contact": "王五"}
    texts = text_of(org.rep1, customer, "contact_change")
    assert texts[2] == "Added the contact 王五" and texts[0] == "Removed the contact 王五"
    assert "13700002222" in texts[1]
    # finance may see the customer but not contact details
    assert "13700002222" not in text_of(org.finance, customer, "contact_change")[1]
    assert "137****2222" in text_of(org.finance, customer, "contact_change")[1]


def test_bulk_actions_write_one_line_per_customer_changed(org):
    a, b = customer_make(owner=org.rep1, grade="B"), customer_make(owner=org.rep1, grade="A")
    customers_bulk_grade_set(actor=org.manager, ids=[a.pk, b.pk], grade="A")
    assert [line.data for line in lines(a, "field_change")] == [
        {"changes": [{"field": "grade", "before": "B", "after": "A"}]}
    ]
    assert lines(b, "field_change") == []  # already A: skipped, no line
    customers_bulk_transfer(actor=org.manager, ids=[a.pk, b.pk], to_user=org.rep2)
    for customer in (a, b):
        assert len(lines(customer, "transfer")) == 1
        assert {line.owner_id for line in lines(customer)} == {org.rep2.pk}
    customers_bulk_delete(actor=org.manager, ids=[a.pk, b.pk])
    assert len(lines(a, "deleted")) == len(lines(b, "deleted")) == 1


def test_a_bulk_action_writes_its_lines_in_one_insert(org):
    ids = [customer_make(owner=org.rep1, grade="C").pk for _ in range(5)]
    with CaptureQueriesContext(connection) as queries:
        customers_bulk_grade_set(actor=org.manager, ids=ids, grade="A")
    timeline_inserts = [
        q for q in queries if q["sql"].startswith("INSERT") and "core_timelineentry" in q["sql"]
    ]
    assert len(timeline_inserts) == 1
    assert TimelineEntry.objects.filter(kind="field_change").count() == 5


def test_purging_a_customer_removes_its_timeline(org):
    customer = customer_make(owner=org.rep1)
    kept = customer_make(owner=org.rep1)
    customer_delete(actor=org.manager, customer=customer)
    Customer.objects.filter(pk=customer.pk).update(
        deleted_at=timezone.now() - dt.timedelta(days=40)
    )
    assert customers_purge_expired() == 1
    assert lines(customer) == []
    assert len(lines(kept)) == 1
