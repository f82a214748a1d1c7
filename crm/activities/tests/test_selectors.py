"""Reads of the follow-up log: data scope (author and customer), filters, planned lists with
day boundaries in the company's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.activities.selectors import (
    FollowUpFilters,
    followup_get,
    followup_list,
    followups_visible_to,
    plan_counts,
    plans_for,
    recent_for,
)
from crm.core.errors import NotFoundError
from crm.customers.services import customer_transfer
from crm.tests_support.activities import followup_make, followup_plan_at, opportunity_row_make
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def logged(org):
    """One follow-up by each of rep1, rep2 (manager's team) and rep3 (the other team)."""
    return {
        who: followup_make(customer=customer_make(owner=getattr(org, who)))
        for who in ("rep1", "rep2", "rep3")
    }


def ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


def test_a_rep_sees_their_own_a_manager_their_team_service_everything(org, logged):
    assert ids(followups_visible_to(org.rep1)) == {logged["rep1"].pk}
    assert ids(followups_visible_to(org.manager)) == {logged["rep1"].pk, logged["rep2"].pk}
    assert ids(followups_visible_to(org.manager2)) == {logged["rep3"].pk}
    assert ids(followups_visible_to(org.service)) == {f.pk for f in logged.values()}
    assert ids(followups_visible_to(org.exec)) == {f.pk for f in logged.values()}
    assert ids(followups_visible_to(org.finance)) == set()


def test_another_teams_follow_up_is_not_found(org, logged):
    with pytest.raises(NotFoundError):
        followup_get(user=org.rep3, followup_id=logged["rep1"].pk)
    with pytest.raises(NotFoundError):
        followup_get(user=org.manager2, followup_id=logged["rep1"].pk)
    assert followup_get(user=org.manager, followup_id=logged["rep1"].pk) == logged["rep1"]
    for odd in ("abc", 0, -1, 2**63, None, "²"):
        with pytest.raises(NotFoundError):
            followup_get(user=org.admin, followup_id=odd)


def test_a_follow_up_on_a_customer_the_viewer_cannot_see_is_hidden(org, logged):
    # given rep1's customer is handed to rep3: rep1 no longer sees the customer
    followup = logged["rep1"]
    customer_transfer(actor=org.admin, customer=followup.customer, to_user=org.rep3)
    # then rep1 (the author) does not see the follow-up either, nor their manager
    assert followup.pk not in ids(followups_visible_to(org.rep1))
    assert followup.pk not in ids(followups_visible_to(org.manager))
    with pytest.raises(NotFoundError):
        followup_get(user=org.rep1, followup_id=followup.pk)
    # and rep3, who works the customer now, reads its whole log, rep1's entry included
    assert followup.pk in ids(followups_visible_to(org.rep3))
    assert followup.pk in ids(followups_visible_to(org.admin))


def test_deleted_ones_only_with_include_deleted(org, logged):
    from crm.activities.services import followup_delete

    followup_delete(actor=org.manager, followup=logged["rep1"])
    with pytest.raises(NotFoundError):
        followup_get(user=org.manager, followup_id=logged["rep1"].pk)
    assert followup_get(user=org.manager, followup_id=logged["rep1"].pk, include_deleted=True)


def test_filters(org):
    customer = customer_make(owner=org.rep1)
    other = customer_make(owner=org.rep1)
    opportunity = opportunity_row_make(customer=customer)
    a = followup_make(customer=customer, occurred_at="2026-03-01T23:30", summary="讨论报价")
    b = followup_make(customer=customer, occurred_at="2026-03-02T00:30", opportunity=opportunity.pk)
    c = followup_make(
        customer=other, occurred_at="2026-03-03T10:00", author=org.manager, actor=org.manager
    )

    def listed(**kw) -> list[int]:
        return [f.pk for f in followup_list(user=org.manager, filters=FollowUpFilters(**kw))]

    assert listed() == [c.pk, b.pk, a.pk]  # newest first
    assert listed(customer_id=customer.pk) == [b.pk, a.pk]
    assert listed(opportunity_id=opportunity.pk) == [b.pk]
    assert listed(author_id=org.manager.pk) == [c.pk]
    # days are Beijing days: 23:30 on 1 March is 1 March, 00:30 on 2 March is 2 March
    assert listed(occurred_from=dt.date(2026, 3, 2), occurred_to=dt.date(2026, 3, 2)) == [b.pk]
    assert listed(occurred_to=dt.date(2026, 3, 1)) == [a.pk]
    assert listed(q="报价") == [a.pk]


def test_filters_from_query_parameters_ignore_nonsense():
    f = FollowUpFilters.from_params(
        {"customer_id": "²", "author": "9" * 30, "occurred_from": "2026-02-30", "planned": "x"}
    )
    assert (f.customer_id, f.author_id, f.occurred_from, f.planned) == (None, None, None, "")
    f = FollowUpFilters.from_params({"customer": "12", "planned": "week"})
    assert (f.customer_id, f.planned) == (12, "week")


@pytest.fixture
def plans(org):
    """rep1's open plans around Friday 2027-01-15 10:00 Beijing time."""
    customer = customer_make(owner=org.rep1)

    def plan(when: dt.datetime):
        return followup_plan_at(
            followup_make(customer=customer, next_in=dt.timedelta(days=1)), when
        )

    return {
        "last_week": plan(dt.datetime(2027, 1, 8, 9, 0, tzinfo=SHANGHAI)),
        "this_morning": plan(dt.datetime(2027, 1, 15, 8, 0, tzinfo=SHANGHAI)),
        "tonight": plan(dt.datetime(2027, 1, 15, 23, 30, tzinfo=SHANGHAI)),
        "tomorrow": plan(dt.datetime(2027, 1, 16, 0, 30, tzinfo=SHANGHAI)),
        "sunday": plan(dt.datetime(2027, 1, 17, 18, 0, tzinfo=SHANGHAI)),
        "monday": plan(dt.datetime(2027, 1, 18, 9, 0, tzinfo=SHANGHAI)),
        "monday_this_week": plan(dt.datetime(2027, 1, 11, 9, 0, tzinfo=SHANGHAI)),
    }


NOW = dt.datetime(2027, 1, 15, 10, 0, tzinfo=SHANGHAI)


def test_planned_today_overdue_and_this_week_in_beijing_days(org, plans):
    def names(which: str) -> list[str]:
        found = [f.pk for f in plans_for(user=org.rep1, which=which, now=NOW)]
        by_pk = {f.pk: name for name, f in plans.items()}
        return [by_pk[pk] for pk in found]

    assert names("today") == ["this_morning", "tonight"]
    assert names("overdue") == ["last_week", "monday_this_week", "this_morning"]
    assert names("week") == ["monday_this_week", "this_morning", "tonight", "tomorrow", "sunday"]
    assert plan_counts(user=org.rep1, now=NOW) == {"today": 2, "overdue": 3, "week": 5}


def test_plans_are_the_users_own_and_a_manager_may_pick_a_subordinate(org, plans):
    assert list(plans_for(user=org.manager, which="week", now=NOW)) == []
    assert len(plans_for(user=org.manager, which="week", author_id=org.rep1.pk, now=NOW)) == 5
    # someone outside the scope simply has none
    assert list(plans_for(user=org.manager2, which="week", author_id=org.rep1.pk, now=NOW)) == []
    assert len(recent_for(user=org.rep1)) == 7


def test_the_list_reads_its_related_rows_in_one_query(org):
    customer = customer_make(owner=org.rep1)
    opportunity = opportunity_row_make(customer=customer)
    for _i in range(5):
        followup_make(
            customer=customer, opportunity=opportunity.pk, contact=customer.contacts.first().pk
        )
    with CaptureQueriesContext(connection) as ctx:
        rows = list(followup_list(user=org.rep1))
        shown = [
            (f.customer.name, f.author.display_name, f.contact.name, f.opportunity.name)
            for f in rows
        ]
    assert len(shown) == 5
    assert len(ctx.captured_queries) == 1


def test_whoever_works_the_customer_reads_its_whole_log_and_its_timeline(org):
    # given rep1's customer with a follow-up the manager logged himself
    from crm.core.timeline import timeline_for_customer

    customer = customer_make(owner=org.rep1)
    by_manager = followup_make(customer=customer, author=org.manager, actor=org.manager)
    # then rep1, who owns the customer, reads it in the list and on the timeline
    assert by_manager.pk in ids(followups_visible_to(org.rep1))
    lines = timeline_for_customer(user=org.rep1, customer=customer, kinds=["followup"])
    assert [i.object_id for i in lines.items] == [by_manager.pk]
    # and rep2 (same team, but not the customer's owner) reads neither
    assert by_manager.pk not in ids(followups_visible_to(org.rep2))
