"""Migration 0007: the customers' audit trail written before the timeline existed becomes
their timeline lines (existing installs and the demo show their history there)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as global_apps
from django.contrib.contenttypes.models import ContentType

from crm.core.models import AuditEntry, TimelineEntry
from crm.customers.models import Customer
from crm.customers.services import (
    contact_create,
    customer_delete,
    customer_restore,
    customer_transfer,
    customer_update,
)
from crm.customers.timeline import timeline_backfill
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

migration = importlib.import_module("crm.customers.migrations.0007_timeline_backfill")


def backfill() -> int:
    return timeline_backfill(
        audit_model=AuditEntry,
        timeline_model=TimelineEntry,
        customer_model=Customer,
        content_type_id=ContentType.objects.get_for_model(Customer).pk,
        batch_size=2,
    )


def kinds(customer) -> list[str]:
    return list(
        TimelineEntry.objects.filter(customer_id=customer.pk)
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )


@pytest.fixture
def history(org):
    """Customers with a history, as an install had it before the timeline: audit entries
    only (the lines the services wrote are removed)."""
    a = customer_make(owner=org.rep1, grade="B", name="北京华科信息技术有限公司")
    customer_update(actor=org.rep1, customer=a, data={"grade": "A"}, version=1)
    contact_create(actor=org.rep1, customer=a, data={"name": "王五", "phone": "13700001111"})
    customer_transfer(actor=org.manager, customer=a, to_user=org.rep2)
    b = customer_make(owner=org.rep1)
    customer_delete(actor=org.manager, customer=b)
    customer_restore(actor=org.manager, customer=b)
    c = customer_make(owner=org.rep3)
    written = {row.pk: (row.kind, row.data) for row in TimelineEntry.objects.all()}
    TimelineEntry.objects.all().delete()
    return {"a": a, "b": b, "c": c, "written": written}


def test_the_backfill_makes_the_lines_the_services_make(history, org):
    # when the backfill runs over the audit trail
    count = backfill()
    # then each customer has its lines, in their audit order, at their audit times
    a, b = history["a"], history["b"]
    assert kinds(a) == ["created", "field_change", "contact_change", "transfer"]
    assert kinds(b) == ["created", "deleted", "restored"]
    assert kinds(history["c"]) == ["created"]
    assert count == 8
    # the same data as the live services wrote
    assert sorted((row.kind, repr(row.data)) for row in TimelineEntry.objects.all()) == sorted(
        (kind, repr(data)) for kind, data in history["written"].values()
    )
    created = TimelineEntry.objects.get(customer_id=a.pk, kind="created")
    audit = AuditEntry.objects.get(object_id=a.pk, action="create", content_type__model="customer")
    assert created.at == audit.created_at and created.actor_id == org.rep1.pk
    assert created.data == {"name": "北京华科信息技术有限公司", "number": a.number}
    # every line is owned by the customer's current owner, in the customers module
    assert set(
        TimelineEntry.objects.filter(customer_id=a.pk).values_list("owner_id", "module")
    ) == {(org.rep2.pk, "customers")}


def test_the_backfill_is_idempotent_and_skips_customers_that_have_lines(history, org):
    backfill()
    assert backfill() == 0
    newcomer = customer_make(owner=org.rep1)  # recorded live
    assert backfill() == 0
    assert kinds(newcomer) == ["created"]


def test_purged_customers_and_other_records_are_left_alone(history, org):
    from crm.core.audit import audit_record

    audit_record(actor=org.admin, action=AuditEntry.Action.UPDATE, instance=org.rep1)
    AuditEntry.objects.create(
        action="create",
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=987654,  # a purged customer: no row any more
        changes=[],
    )
    backfill()
    assert not TimelineEntry.objects.filter(customer_id=987654).exists()
    assert TimelineEntry.objects.count() == 8


def test_the_migration_function_runs_on_the_installed_models(history):
    migration.forwards(global_apps, None)
    assert kinds(history["a"])[0] == "created"
    migration.forwards(global_apps, None)  # again: nothing twice
    assert TimelineEntry.objects.count() == 8


def test_the_demo_customers_timelines_carry_their_back_dated_times(db):
    from crm.demo import demo_load

    demo_load(password="demo-Passw0rd!", customers=40)
    # A merged demo customer's timeline moved to its survivor with the merge (issue 8 §4).
    customers = list(Customer.objects.filter(merged_into__isnull=True))
    # (the survivor also holds the merged one's "created" line: compare by its number)
    created = {
        (row.customer_id, row.data["number"]): row.at
        for row in TimelineEntry.objects.filter(kind="created")
    }
    # 40 of the archive's own, plus those the demo leads were converted into
    assert {c for c, _n in created} == {c.pk for c in customers}
    from crm.demo import DEMO_DUPLICATE_CUSTOMERS, DEMO_MERGED_CUSTOMERS

    # ... and the duplicate pairs entered by a second rep, one of them already merged
    pairs = sum(len(pair) for pair in DEMO_DUPLICATE_CUSTOMERS) + len(DEMO_MERGED_CUSTOMERS) - 1
    assert sum(1 for c in customers if not c.leads.exists()) == 40 + pairs
    # each "created" line at the creation time, under the number (the renumbered ones too)
    assert all(created.get((c.pk, c.number)) == c.created_at for c in customers)
    assert TimelineEntry.objects.filter(kind="deleted").exists()
