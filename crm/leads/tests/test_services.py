"""Leads: create/update/delete/restore, validation, owner rules, SLA deadline, duplicates
(LEAD-1, LEAD-2, LEAD-3)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from crm.core.audit import audit_history
from crm.core.config import settings_update
from crm.core.errors import (
    ConflictError,
    DuplicateWarning,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.leads.models import Lead
from crm.leads.selectors import lead_get
from crm.leads.services import lead_create, lead_delete, lead_restore, lead_update
from crm.leads.signals import lead_created
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def _data(**extra):
    return {
        "company": "上海示例科技有限公司",
        "name": "王磊",
        "phone": "13900001111",
        "source": "trade_show",
        "grade": "A",
        **extra,
    }


def test_create_numbers_normalises_and_sets_the_sla(org):
    lead = lead_create(
        actor=org.rep1,
        data=_data(phone="139 0000 1111", email="Wang@Example.COM", budget="150,000"),
    )
    assert re.fullmatch(r"XS\d{6}\d{4}", lead.number)
    assert lead.phone == "13900001111"
    assert lead.email == "Wang@example.com"
    assert lead.budget == Decimal("150000.00")
    assert lead.status == "new"
    assert lead.owner == org.rep1  # a rep without assign owns what they create
    assert lead.created_by == org.rep1
    assert lead.first_contact_due_at == lead.created_at + dt.timedelta(hours=24)
    assert lead.sla_state == "on_time"
    assert lead.company_key and lead.phone_digits == "13900001111"
    assert lead.email_key == "wang@example.com"
    assert "sh" in lead.pinyin
    assert "王磊" in lead.search_blob
    entry = audit_history(lead).first()
    assert entry.action == "create" and entry.actor == org.rep1


def test_grade_c_has_no_deadline_and_b_48_hours(org):
    c = lead_make(owner=org.rep1, grade="C")
    assert c.first_contact_due_at is None and c.sla_state == "none"
    b = lead_make(owner=org.rep1, grade="B")
    assert b.first_contact_due_at == b.created_at + dt.timedelta(hours=48)


def test_changed_sla_setting_applies_to_new_leads(org):
    settings_update(actor=org.admin, key="lead_sla_hours", value={"A": 2, "B": 48, "C": 72})
    lead = lead_make(owner=org.rep1, grade="A")
    assert lead.first_contact_due_at == lead.created_at + dt.timedelta(hours=2)
    assert lead.sla_state == "due_soon"  # within the 4 hours of "due soon"
    c = lead_make(owner=org.rep1, grade="C")
    assert c.first_contact_due_at == c.created_at + dt.timedelta(hours=72)


def test_every_bad_field_at_once(org):
    with pytest.raises(ValidationFailed) as exc:
        lead_create(
            actor=org.rep1,
            data={
                "company": "",
                "name": "",
                "phone": "12",
                "email": "nope",
                "source": "martians",
                "region": "moon",
                "grade": "D",
                "budget": "-5",
                "requirement": "x" * 5001,
            },
        )
    assert set(exc.value.fields) == {
        "company",
        "name",
        "phone",
        "email",
        "source",
        "region",
        "grade",
        "budget",
        "requirement",
    }
    assert not Lead.objects.exists()


def test_phone_or_email_needed_and_a_short_company_name_is_accepted(org):
    with pytest.raises(ValidationFailed) as exc:
        lead_create(actor=org.rep1, data=_data(phone="", email=""))
    assert "phone" in exc.value.fields
    lead = lead_create(actor=org.rep1, data=_data(company="华科", email="a@b.cn", phone=""))
    assert lead.company == "华科"


def test_status_is_not_settable(org):
    with pytest.raises(ValidationFailed) as exc:
        lead_create(actor=org.rep1, data=_data(status="qualified"))
    assert "status" in exc.value.fields
    lead = lead_create(actor=org.rep1, data=_data(status="new"))
    with pytest.raises(ValidationFailed):
        lead_update(actor=org.rep1, lead=lead, data={"status": "converted"}, version=lead.version)


def test_permission_needed(org):
    with pytest.raises(PermissionDeniedError):
        lead_create(actor=org.service, data=_data())
    with pytest.raises(PermissionDeniedError):
        lead_create(actor=org.finance, data=_data())


def test_owner_rules(org):
    # A rep may not give a lead to someone else.
    with pytest.raises(ValidationFailed) as exc:
        lead_create(actor=org.rep1, data=_data(owner_id=org.rep2.pk))
    assert "owner" in exc.value.fields
    # A manager (assign) leaves it unassigned, or gives it within their scope.
    unassigned = lead_create(actor=org.manager, data=_data())
    assert unassigned.owner is None and unassigned.assigned_at is None
    given = lead_create(
        actor=org.manager,
        data=_data(company="杭州另一家有限公司", phone="13900002222", owner_id=org.rep2.pk),
    )
    assert given.owner == org.rep2 and given.assigned_at is not None
    # ... but not to someone outside it, nor to a user who cannot own leads.
    for outsider in (org.rep3, org.service):
        with pytest.raises(ValidationFailed):
            lead_create(
                actor=org.manager,
                data=_data(company="第三家有限公司", phone="13900003333", owner_id=outsider.pk),
            )


def test_web_form_lead_has_no_actor_and_no_owner(org):
    lead = lead_create(actor=None, data=_data(owner_id=org.rep1.pk))
    assert lead.owner is None and lead.created_by is None
    assert audit_history(lead).first().actor_name


def test_lead_created_is_sent_inside_the_transaction(org):
    heard = []

    def receiver(sender, *, lead, actor, web_form, **kwargs):
        heard.append((lead.pk, actor, web_form, transaction.get_connection().in_atomic_block))
        Lead.objects.filter(pk=lead.pk).update(owner=org.rep2)  # as the assignment would

    lead_created.connect(receiver)
    try:
        lead = lead_create(actor=org.manager, data=_data())
    finally:
        lead_created.disconnect(receiver)
    assert heard == [(lead.pk, org.manager, None, True)]
    assert lead.owner == org.rep2  # the returned lead is read back after the signal


def test_update_versioned_and_grade_moves_the_deadline(org):
    lead = lead_make(owner=org.rep1, grade="B")
    stale = lead.version
    updated = lead_update(actor=org.rep1, lead=lead, data={"grade": "A"}, version=lead.version)
    assert updated.first_contact_due_at == lead.created_at + dt.timedelta(hours=24)
    assert updated.version == stale + 1
    with pytest.raises(ConflictError):
        lead_update(actor=org.rep1, lead=lead, data={"title": "总监"}, version=stale)
    entry = audit_history(updated).first()
    assert entry.action == "update"
    assert {c["field"] for c in entry.changes} >= {"grade", "first_contact_due_at"}


def test_update_outside_scope_is_not_found(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(NotFoundError):
        lead_update(actor=org.rep2, lead=lead, data={"title": "x"}, version=lead.version)


def test_rep_cannot_reassign_but_manager_can(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(ValidationFailed):
        lead_update(actor=org.rep1, lead=lead, data={"owner_id": org.rep2.pk}, version=1)
    moved = lead_update(actor=org.manager, lead=lead, data={"owner_id": org.rep2.pk}, version=1)
    assert moved.owner == org.rep2
    freed = lead_update(actor=org.manager, lead=moved, data={"owner_id": None}, version=2)
    assert freed.owner is None and freed.assigned_at is None


def test_delete_and_restore(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(PermissionDeniedError):
        lead_delete(actor=org.rep1, lead=lead)
    deleted = lead_delete(actor=org.manager, lead=lead, version=lead.version)
    assert deleted.deleted_at is not None
    with pytest.raises(NotFoundError):
        lead_get(user=org.rep1, lead_id=lead.pk)
    with pytest.raises(ConflictError):
        lead_delete(actor=org.manager, lead=lead, version=lead.version)
    with pytest.raises(ConflictError):
        lead_update(actor=org.manager, lead=lead, data={"title": "x"}, version=deleted.version)
    restored = lead_restore(actor=org.manager, lead=lead)
    assert restored.deleted_at is None
    assert lead_get(user=org.rep1, lead_id=lead.pk).pk == lead.pk
    actions = [e.action for e in audit_history(lead)]
    assert actions[:2] == ["restore", "delete"]


def test_duplicate_of_a_customer_warns_with_a_link_where_visible(org):
    customer = customer_make(owner=org.rep1, name="北京华科技术有限公司", phone="13811112222")
    with pytest.raises(DuplicateWarning) as exc:
        lead_create(actor=org.rep1, data=_data(company="北京华科技术有限公司", phone="13800000000"))
    warnings = exc.value.extra["warnings"]
    assert warnings == [
        {
            "kind": "customer",
            "field": "company",
            "id": customer.pk,
            "number": customer.number,
            "name": customer.name,
            "visible": True,
            "url": f"/customers/{customer.pk}/",
        }
    ]
    # Another rep sees only whose it is.
    with pytest.raises(DuplicateWarning) as exc:
        lead_create(actor=org.rep2, data=_data(company="某某有限公司", phone="13811112222"))
    (item,) = exc.value.extra["warnings"]
    assert item == {"kind": "customer", "field": "phone", "owner": "李明", "visible": False}
    assert "李明" in exc.value.fields["phone"][0]
    # Confirmed, it saves.
    lead = lead_create(
        actor=org.rep2,
        data=_data(company="某某有限公司", phone="13811112222"),
        confirm_duplicates=True,
    )
    assert lead.pk


def test_duplicate_of_an_open_lead_warns_and_a_closed_one_does_not(org):
    first = lead_make(owner=org.rep1, email="same@example.com")
    with pytest.raises(DuplicateWarning) as exc:
        lead_create(actor=org.rep1, data=_data(email="SAME@example.com", phone=""))
    (item,) = exc.value.extra["warnings"]
    assert item["kind"] == "lead" and item["id"] == first.pk and item["field"] == "email"
    Lead.objects.filter(pk=first.pk).update(status="disqualified")
    assert lead_create(actor=org.rep1, data=_data(email="same@example.com", phone="")).pk


def test_duplicate_check_on_update_of_changed_keys_only(org):
    lead_make(owner=org.rep1, phone="13722223333")
    other = lead_make(owner=org.rep1)
    with pytest.raises(DuplicateWarning):
        lead_update(actor=org.rep1, lead=other, data={"phone": "13722223333"}, version=1)
    # Its own keys never match itself.
    same = lead_update(actor=org.rep1, lead=other, data={"title": "总监"}, version=1)
    assert same.version == 2


def test_duplicate_rule_off_is_respected(org):
    lead_make(owner=org.rep1, phone="13733334444")
    settings_update(
        actor=org.admin,
        key="duplicate_rules",
        value={"name": "block", "credit_code": "block", "phone": "off", "email": "warn"},
    )
    assert lead_create(actor=org.rep1, data=_data(phone="13733334444")).pk


def test_retired_source_stays_acceptable_on_edit(org):
    lead = lead_make(owner=org.rep1, source="salon")
    from crm.core.models import DictionaryItem

    DictionaryItem.objects.filter(kind="source", code="salon").update(is_active=False)
    from crm.core.dictionaries import dictionaries_clear_cache

    dictionaries_clear_cache()
    updated = lead_update(
        actor=org.rep1, lead=lead, data={"source": "salon", "title": "x"}, version=1
    )
    assert updated.source == "salon"
    with pytest.raises(ValidationFailed):
        lead_create(actor=org.rep1, data=_data(source="salon", phone="13744445555"))


def test_sla_state_breached_for_an_old_lead(org):
    lead = lead_make(owner=org.rep1, grade="A")
    from crm.leads.clocks import lead_sla_state_at

    later = timezone.now() + dt.timedelta(hours=25)
    assert lead_sla_state_at(lead=lead, now=later) == "breached"


def test_purge_sweep_removes_old_binned_leads_with_their_followups(org):
    from crm.activities.models import FollowUp
    from crm.leads.services import leads_purge_expired
    from crm.tests_support.activities import followup_make

    old = lead_make(owner=org.rep1)
    followup_make(lead=old)
    recent = lead_make(owner=org.rep1)
    lead_delete(actor=org.manager, lead=old)
    lead_delete(actor=org.manager, lead=recent)
    Lead.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - dt.timedelta(days=31))
    assert leads_purge_expired() == 1
    assert not Lead.objects.filter(pk=old.pk).exists()
    assert not FollowUp.objects.filter(lead_id=old.pk).exists()
    assert Lead.objects.filter(pk=recent.pk).exists()
    assert leads_purge_expired() == 0
