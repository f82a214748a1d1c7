"""SYS-2: every write leaves who, when, what, before -> after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm.core.audit import audit_history, audit_record, diff
from crm.core.middleware import request_id_var
from crm.core.models import AuditEntry
from crm.tests_support.factories import UserFactory


def test_diff_lists_only_changed_fields_in_order_with_json_safe_values():
    before = {"name": "华科", "budget": Decimal("10.00"), "grade": "B", "date": None}
    after = {
        "name": "华科技术",
        "budget": Decimal("10.0"),  # same amount: no change
        "grade": "A",
        "date": dt.date(2026, 5, 3),
    }
    assert diff(before, after) == [
        {"field": "name", "before": "华科", "after": "华科技术"},
        {"field": "grade", "before": "B", "after": "A"},
        {"field": "date", "before": None, "after": "2026-05-03"},
    ]


def test_diff_treats_empty_and_missing_alike():
    assert diff({}, {"address": "", "remarks": None, "name": "华科"}) == [
        {"field": "name", "before": None, "after": "华科"}
    ]
    assert diff({"address": None}, {"address": ""}) == []
    assert diff({"address": "上海"}, {"address": ""}) == [
        {"field": "address", "before": "上海", "after": ""}
    ]


def test_diff_keeps_falsy_values_that_are_not_empty():
    assert diff({"count": None, "flag": None}, {"count": 0, "flag": False}) == [
        {"field": "count", "before": None, "after": 0},
        {"field": "flag", "before": None, "after": False},
    ]
    assert diff({"budget": Decimal("5")}, {"budget": None}) == [
        {"field": "budget", "before": "5", "after": None}
    ]


def test_audit_record_stores_actor_request_and_changes(db):
    actor = UserFactory(full_name="李明")
    token = request_id_var.set("req-123")
    try:
        entry = audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=actor,
            changes=diff({"grade": "B"}, {"grade": "A"}),
        )
    finally:
        request_id_var.reset(token)
    entry.refresh_from_db()
    assert entry.actor == actor and entry.actor_name == "李明"
    assert entry.request_id == "req-123"
    assert entry.changes == [{"field": "grade", "before": "B", "after": "A"}]
    assert list(audit_history(actor)) == [entry]


def test_a_system_actor_is_recorded_by_name(db):
    subject = UserFactory()
    entry = audit_record(actor="system", action=AuditEntry.Action.PURGE, instance=subject)
    assert entry.actor is None and entry.actor_name == "system"
    # Pages show it as "System" in the reader's language, never the raw "system".
    from django.utils import translation

    with translation.override("zh-hans"):
        assert entry.actor_label == "系统"
    with translation.override("en"):
        assert entry.actor_label == "System"
    person = audit_record(actor=UserFactory(full_name="李明"), action="update", instance=subject)
    assert person.actor_label == "李明"


def test_history_is_newest_first_and_fetches_actors_in_one_query(db, django_assert_num_queries):
    subject = UserFactory()
    actors = [UserFactory() for _ in range(3)]
    for actor in actors:
        audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=subject)
    with django_assert_num_queries(1):
        names = [e.actor.username for e in audit_history(subject)]
    assert names == [a.username for a in reversed(actors)]


def test_a_list_of_related_records_reads_as_their_plural_name():
    from django.utils import translation

    from crm.core.audit import audit_field_label
    from crm.sales.models import Opportunity

    with translation.override("en"):
        assert audit_field_label(Opportunity, "milestones") == "milestones"
        assert audit_field_label(Opportunity, "amount") == "amount (¥)"
        assert audit_field_label(Opportunity, "gone") == "gone"
