"""The customer timeline's core (crm/core/timeline.py): recording, ordering, paging without a
count, the kind filter, the reader's data scope per module, and masking at read time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.models import TimelineEntry
from crm.core.timeline import (
    timeline_for_customer,
    timeline_kind_register,
    timeline_kinds,
    timeline_kinds_clean,
    timeline_kinds_for,
    timeline_owner_set,
    timeline_record,
    timeline_record_many,
)
from crm.customers.services import customer_update
from crm.tests_support.factories import customer_make
from crm.tests_support.timeline import kinds_registered, timeline_line_make

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _texts(page) -> list[str]:
    return [item.text for item in page.items]


def _only_test_lines(customer):
    """The customer's own lines (created ...) out of the way: only the test's lines remain."""
    TimelineEntry.objects.filter(customer_id=customer.pk).delete()


# --- recording ------------------------------------------------------------------------------


def test_a_line_takes_its_module_from_the_registered_kind(org):
    customer = customer_make(owner=org.rep1)
    with kinds_registered(("t_note", "opportunities")):
        entry = timeline_record(
            customer_id=customer.pk,
            kind="t_note",
            actor=org.rep1,
            owner_id=org.rep1.pk,
            object_type="opportunity",
            object_id=7,
            data={"note": "x"},
        )
    entry.refresh_from_db()
    assert entry.module == "opportunities"
    assert (entry.actor_id, entry.owner_id, entry.object_id) == (org.rep1.pk, org.rep1.pk, 7)


def test_an_unregistered_kind_is_refused(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValueError):
        timeline_record(
            customer_id=customer.pk,
            kind="never_registered",
            actor=org.rep1,
            owner_id=org.rep1.pk,
            object_type="customer",
            object_id=customer.pk,
        )


def test_many_lines_are_written_in_one_insert(org):
    customers = [customer_make(owner=org.rep1) for _ in range(3)]
    with kinds_registered(("t_note", "customers")), CaptureQueriesContext(connection) as queries:
        rows = timeline_record_many(
            actor=org.rep1,
            lines=[
                {
                    "customer_id": c.pk,
                    "kind": "t_note",
                    "owner_id": c.owner_id,
                    "object_type": "customer",
                    "object_id": c.pk,
                    "data": {"note": c.name},
                }
                for c in customers
            ],
        )
    assert len(rows) == 3
    inserts = [q for q in queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1
    assert TimelineEntry.objects.filter(kind="t_note").count() == 3
    assert timeline_record_many(actor=org.rep1, lines=[]) == []


def test_owner_set_moves_the_record_lines_to_the_new_owner(org):
    customer = customer_make(owner=org.rep1)
    with kinds_registered(("t_note", "opportunities")):
        line = timeline_line_make(customer=customer, kind="t_note", object_type="opportunity")
        other = timeline_line_make(
            customer=customer, kind="t_note", object_type="opportunity", object_id=2
        )
        assert timeline_owner_set(object_type="opportunity", object_ids=[1], owner_id=org.rep2.pk)
    line.refresh_from_db()
    other.refresh_from_db()
    assert line.owner_id == org.rep2.pk and other.owner_id == org.rep1.pk


# --- reading: order, paging, kinds --------------------------------------------------------------


def test_lines_come_newest_first_and_by_id_within_the_same_moment(org):
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_note", "customers")):
        timeline_line_make(customer=customer, kind="t_note", at=T0, data={"note": "old"})
        timeline_line_make(
            customer=customer, kind="t_note", at=T0 + dt.timedelta(days=2), data={"note": "new"}
        )
        timeline_line_make(customer=customer, kind="t_note", at=T0, data={"note": "old, later id"})
        page = timeline_for_customer(user=org.rep1, customer=customer)
    assert _texts(page) == ["t_note: new", "t_note: old, later id", "t_note: old"]
    assert page.items[0].kind_label == "label t_note"


def test_pages_hold_the_size_asked_and_say_whether_older_lines_exist_without_counting(org):
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_note", "customers")):
        for i in range(31):
            timeline_line_make(
                customer=customer,
                kind="t_note",
                at=T0 + dt.timedelta(minutes=i),
                data={"note": str(i)},
            )
        with CaptureQueriesContext(connection) as queries:
            first = timeline_for_customer(user=org.rep1, customer=customer, page=1, size=30)
        second = timeline_for_customer(user=org.rep1, customer=customer, page=2, size=30)
    assert len(first.items) == 30 and first.has_next and first.items[0].text == "t_note: 30"
    assert _texts(second) == ["t_note: 0"] and not second.has_next and second.has_previous
    assert not any("COUNT(" in q["sql"].upper() for q in queries)


def test_the_kind_filter_keeps_the_chosen_kinds_and_ignores_unknown_codes(org):
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_a", "customers"), ("t_b", "customers"), ("t_c", "customers")):
        for code in ("t_a", "t_b", "t_c"):
            timeline_line_make(customer=customer, kind=code, data={"note": code})
        both = timeline_for_customer(user=org.rep1, customer=customer, kinds=["t_a", "t_c"])
        commas = timeline_for_customer(user=org.rep1, customer=customer, kinds=["t_c,t_a"])
        unknown = timeline_for_customer(user=org.rep1, customer=customer, kinds=["t_b", "nope"])
        assert timeline_kinds_clean(["t_a,nope", " t_a ", ""]) == (["t_a"], ["nope"])
    assert sorted(i.kind for i in both.items) == ["t_a", "t_c"]
    assert sorted(i.kind for i in commas.items) == ["t_a", "t_c"]
    assert [i.kind for i in unknown.items] == ["t_b"]


def test_other_customers_lines_are_not_shown(org):
    mine, other = customer_make(owner=org.rep1), customer_make(owner=org.rep1)
    _only_test_lines(mine)
    with kinds_registered(("t_note", "customers")):
        timeline_line_make(customer=other, kind="t_note", data={"note": "other"})
        assert timeline_for_customer(user=org.rep1, customer=mine).items == []


# --- reading: the reader's scope ------------------------------------------------------------


def test_a_line_of_a_module_the_reader_cannot_view_is_hidden(org):
    # given a customer-module line and an audit-module line (reps have no audit rights)
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_public", "customers"), ("t_secret", "audit")):
        timeline_line_make(customer=customer, kind="t_public", data={"note": "seen"})
        timeline_line_make(customer=customer, kind="t_secret", data={"note": "hidden"})
        # when the rep, then an executive (audit.view), read the timeline
        rep = timeline_for_customer(user=org.rep1, customer=customer)
        executive = timeline_for_customer(user=org.exec, customer=customer)
        # then the rep sees only the customers line, and no chip for the audit kind
        assert _texts(rep) == ["t_public: seen"]
        assert sorted(_texts(executive)) == ["t_public: seen", "t_secret: hidden"]
        assert "t_secret" not in {k.code for k in timeline_kinds_for(org.rep1)}
        assert "t_secret" in {k.code for k in timeline_kinds_for(org.exec)}


def test_a_line_whose_owner_is_outside_the_readers_scope_is_hidden(org):
    # given rep1's customer with an opportunity line of rep1 and one of a colleague (rep2)
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_opp", "opportunities")):
        timeline_line_make(customer=customer, kind="t_opp", owner=org.rep1, data={"note": "mine"})
        timeline_line_make(customer=customer, kind="t_opp", owner=org.rep2, data={"note": "rep2"})
        timeline_line_make(customer=customer, kind="t_opp", owner=org.rep3, data={"note": "rep3"})
        # then rep1 (own) sees their own, the manager (subordinates) their team's, service all
        assert _texts(timeline_for_customer(user=org.rep1, customer=customer)) == ["t_opp: mine"]
        manager = timeline_for_customer(user=org.manager, customer=customer)
        assert sorted(_texts(manager)) == ["t_opp: mine", "t_opp: rep2"]
        service = timeline_for_customer(user=org.service, customer=customer)
        assert len(service.items) == 3


def test_a_line_without_an_owner_is_shown_only_to_all_scope_readers(org):
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_opp", "opportunities")):
        timeline_record(
            customer_id=customer.pk,
            kind="t_opp",
            actor=None,
            owner_id=None,
            object_type="opportunity",
            object_id=1,
            data={"note": "ownerless"},
        )
        assert timeline_for_customer(user=org.rep1, customer=customer).items == []
        assert _texts(timeline_for_customer(user=org.service, customer=customer)) == [
            "t_opp: ownerless"
        ]


# --- wording --------------------------------------------------------------------------------


def test_contact_details_in_field_changes_are_masked_for_readers_without_view_contact(org):
    # given a phone change on a customer
    customer = customer_make(owner=org.rep1, phone="13800001111")
    customer_update(
        actor=org.rep1, customer=customer, data={"phone": "13912345678"}, version=customer.version
    )
    # when the owner (view_contact) and finance (no view_contact) read the line
    own = timeline_for_customer(user=org.rep1, customer=customer, kinds=["field_change"])
    finance = timeline_for_customer(user=org.finance, customer=customer, kinds=["field_change"])
    # then only the owner reads the numbers
    assert "13912345678" in own.items[0].text and "13800001111" in own.items[0].text
    assert "13912345678" not in finance.items[0].text
    assert "139****5678" in finance.items[0].text and "138****1111" in finance.items[0].text
    # and the stored line keeps the numbers (masking is the reader's, not the writer's)
    stored = TimelineEntry.objects.get(customer_id=customer.pk, kind="field_change")
    assert stored.data["changes"][0]["after"] == "13912345678"


def test_a_line_the_renderer_cannot_word_shows_its_kind_label(org):
    # given a line whose data its renderer no longer understands
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_note", "customers")):
        timeline_kind_register(
            "t_strict",
            module="customers",
            label="Strict",
            render=lambda data: "{missing}".format(**data),
        )
        timeline_line_make(customer=customer, kind="t_strict", data={"other": 1})
        # when it is read, then the page still shows it, worded by its label
        page = timeline_for_customer(user=org.rep1, customer=customer)
    assert [(i.kind, i.text) for i in page.items] == [("t_strict", "Strict")]


def test_a_line_of_a_kind_no_longer_registered_is_not_shown(org):
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    with kinds_registered(("t_gone", "customers")):
        timeline_line_make(customer=customer, kind="t_gone")
    assert "t_gone" not in timeline_kinds()
    assert timeline_for_customer(user=org.rep1, customer=customer).items == []


def test_reading_a_page_costs_the_same_queries_for_1_and_for_30_lines(org):
    customer = customer_make(owner=org.rep1)
    _only_test_lines(customer)
    actors = [org.rep1, org.manager, org.admin]
    with kinds_registered(("t_note", "customers"), ("t_opp", "opportunities")):
        timeline_line_make(customer=customer, kind="t_note", actor=org.rep1)
        timeline_for_customer(user=org.manager, customer=customer)  # warm the grants
        with CaptureQueriesContext(connection) as one:
            page = timeline_for_customer(user=org.manager, customer=customer)
            [item.actor_name for item in page.items]
        for i in range(29):
            timeline_line_make(
                customer=customer,
                kind="t_opp" if i % 2 else "t_note",
                actor=actors[i % 3],
                owner=org.rep2 if i % 2 else org.rep1,
            )
        with CaptureQueriesContext(connection) as thirty:
            page = timeline_for_customer(user=org.manager, customer=customer)
            names = {item.actor_name for item in page.items}
    assert len(page.items) == 30 and len(names) == 3
    assert len(thirty) == len(one)
