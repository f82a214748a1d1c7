"""Follow-up reminders (FUP-2, issue 6 §5): due soon, then overdue, once each, from the sweep
and from `crm sweep --now`."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from crm import cli
from crm.activities.services import (
    followup_reminders_send,
    followup_update,
    followups_purge_expired,
)
from crm.core import sweeps
from crm.core.config import setting_set
from crm.notify.models import Notification
from crm.tests_support.activities import followup_make, followup_plan_at
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NINE = dt.datetime(2027, 1, 15, 9, 0, tzinfo=SHANGHAI)


def test_the_app_registers_its_sweeps():
    registered = sweeps.sweeps_registered()
    assert registered["followup_reminders"] is followup_reminders_send
    assert registered["followup_recycle_bin_purge"] is followups_purge_expired


@pytest.fixture
def plan(org):
    """rep1's plan to visit 华科 on 2027-01-15 at 09:20 Beijing time."""
    customer = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    followup = followup_make(customer=customer, next_in=dt.timedelta(days=1), next_goal="演示")
    return followup_plan_at(followup, dt.datetime(2027, 1, 15, 9, 20, tzinfo=SHANGHAI))


def test_a_plan_within_the_lead_time_reminds_its_author_once(plan, org):
    # when the sweep runs 20 minutes before the plan (lead time 30): one "due soon"
    assert followup_reminders_send(now=NINE) == 1
    note = Notification.objects.get()
    assert (note.recipient, note.kind) == (org.rep1, "followup_due")
    assert "北京华科信息技术有限公司" in note.text and "2027-01-15 09:20" in note.text
    assert "演示" in note.text
    assert note.link == f"/followups/new/?plan={plan.pk}"
    # and running it again sends nothing
    assert followup_reminders_send(now=NINE + dt.timedelta(minutes=5)) == 0
    assert Notification.objects.count() == 1


def test_the_text_is_in_the_company_language(plan, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    followup_reminders_send(now=NINE)
    # msgids are English until the lead fills zh-Hans; the sweep at least renders under it
    assert Notification.objects.get().text


def test_before_the_lead_time_nothing_is_sent(plan):
    assert followup_reminders_send(now=NINE - dt.timedelta(minutes=31)) == 0


def test_an_overdue_plan_reminds_once_more(plan):
    followup_reminders_send(now=NINE)
    assert followup_reminders_send(now=NINE + dt.timedelta(minutes=30)) == 1
    assert followup_reminders_send(now=NINE + dt.timedelta(hours=2)) == 0
    kinds = list(Notification.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["followup_due", "followup_overdue"]


def test_a_plan_overdue_for_longer_than_a_week_is_not_reminded(plan):
    assert followup_reminders_send(now=NINE + dt.timedelta(days=8)) == 0
    assert followup_reminders_send(now=NINE + dt.timedelta(days=6)) == 1


def test_a_re_planned_time_reminds_again(plan, org):
    followup_reminders_send(now=NINE)
    # rep1 moves the plan to 10:20
    followup_plan_at(plan, dt.datetime(2027, 1, 15, 10, 20, tzinfo=SHANGHAI))
    assert followup_reminders_send(now=NINE + dt.timedelta(hours=1)) == 1
    assert Notification.objects.filter(kind="followup_due").count() == 2


def test_a_closed_plan_is_not_reminded(plan, org):
    from crm.activities.services import followup_plan_done

    followup_plan_done(actor=org.rep1, followup=plan)
    assert followup_reminders_send(now=NINE) == 0


def test_a_deactivated_author_is_not_reminded(plan, org):
    from crm.accounts.services import user_deactivate

    user_deactivate(actor=org.admin, user=org.rep1)
    assert followup_reminders_send(now=NINE) == 0


def test_the_lead_time_is_a_setting(plan):
    setting_set(key="followup_reminder_minutes", value=10)
    assert followup_reminders_send(now=NINE) == 0
    assert followup_reminders_send(now=NINE + dt.timedelta(minutes=10)) == 1


def test_crm_sweep_now_runs_the_reminders_as_of_then_and_twice_sends_nothing_twice(plan, capsys):
    # given the plan at 09:20 Beijing time, and the sweeps run "as of 09:00" (no zone: Beijing)
    assert cli.main(["sweep", "--now", "2027-01-15T09:00"]) == 0
    assert "followup_reminders: 1" in capsys.readouterr().out
    # when run again at the same time: nothing more
    assert cli.main(["sweep", "--now", "2027-01-15T09:00"]) == 0
    assert "followup_reminders: 0" in capsys.readouterr().out
    # read as UTC, 09:00 would be 17:00 Beijing time: overdue, one more reminder
    assert cli.main(["sweep", "--now", "2027-01-15T09:00+00:00"]) == 0
    assert "followup_reminders: 1" in capsys.readouterr().out
    # (the other clocks send their own notices: the cadence's daily one, issue 7)
    assert Notification.objects.filter(kind__in=["followup_due", "followup_overdue"]).count() == 2


def test_an_edit_that_keeps_the_time_does_not_remind_again(plan, org):
    followup_reminders_send(now=NINE)
    followup_update(actor=org.manager, followup=plan, data={"next_goal": "改为线上演示"}, version=1)
    assert followup_reminders_send(now=NINE + dt.timedelta(minutes=1)) == 0


def test_a_settled_plan_is_not_read_again_until_it_is_re_planned(plan):
    """The sweep marks the planned time each reminder was settled for, so a steady run reads
    no plan reminded before (at 1M customers a week holds some 240,000 plans)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert followup_reminders_send(now=NINE) == 1
    plan.refresh_from_db()
    assert plan.reminded_soon_for == plan.next_at and plan.reminded_overdue_for is None
    with CaptureQueriesContext(connection) as queries:
        assert followup_reminders_send(now=NINE + dt.timedelta(minutes=5)) == 0
    assert not any("notify_notification" in q["sql"] for q in queries.captured_queries)
    # Overdue now: settled again for the same time, once.
    assert followup_reminders_send(now=NINE + dt.timedelta(minutes=30)) == 1
    plan.refresh_from_db()
    assert plan.reminded_overdue_for == plan.next_at
    assert followup_reminders_send(now=NINE + dt.timedelta(minutes=35)) == 0
    # Marks lost (plans from before the markers): the dedup key still sends nothing twice.
    type(plan).objects.filter(pk=plan.pk).update(reminded_soon_for=None, reminded_overdue_for=None)
    assert followup_reminders_send(now=NINE + dt.timedelta(minutes=40)) == 0
    assert Notification.objects.count() == 2
