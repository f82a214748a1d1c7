"""Converting and disqualifying leads (LEAD-4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.activities.services import followup_create
from crm.core.errors import (
    ConflictError,
    DuplicateWarning,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.models import AuditEntry, TimelineEntry
from crm.customers.models import Contact, Customer
from crm.leads.conversion import lead_convert, lead_disqualify, lead_qualify, lead_requalify
from crm.leads.models import Lead, LeadStatus
from crm.sales.models import Stage
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def _first_stage():
    return Stage.objects.filter(kind="open", is_active=True).order_by("position", "id").first()


def test_convert_into_a_new_customer_with_its_contact(org):
    lead = lead_make(owner=org.rep1, budget=Decimal("80000"), requirement="一套CRM")
    customer, contact, opp = lead_convert(
        actor=org.rep1, lead=lead, customer={"industry": "manufacturing"}
    )
    assert opp is None
    assert customer.name == lead.company and customer.owner == org.rep1
    assert customer.source == "trade_show" and customer.grade == "B"
    assert customer.budget == Decimal("80000.00") and customer.requirement == "一套CRM"
    assert contact.customer == customer and contact.name == lead.name and contact.is_primary
    assert contact.phone == lead.phone
    lead.refresh_from_db()
    assert lead.status == "converted"
    assert lead.converted_customer == customer and lead.converted_contact == contact
    assert lead.converted_by == org.rep1 and lead.converted_at is not None
    assert lead.version == 2
    audit = AuditEntry.objects.get(
        object_id=lead.pk, object_repr__contains=lead.number, action="update"
    )
    assert [c["field"] for c in audit.changes] == [
        "status",
        "converted_customer",
        "converted_contact",
    ]
    line = TimelineEntry.objects.get(customer_id=customer.pk, kind="lead_converted")
    assert line.object_type == "lead" and line.object_id == lead.pk


def test_convert_with_an_opportunity_at_the_first_stage(org):
    lead = lead_make(owner=org.rep1)
    customer, contact, opp = lead_convert(
        actor=org.rep1,
        lead=lead,
        customer={"industry": "it"},
        opportunity={"name": "CRM 一期", "amount": "120000", "expected_close_date": "2027-03-31"},
    )
    assert opp.customer == customer and opp.contact == contact and opp.owner == org.rep1
    assert opp.stage == _first_stage() and opp.amount == Decimal("120000.00")
    assert opp.expected_close_date == dt.date(2027, 3, 31)
    lead.refresh_from_db()
    assert lead.converted_opportunity == opp


def test_customer_field_errors_are_422_with_the_customers_field_names(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        lead_convert(actor=org.rep1, lead=lead, customer={"phone": "12", "grade": "X"})
    assert {"industry", "phone", "grade"} <= set(exc.value.fields)
    lead.refresh_from_db()
    assert lead.status == "new" and not Customer.objects.filter(name=lead.company).exists()


def test_opportunity_errors_are_prefixed_and_nothing_is_saved(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        lead_convert(
            actor=org.rep1, lead=lead, customer={"industry": "it"}, opportunity={"amount": "x"}
        )
    assert {"opportunity.name", "opportunity.amount"} <= set(exc.value.fields)
    assert not Customer.objects.filter(name=lead.company).exists()
    lead.refresh_from_db()
    assert lead.status == "new"


def test_duplicates_are_409_until_confirmed(org):
    existing = customer_make(owner=org.rep1, phone="13912345678")
    lead = lead_make(owner=org.rep1, phone="13912345678")
    with pytest.raises(DuplicateWarning) as exc:
        lead_convert(actor=org.rep1, lead=lead, customer={"industry": "it"})
    assert exc.value.status == 409
    assert exc.value.extra["warnings"][0]["id"] == existing.pk
    customer, _c, _o = lead_convert(
        actor=org.rep1, lead=lead, customer={"industry": "it"}, confirm_duplicates=True
    )
    assert customer.pk != existing.pk


def test_the_same_company_name_is_refused(org):
    existing = customer_make(owner=org.rep1)
    lead = lead_make(owner=org.rep1, company=existing.name)
    with pytest.raises(ConflictError) as exc:
        lead_convert(
            actor=org.rep1, lead=lead, customer={"industry": "it"}, confirm_duplicates=True
        )
    assert exc.value.code == "duplicate"


def test_convert_into_an_existing_customer_adds_the_person_as_a_contact(org):
    existing = customer_make(owner=org.rep1)
    lead = lead_make(owner=org.rep1, name="赵女士")
    customer, contact, _o = lead_convert(actor=org.rep1, lead=lead, customer_id=existing.pk)
    assert customer == existing
    assert contact.customer == existing and contact.name == "赵女士" and not contact.is_primary


def test_convert_into_an_existing_customer_reuses_a_matching_contact(org):
    existing = customer_make(
        owner=org.rep1, contacts=[{"name": "钱总", "phone": "13955556666", "is_primary": True}]
    )
    lead = lead_make(owner=org.rep1, name="钱先生", phone="139-5555-6666")
    before = Contact.objects.count()
    _cust, contact, _o = lead_convert(actor=org.rep1, lead=lead, customer_id=existing.pk)
    assert contact.name == "钱总" and Contact.objects.count() == before


def test_an_existing_customer_outside_the_scope_is_refused(org):
    theirs = customer_make(owner=org.rep3)
    lead = lead_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        lead_convert(actor=org.rep1, lead=lead, customer_id=theirs.pk)
    assert "customer_id" in exc.value.fields


def test_the_leads_followups_appear_on_the_customers_timeline(org):
    lead = lead_make(owner=org.rep1)
    now = timezone.now()
    followups = [
        followup_create(
            actor=org.rep1,
            data={
                "lead": lead.pk,
                "method": "phone",
                "occurred_at": now - dt.timedelta(days=d),
                "summary": f"第{d}次沟通",
            },
        )
        for d in (3, 1)
    ]
    assert not TimelineEntry.objects.filter(
        kind="followup", object_id__in=[f.pk for f in followups]
    )
    customer, contact, _o = lead_convert(actor=org.rep1, lead=lead, customer={"industry": "it"})
    for f in followups:
        f.refresh_from_db()
        assert f.customer == customer and f.lead == lead and f.contact == contact
    lines = TimelineEntry.objects.filter(customer_id=customer.pk, kind="followup").order_by("at")
    assert [line.object_id for line in lines] == [f.pk for f in followups]
    assert [line.at for line in lines] == [f.occurred_at for f in followups]
    customer.refresh_from_db()
    assert customer.last_followup_at == followups[1].occurred_at
    assert customer.last_activity_at >= followups[1].occurred_at


def test_a_converted_lead_cannot_be_converted_or_disqualified_again(org):
    lead = lead_make(owner=org.rep1)
    lead_convert(actor=org.rep1, lead=lead, customer={"industry": "it"})
    with pytest.raises(ConflictError):
        lead_convert(actor=org.rep1, lead=lead, customer={"industry": "it"})
    with pytest.raises(ConflictError):
        lead_disqualify(actor=org.rep1, lead=lead, reason="no_need")
    with pytest.raises(ConflictError):
        lead_requalify(actor=org.rep1, lead=lead)


def test_convert_needs_edit_and_the_lead_in_scope(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(PermissionDeniedError):
        lead_convert(actor=org.service, lead=lead, customer={"industry": "it"})
    with pytest.raises(NotFoundError):
        lead_convert(actor=org.rep3, lead=lead, customer={"industry": "it"})


def test_disqualify_needs_a_reason_from_the_list(org):
    lead = lead_make(owner=org.rep1)
    Lead.objects.filter(pk=lead.pk).update(status="contacted")
    for reason in ("", None, "太贵", "made_up"):
        with pytest.raises(ValidationFailed) as exc:
            lead_disqualify(actor=org.rep1, lead=lead, reason=reason)
        assert "reason" in exc.value.fields
    lead_disqualify(actor=org.rep1, lead=lead, reason="无预算", note="明年再说")
    lead.refresh_from_db()
    assert lead.status == "disqualified" and lead.disqualify_reason == "no_budget"
    assert lead.disqualify_note == "明年再说" and lead.status_before_disqualify == "contacted"
    with pytest.raises(ConflictError):
        lead_disqualify(actor=org.rep1, lead=lead, reason="no_need")
    with pytest.raises(ConflictError):
        lead_convert(actor=org.rep1, lead=lead, customer={"industry": "it"})


@pytest.mark.parametrize(
    "code", ["no_need", "no_budget", "unreachable", "competitor_customer", "duplicate", "other"]
)
def test_every_seeded_reason_is_accepted(org, code):
    lead = lead_make(owner=org.rep1)
    lead_disqualify(actor=org.rep1, lead=lead, reason=code)
    assert Lead.objects.get(pk=lead.pk).disqualify_reason == code


def test_requalify_puts_back_the_status_it_had(org):
    lead = lead_make(owner=org.rep1)
    Lead.objects.filter(pk=lead.pk).update(status="qualified")
    lead_disqualify(actor=org.rep1, lead=lead, reason="unreachable")
    lead_requalify(actor=org.rep1, lead=lead)
    lead.refresh_from_db()
    assert lead.status == "qualified"
    assert lead.disqualify_reason == "" and lead.disqualified_at is None
    assert lead.status_before_disqualify == ""
    with pytest.raises(ConflictError):
        lead_requalify(actor=org.rep1, lead=lead)
    assert AuditEntry.objects.filter(object_id=lead.pk, action="update").count() == 2


# --- qualification -----------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["new", "contacted"])
def test_qualify_a_new_or_contacted_lead(org, start):
    lead = lead_make(owner=org.rep1)
    # The sweep found it breached; qualifying does not settle the first contact.
    Lead.objects.filter(pk=lead.pk).update(status=start, sla_state="breached")
    lead.refresh_from_db()
    version = lead.version
    lead_qualify(actor=org.rep1, lead=lead)
    assert lead.status == "qualified" and lead.version == version + 1
    lead.refresh_from_db()
    assert lead.status == "qualified" and lead.version == version + 1
    assert lead.updated_by == org.rep1
    # Still open: its first-contact clock stands as the sweep left it (no follow-up yet).
    assert lead.sla_state == "breached"
    audit = AuditEntry.objects.get(object_id=lead.pk, action="update")
    assert audit.actor == org.rep1
    assert audit.changes == [
        {
            "field": "status",
            "before": str(LeadStatus(start).label),
            "after": str(LeadStatus.QUALIFIED.label),
        }
    ]


def test_qualify_refuses_closed_or_qualified_leads(org):
    lead = lead_make(owner=org.rep1)
    lead_qualify(actor=org.rep1, lead=lead)
    with pytest.raises(ConflictError):
        lead_qualify(actor=org.rep1, lead=lead)
    other = lead_make(owner=org.rep1)
    lead_disqualify(actor=org.rep1, lead=other, reason="no_need")
    with pytest.raises(ConflictError):
        lead_qualify(actor=org.rep1, lead=other)
    converted = lead_make(owner=org.rep1)
    lead_convert(actor=org.rep1, lead=converted, customer={"industry": "it"})
    with pytest.raises(ConflictError):
        lead_qualify(actor=org.rep1, lead=converted)
    for item in (lead, other, converted):
        assert AuditEntry.objects.filter(object_id=item.pk, action="update").count() == 1
    assert Lead.objects.get(pk=other.pk).status == "disqualified"
    assert Lead.objects.get(pk=converted.pk).status == "converted"


def test_qualify_needs_edit_and_the_lead_in_scope(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(PermissionDeniedError):
        lead_qualify(actor=org.service, lead=lead)
    with pytest.raises(NotFoundError):
        lead_qualify(actor=org.rep3, lead=lead)
    assert Lead.objects.get(pk=lead.pk).status == "new"


def test_a_qualified_lead_disqualified_and_requalified_is_qualified_again(org):
    lead = lead_make(owner=org.rep1)
    lead_qualify(actor=org.rep1, lead=lead)
    lead_disqualify(actor=org.rep1, lead=lead, reason="no_budget")
    assert Lead.objects.get(pk=lead.pk).status_before_disqualify == "qualified"
    lead_requalify(actor=org.rep1, lead=lead)
    lead.refresh_from_db()
    assert lead.status == "qualified" and lead.version == 4
    # A qualified lead's first follow-up leaves its status alone (only new → contacted).
    followup_create(
        actor=org.rep1,
        data={
            "lead": lead.pk,
            "method": "phone",
            "occurred_at": timezone.now(),
            "summary": "确认预算",
        },
    )
    lead.refresh_from_db()
    assert lead.status == "qualified" and lead.first_contacted_at is not None
    lead_convert(actor=org.rep1, lead=lead, customer={"industry": "it"})
    assert Lead.objects.get(pk=lead.pk).status == "converted"
