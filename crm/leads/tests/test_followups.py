"""Follow-ups on a lead (issue 7 §1): the first one marks it contacted and settles the SLA
(LEAD-3); lead follow-ups follow the lead's scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.activities.selectors import FollowUpFilters, followup_get, followup_list
from crm.activities.services import followup_create, followup_delete, followup_update
from crm.core.audit import audit_history
from crm.core.errors import NotFoundError, ValidationFailed
from crm.core.models import TimelineEntry
from crm.leads.models import Lead
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def _log(actor, lead, **extra):
    data = {"lead": lead.pk, "method": "phone", "summary": "首次电话沟通", **extra}
    return followup_create(actor=actor, data=data)


def test_first_followup_marks_the_lead_contacted(org):
    lead = lead_make(owner=org.rep1, grade="A")
    Lead.objects.filter(pk=lead.pk).update(followup_overdue_since=timezone.now())
    when = timezone.now() - dt.timedelta(minutes=10)
    first = _log(org.rep1, lead, occurred_at=when)
    lead.refresh_from_db()
    assert first.lead_id == lead.pk and first.customer_id is None
    assert lead.status == "contacted"
    assert lead.first_contacted_at == when
    assert lead.sla_state == "met"
    assert lead.last_followup_at == when
    assert lead.followup_overdue_since is None
    assert lead.version == 1  # derived columns: an open edit form does not conflict
    assert not TimelineEntry.objects.exists()  # no customer yet: no timeline line
    entry = audit_history(lead).first()
    assert {c["field"] for c in entry.changes} == {"first_contacted_at", "status"}
    # A second one moves only the last follow-up.
    second = _log(org.rep1, lead)
    lead.refresh_from_db()
    assert lead.first_contacted_at == when
    assert lead.last_followup_at == second.occurred_at


def test_first_contact_does_not_move_a_qualified_status(org):
    lead = lead_make(owner=org.rep1)
    Lead.objects.filter(pk=lead.pk).update(status="qualified")
    _log(org.rep1, lead)
    lead.refresh_from_db()
    assert lead.status == "qualified" and lead.sla_state == "met"


def test_a_failed_followup_leaves_the_lead_untouched(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(ValidationFailed):
        _log(org.rep1, lead, summary="")
    lead.refresh_from_db()
    assert lead.status == "new" and lead.first_contacted_at is None


def test_lead_or_customer_exactly_one(org):
    lead = lead_make(owner=org.rep1)
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        followup_create(
            actor=org.rep1,
            data={"method": "phone", "summary": "x", "lead": lead.pk, "customer": customer.pk},
        )
    assert "lead" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        followup_create(actor=org.rep1, data={"method": "phone", "summary": "x"})
    assert "customer" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        _log(org.rep1, lead, contact=customer.contacts.first().pk)
    assert "contact" in exc.value.fields


def test_lead_outside_scope_is_not_found_and_converted_is_refused(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(NotFoundError):
        _log(org.rep2, lead)
    free = lead_make()
    with pytest.raises(NotFoundError):
        _log(org.rep1, free)
    assert _log(org.manager, free).lead_id == free.pk
    Lead.objects.filter(pk=lead.pk).update(status="converted")
    with pytest.raises(ValidationFailed) as exc:
        _log(org.rep1, lead)
    assert "lead" in exc.value.fields


def test_lead_followups_follow_the_lead_scope(org):
    lead = lead_make(owner=org.rep1)
    by_manager = _log(org.manager, lead)  # the manager logs on the rep's lead
    assert followup_get(user=org.rep1, followup_id=by_manager.pk) == by_manager
    with pytest.raises(NotFoundError):
        followup_get(user=org.rep2, followup_id=by_manager.pk)
    with pytest.raises(NotFoundError):
        followup_get(user=org.service, followup_id=by_manager.pk)  # no leads permission
    rows = followup_list(user=org.rep1, filters=FollowUpFilters(lead_id=lead.pk))
    assert list(rows) == [by_manager]
    # A lead in the recycle bin hides its follow-ups.
    Lead.objects.filter(pk=lead.pk).update(deleted_at=timezone.now())
    with pytest.raises(NotFoundError):
        followup_get(user=org.rep1, followup_id=by_manager.pk)


def test_edit_and_delete_refresh_the_lead(org):
    lead = lead_make(owner=org.rep1)
    first = _log(org.rep1, lead, occurred_at=timezone.now() - dt.timedelta(hours=2))
    second = _log(org.rep1, lead, occurred_at=timezone.now() - dt.timedelta(hours=1))
    followup_update(actor=org.rep1, followup=second, data={"summary": "改"}, version=1)
    followup_delete(actor=org.manager, followup=second)
    lead.refresh_from_db()
    assert lead.last_followup_at == first.occurred_at
    assert FollowUp.objects.filter(lead=lead, deleted_at__isnull=True).count() == 1


def test_api_accepts_lead_id(org):
    lead = lead_make(owner=org.rep1)
    api = api_as(org.rep1)
    res = api.post("followups", {"lead_id": lead.pk, "method": "phone", "summary": "电话"})
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["lead_id"] == lead.pk and body["customer_id"] is None
    res = api.get("followups", {"lead_id": lead.pk})
    assert [f["id"] for f in res.json()["items"]] == [body["id"]]
    lead.refresh_from_db()
    assert lead.status == "contacted"
    assert (
        api_as(org.rep2)
        .post("followups", {"lead_id": lead.pk, "method": "phone", "summary": "x"})
        .status_code
        == 404
    )
