"""Customers' cadence (FUP-3) and dormancy (CUS-10) clocks: the sweeps as of a moment, the
edges, the settings, and what a follow-up or an opportunity settles at once."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from crm.activities.clocks import followup_cadence_sweep
from crm.core.config import setting_set
from crm.customers.clocks import (
    cadence_intervals,
    customer_dormant_since_at,
    customer_overdue_since_at,
    customers_cadence_sweep,
    customers_dormant_sweep,
)
from crm.customers.models import Customer
from crm.notify.models import Notification
from crm.tests_support.activities import followup_make
from crm.tests_support.clocks import backdate
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def _reload(customer):
    customer.refresh_from_db()
    return customer


def test_cadence_default_by_grade_and_the_exact_edge(org):
    now = timezone.now()
    last = now - 7 * DAY  # grade B: weekly
    exact = backdate(customer_make(owner=org.rep1, grade="B"), last_followup_at=last)
    later = backdate(
        customer_make(owner=org.rep1, grade="B"), last_followup_at=last - dt.timedelta(seconds=1)
    )
    a = backdate(customer_make(owner=org.rep1, grade="A"), last_followup_at=now - 4 * DAY)
    c = backdate(customer_make(owner=org.rep1, grade="C"), last_followup_at=now - 13 * DAY)
    customers_cadence_sweep(now=now)
    # Exactly the interval ago is not yet "older than" it.
    assert _reload(exact).followup_overdue_since is None
    assert _reload(later).followup_overdue_since == last - dt.timedelta(seconds=1) + 7 * DAY
    assert _reload(a).followup_overdue_since == now - 4 * DAY + dt.timedelta(days=3.5)
    assert _reload(c).followup_overdue_since is None


def test_never_followed_up_counts_from_owner_then_creation(org):
    now = timezone.now()
    customer = backdate(
        customer_make(owner=org.rep1, grade="C"), created_at=now - 30 * DAY, owned_since=None
    )
    claimed = backdate(
        customer_make(owner=org.rep1, grade="C"),
        created_at=now - 30 * DAY,
        owned_since=now - 20 * DAY,
    )
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since == now - 30 * DAY + 14 * DAY
    assert _reload(claimed).followup_overdue_since == now - 20 * DAY + 14 * DAY


def test_grade_without_clock_and_changed_setting(org):
    now = timezone.now()
    customer = backdate(customer_make(owner=org.rep1, grade="B"), last_followup_at=now - 5 * DAY)
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is None
    setting_set(key="customer_cadence_days", value={"A": 3.5, "B": 3, "C": 14})
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since == now - 5 * DAY + 3 * DAY
    setting_set(key="customer_cadence_days", value={"A": 3.5, "B": None, "C": 14})
    assert cadence_intervals()["B"] is None
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is None


def test_pool_customer_has_no_clock(org):
    now = timezone.now()
    customer = backdate(customer_make(owner=org.rep1, grade="B"), last_followup_at=now - 30 * DAY)
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is not None
    backdate(customer, owner=None)
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is None


def test_lost_customer_has_no_cadence_clock(org):
    """流失 customers are not chased by daily overdue reminders (the dormant list is where
    winning them back starts)."""
    now = timezone.now()
    customer = backdate(customer_make(owner=org.rep1, grade="B"), last_followup_at=now - 30 * DAY)
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is not None
    backdate(customer, status="lost")
    assert customer_overdue_since_at(_reload(customer), now=now) is None
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is None
    lost = backdate(
        customer_make(owner=org.rep1, grade="B", status="lost"), last_followup_at=now - 30 * DAY
    )
    customers_cadence_sweep(now=now)
    assert _reload(lost).followup_overdue_since is None


def test_back_in_cadence_and_moved_moment(org):
    now = timezone.now()
    customer = backdate(customer_make(owner=org.rep1, grade="B"), last_followup_at=now - 30 * DAY)
    customers_cadence_sweep(now=now)
    # A follow-up deleted or edited elsewhere moves the base: the stored moment follows.
    backdate(customer, last_followup_at=now - 20 * DAY)
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since == now - 13 * DAY
    backdate(customer, last_followup_at=now - DAY)
    customers_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is None


def test_follow_up_clears_overdue_and_dormant_at_once(org):
    now = timezone.now()
    customer = backdate(
        customer_make(owner=org.rep1, grade="B"),
        created_at=now - 200 * DAY,
        last_followup_at=now - 120 * DAY,
        last_activity_at=now - 120 * DAY,
    )
    customers_cadence_sweep(now=now)
    customers_dormant_sweep(now=now)
    _reload(customer)
    assert customer.followup_overdue_since and customer.dormant_since
    followup_make(customer=customer, ago=dt.timedelta(minutes=5))
    _reload(customer)
    assert customer.followup_overdue_since is None
    assert customer.dormant_since is None
    assert customer.last_activity_at > now - dt.timedelta(minutes=6)


def test_sweep_matches_the_one_customer_rule(org):
    """The set-based UPDATEs store what the per-customer rule says, whatever the mix."""
    rnd = random.Random(7)
    now = timezone.now()
    made = []
    for i in range(24):
        customer = customer_make(owner=org.rep1 if i % 5 else org.rep3, grade="ABC"[i % 3])
        values = {"created_at": now - rnd.randint(1, 400) * DAY}
        if i % 4:
            values["last_followup_at"] = now - dt.timedelta(hours=rnd.randint(1, 24 * 40))
            values["last_activity_at"] = values["last_followup_at"]
        if i % 7 == 0:
            values["owner"] = None
        made.append(backdate(customer, **values))
    for moment in (now, now + 10 * DAY, now + 100 * DAY):
        customers_cadence_sweep(now=moment)
        customers_dormant_sweep(now=moment)
        for customer in made:
            _reload(customer)
            assert customer.followup_overdue_since == customer_overdue_since_at(
                customer, now=moment
            )
            assert customer.dormant_since == customer_dormant_since_at(customer, now=moment)
        # A second run finds nothing to change.
        assert customers_cadence_sweep(now=moment) == 0
        assert customers_dormant_sweep(now=moment) == 0


def test_dormant_default_exact_edge_and_setting(org):
    now = timezone.now()
    exact = backdate(customer_make(owner=org.rep1), last_activity_at=now - 90 * DAY)
    younger = backdate(
        customer_make(owner=org.rep1), last_activity_at=now - 90 * DAY + dt.timedelta(seconds=1)
    )
    never = backdate(customer_make(owner=org.rep1), owner=None, created_at=now - 100 * DAY)
    customers_dormant_sweep(now=now)
    assert _reload(exact).dormant_since == now
    assert _reload(younger).dormant_since is None
    # Pool customers can be dormant too: it is the customer's fact, not the owner's.
    assert _reload(never).dormant_since == now - 10 * DAY
    setting_set(key="dormant_days", value=30)
    customers_dormant_sweep(now=now)
    assert _reload(younger).dormant_since == now - 60 * DAY + dt.timedelta(seconds=1)


def test_opportunity_activity_wakes_a_dormant_customer(org):
    from crm.sales.services import opportunity_move_stage
    from crm.tests_support.sales import opportunity_make, stage

    now = timezone.now()
    customer = customer_make(owner=org.rep1)
    opportunity = opportunity_make(owner=org.rep1, customer=customer)
    assert _reload(customer).last_activity_at is not None
    backdate(customer, last_activity_at=now - 100 * DAY, created_at=now - 200 * DAY)
    customers_dormant_sweep(now=now)
    assert _reload(customer).dormant_since is not None
    opportunity_move_stage(
        actor=org.rep1, opportunity=opportunity, stage=stage("needs"), version=opportunity.version
    )
    _reload(customer)
    assert customer.dormant_since is None
    assert customer.last_activity_at > now - dt.timedelta(minutes=1)


def test_daily_notice_once_per_owner_per_day(org):
    now = timezone.make_aware(dt.datetime(2027, 3, 1, 23, 0), timezone.get_default_timezone())
    for _i in range(3):
        backdate(customer_make(owner=org.rep1, grade="B"), last_followup_at=now - 30 * DAY)
    backdate(customer_make(owner=org.rep3, grade="B"), last_followup_at=now - 30 * DAY)
    followup_cadence_sweep(now=now)
    followup_cadence_sweep(now=now + dt.timedelta(minutes=30))  # 23:30, same day
    notes = Notification.objects.filter(kind="followup_cadence")
    assert sorted(notes.values_list("recipient__username", flat=True)) == ["rep1", "rep3"]
    assert "3" in notes.get(recipient=org.rep1).text
    # After midnight in the company's zone (16:00 UTC): a new day, a new notice.
    followup_cadence_sweep(now=now + dt.timedelta(hours=1, minutes=5))
    assert notes.filter(recipient=org.rep1).count() == 2


def test_deactivated_owner_keeps_the_flag_without_notice(org):
    now = timezone.now()
    customer = backdate(customer_make(owner=org.rep2, grade="B"), last_followup_at=now - 30 * DAY)
    org.rep2.is_active = False
    org.rep2.save(update_fields=["is_active"])
    followup_cadence_sweep(now=now)
    assert _reload(customer).followup_overdue_since is not None
    assert not Notification.objects.filter(recipient=org.rep2).exists()


def test_backfill_last_activity(org):
    """Migration 0010's rule: the latest of the last follow-up and the stage changes."""
    import importlib

    from django.apps import apps
    from django.db import connection

    module = importlib.import_module("crm.customers.migrations.0010_last_activity_backfill")
    from crm.tests_support.sales import opportunity_make

    customer = customer_make(owner=org.rep1)
    opportunity_make(owner=org.rep1, customer=customer)
    plain = customer_make(owner=org.rep1)
    Customer.objects.update(last_activity_at=None)
    backdate(plain, last_followup_at=timezone.now() - 3 * DAY)

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    module.backfill(apps, editor)
    assert _reload(customer).last_activity_at is not None
    assert _reload(plain).last_activity_at == plain.last_followup_at


def test_crm_sweep_now_naive_and_offset_drive_the_clocks(org, capsys):
    from crm import cli

    customer = backdate(
        customer_make(owner=org.rep1, grade="B"),
        created_at=timezone.now() - 10 * DAY,
        last_followup_at=timezone.now() - 2 * DAY,
    )
    due = customer.last_followup_at + 7 * DAY
    # Naive: the company's time zone (Asia/Shanghai, UTC+8).
    naive = timezone.localtime(due).replace(tzinfo=None) - dt.timedelta(minutes=1)
    assert cli.main(["sweep", "--now", naive.isoformat(timespec="seconds")]) == 0
    out = capsys.readouterr().out
    assert "followup_cadence: 0" in out and "lead_sla:" in out and "customers_dormant:" in out
    assert _reload(customer).followup_overdue_since is None
    # The same wall time read as UTC is eight hours later: overdue by then, one notice.
    assert cli.main(["sweep", "--now", naive.isoformat(timespec="seconds") + "+00:00"]) == 0
    assert _reload(customer).followup_overdue_since == due
    assert cli.main(["sweep", "--now", naive.isoformat(timespec="seconds") + "+00:00"]) == 0
    assert Notification.objects.filter(kind="followup_cadence").count() == 1
