"""LEAD-3: the lead_sla sweep (states as of a moment, due-soon reminder and breach notices
once each) and the leads' cadence in the followup_cadence sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.activities.clocks import followup_cadence_sweep
from crm.core.config import setting_set
from crm.leads.clocks import lead_sla_state_at
from crm.leads.models import Lead
from crm.leads.sweeps import lead_sla_sweep, leads_cadence_sweep
from crm.notify.models import Notification
from crm.tests_support.clocks import backdate, lead_row_make

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def _state(lead):
    lead.refresh_from_db()
    return lead.sla_state


def test_states_follow_the_clock_and_match_the_rule(org):
    start = timezone.now()
    a = lead_row_make(owner=org.rep1, grade="A", created_at=start)  # 24 h
    b = lead_row_make(owner=org.rep1, grade="B", created_at=start)  # 48 h
    c = lead_row_make(owner=org.rep1, grade="C", created_at=start)  # none
    for hours, expected in ((1, "on_time"), (20, "due_soon"), (24, "breached")):
        lead_sla_sweep(now=start + hours * HOUR)
        assert _state(a) == expected
        for lead in (a, b, c):
            assert _state(lead) == lead_sla_state_at(lead=lead, now=start + hours * HOUR)
    assert _state(b) == "on_time" and _state(c) == "none"
    # Disqualified before any contact: off the clock.
    backdate(b, status="disqualified")
    lead_sla_sweep(now=start + 50 * HOUR)
    assert _state(b) == "none"


def test_reminder_and_breach_once_each_to_owner_and_supervisor(org):
    assert org.rep1.supervisor_id == org.manager.pk
    start = timezone.now()
    lead = lead_row_make(owner=org.rep1, grade="A", created_at=start)
    lead_sla_sweep(now=start + 21 * HOUR)
    lead_sla_sweep(now=start + 21 * HOUR + dt.timedelta(minutes=5))
    due = Notification.objects.filter(kind="lead_sla_due")
    assert list(due.values_list("recipient__username", flat=True)) == ["rep1"]
    lead_sla_sweep(now=start + 25 * HOUR)
    lead_sla_sweep(now=start + 26 * HOUR)
    breached = Notification.objects.filter(kind="lead_sla_breached")
    assert sorted(breached.values_list("recipient__username", flat=True)) == ["manager", "rep1"]
    assert lead.number in breached.get(recipient=org.manager).text
    lead.refresh_from_db()
    assert lead.sla_reminded_at and lead.sla_breach_notified_at
    # A second run, or the rows' marks lost: the dedup keys still hold.
    Lead.objects.filter(pk=lead.pk).update(sla_reminded_at=None, sla_breach_notified_at=None)
    lead_sla_sweep(now=start + 27 * HOUR)
    assert Notification.objects.filter(kind__startswith="lead_sla").count() == 3


def test_contacted_and_unassigned_leads_send_nothing(org):
    start = timezone.now()
    met = lead_row_make(owner=org.rep1, grade="A", created_at=start, first_contacted_at=start)
    backdate(met, sla_state="met")
    lead_row_make(owner=None, grade="A", created_at=start)
    lead_sla_sweep(now=start + 30 * HOUR)
    assert _state(met) == "met"
    assert not Notification.objects.filter(kind__startswith="lead_sla").exists()


def test_deactivated_owner_breach_goes_to_the_supervisor(org):
    start = timezone.now()
    lead_row_make(owner=org.rep2, grade="A", created_at=start)
    org.rep2.is_active = False
    org.rep2.save(update_fields=["is_active"])
    lead_sla_sweep(now=start + 21 * HOUR)
    assert not Notification.objects.filter(kind="lead_sla_due").exists()
    lead_sla_sweep(now=start + 25 * HOUR)
    assert list(
        Notification.objects.filter(kind="lead_sla_breached").values_list(
            "recipient__username", flat=True
        )
    ) == [org.rep2.supervisor.username]


def test_changed_due_soon_setting_and_old_breaches(org):
    setting_set(key="lead_sla_due_soon_hours", value=10)
    start = timezone.now()
    lead = lead_row_make(owner=org.rep1, grade="A", created_at=start)
    lead_sla_sweep(now=start + 15 * HOUR)
    assert _state(lead) == "due_soon"
    # A deadline passed more than a week ago: state stored, no burst of notices.
    old = lead_row_make(owner=org.rep1, grade="A", created_at=start - 30 * DAY)
    lead_sla_sweep(now=start + 15 * HOUR)
    assert _state(old) == "breached"
    assert not Notification.objects.filter(kind="lead_sla_breached").exists()


def test_new_deadline_new_notices(org):
    start = timezone.now()
    lead = lead_row_make(owner=org.rep1, grade="A", created_at=start)
    lead_sla_sweep(now=start + 25 * HOUR)
    # The grade changed to B: a later deadline, its own breach notice when it passes.
    backdate(lead, grade="B", first_contact_due_at=start + 48 * HOUR)
    lead_sla_sweep(now=start + 30 * HOUR)
    assert _state(lead) == "on_time"
    lead_sla_sweep(now=start + 49 * HOUR)
    assert Notification.objects.filter(kind="lead_sla_breached", recipient=org.rep1).count() == 2


def test_lead_cadence_by_grade_edges_and_daily_notice(org):
    now = timezone.now()
    exact = lead_row_make(owner=org.rep1, grade="B", created_at=now - 20 * DAY)
    backdate(exact, last_followup_at=now - 14 * DAY)
    late = lead_row_make(owner=org.rep1, grade="B", created_at=now - 20 * DAY)
    backdate(late, last_followup_at=now - 15 * DAY)
    never = lead_row_make(owner=org.rep1, grade="C", created_at=now - 31 * DAY)
    pool = lead_row_make(owner=None, grade="A", created_at=now - 31 * DAY)
    closed = lead_row_make(owner=org.rep1, grade="A", created_at=now - 31 * DAY)
    backdate(closed, status="converted")
    leads_cadence_sweep(now=now)
    for lead in (exact, late, never, pool, closed):
        lead.refresh_from_db()
    assert exact.followup_overdue_since is None
    assert late.followup_overdue_since == now - DAY
    assert never.followup_overdue_since == now - DAY
    assert pool.followup_overdue_since is None and closed.followup_overdue_since is None
    setting_set(key="lead_cadence_days", value={"A": 7, "B": 14, "C": None})
    leads_cadence_sweep(now=now)
    never.refresh_from_db()
    assert never.followup_overdue_since is None
    assert leads_cadence_sweep(now=now) == 0
    followup_cadence_sweep(now=now)
    followup_cadence_sweep(now=now)
    note = Notification.objects.get(kind="followup_cadence", recipient=org.rep1)
    assert "1" in note.text
