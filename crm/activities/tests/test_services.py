"""The follow-up log's writes (FUP-1, FUP-2): validation, scope, the 24-hour rule, versions,
the recycle bin, the customer's last/next follow-up times, timeline and audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.accounts.services import user_deactivate
from crm.activities.models import PLAN_OPEN, FollowUp
from crm.activities.services import (
    followup_can_edit,
    followup_create,
    followup_delete,
    followup_plan_done,
    followup_restore,
    followup_timeline_text,
    followup_update,
    followups_customer_times_refresh,
    followups_purge_expired,
)
from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry, TimelineEntry
from crm.customers.models import Customer
from crm.tests_support.activities import followup_make, opportunity_row_make
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def fresh(customer: Customer) -> Customer:
    return Customer.objects.get(pk=customer.pk)


def messages_of(exc) -> dict[str, list[str]]:
    return {k: [str(m) for m in v] for k, v in exc.value.fields.items()}


# --- create ---------------------------------------------------------------------------------


def test_a_rep_logs_a_follow_up_with_a_plan_and_the_customer_times_follow(org):
    # given a customer of rep1
    customer = customer_make(owner=org.rep1)
    contact = customer.contacts.first()
    occurred = timezone.now() - dt.timedelta(hours=2)
    planned = timezone.now() + dt.timedelta(days=2)

    # when rep1 logs a phone call with its contact and plans a visit
    followup = followup_create(
        actor=org.rep1,
        data={
            "customer_id": customer.pk,
            "contact_id": contact.pk,
            "method": "phone",
            "occurred_at": occurred,
            "summary": "  沟通了采购计划  ",
            "feedback": "预算已批",
            "next_action": "准备报价",
            "due_on": "2030-01-10",
            "next_at": planned,
            "next_method": "visit",
            "next_goal": "演示方案",
        },
    )

    # then it is rep1's, trimmed, and the customer's times come from it
    assert followup.author == org.rep1 and followup.created_by == org.rep1
    assert followup.summary == "沟通了采购计划"
    assert followup.due_on == dt.date(2030, 1, 10)
    customer = fresh(customer)
    assert customer.last_followup_at == occurred
    assert customer.next_followup_at == planned
    # and the customer's timeline has a line for it, owned by the author
    line = TimelineEntry.objects.get(object_type="followup", object_id=followup.pk)
    assert (line.kind, line.customer_id, line.owner_id, line.at) == (
        "followup",
        customer.pk,
        org.rep1.pk,
        occurred,
    )
    assert "沟通了采购计划" in followup_timeline_text(line.data)
    # and the creation is audited
    assert AuditEntry.objects.filter(
        action="create", object_id=followup.pk, content_type__model="followup"
    ).exists()


def test_occurred_at_defaults_to_now_and_author_to_the_actor(org):
    customer = customer_make(owner=org.rep1)
    before = timezone.now()
    followup = followup_create(
        actor=org.rep1, data={"customer": customer.pk, "method": "wechat", "summary": "微信确认"}
    )
    assert before <= followup.occurred_at <= timezone.now()
    assert followup.author_id == org.rep1.pk


def test_every_bad_field_is_named_at_once(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        followup_create(
            actor=org.rep1,
            data={
                "customer": customer.pk,
                "method": "telepathy",
                "occurred_at": timezone.now() + dt.timedelta(hours=1),
                "summary": "",
                "next_goal": "x" * 501,
                "due_on": "2026-02-30",
            },
        )
    fields = messages_of(exc)
    assert set(fields) >= {"method", "occurred_at", "summary", "next_goal", "due_on"}
    assert fields["occurred_at"] == ["A follow-up cannot happen in the future."]
    assert fields["summary"] == ["Describe what was discussed."]
    assert FollowUp.objects.count() == 0


def test_a_few_minutes_of_clock_skew_is_not_the_future(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, ago=-dt.timedelta(minutes=3))
    assert followup.pk


def test_the_next_follow_up_must_come_after_this_one_and_still_be_to_come(org):
    customer = customer_make(owner=org.rep1)
    now = timezone.now()
    with pytest.raises(ValidationFailed) as exc:
        followup_make(
            customer=customer, ago=dt.timedelta(days=3), next_at=now - dt.timedelta(days=4)
        )
    assert messages_of(exc)["next_at"] == ["The next follow-up must come after this one."]
    with pytest.raises(ValidationFailed) as exc:
        followup_make(
            customer=customer, ago=dt.timedelta(days=3), next_at=now - dt.timedelta(days=1)
        )
    assert messages_of(exc)["next_at"] == ["Plan the next follow-up for a time still to come."]
    with pytest.raises(ValidationFailed) as exc:
        followup_make(customer=customer, next_goal="再约", next_method="visit")
    assert "next_at" in messages_of(exc)


def test_a_naive_time_is_the_company_time_zone(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, occurred_at="2026-01-15T09:30")
    assert timezone.localtime(followup.occurred_at).strftime("%H:%M") == "09:30"
    assert followup.occurred_at.utcoffset() is not None
    assert followup.occurred_at == dt.datetime(2026, 1, 15, 1, 30, tzinfo=dt.UTC)


def test_a_follow_up_on_a_customer_outside_the_scope_is_not_found(org):
    # given a customer of rep3 (another team)
    theirs = customer_make(owner=org.rep3)
    # when rep1 tries to log a follow-up on it: as if it did not exist
    with pytest.raises(NotFoundError):
        followup_make(customer=theirs, actor=org.rep1, author=org.rep1)
    with pytest.raises(NotFoundError):
        followup_create(
            actor=org.rep1, data={"customer": 10**12, "method": "phone", "summary": "x"}
        )
    assert not FollowUp.objects.exists()


def test_roles_without_create_are_refused(org):
    customer = customer_make(owner=org.rep1)
    for who in (org.service, org.finance, org.exec):
        with pytest.raises(PermissionDeniedError):
            followup_create(
                actor=who, data={"customer": customer.pk, "method": "phone", "summary": "x"}
            )


def test_a_manager_may_log_for_a_subordinate_but_a_rep_not_for_a_colleague(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, actor=org.manager, author=org.rep1)
    assert (followup.author, followup.created_by) == (org.rep1, org.manager)
    with pytest.raises(ValidationFailed) as exc:
        followup_make(customer=customer, actor=org.rep1, author=org.rep2)
    assert "author" in messages_of(exc)
    with pytest.raises(ValidationFailed):
        followup_make(customer=customer, actor=org.manager, author=org.rep3)


def test_the_opportunity_and_contact_must_belong_to_the_customer(org):
    customer = customer_make(owner=org.rep1)
    other = customer_make(owner=org.rep1)
    mine = opportunity_row_make(customer=customer)
    elsewhere = opportunity_row_make(customer=other)
    followup = followup_make(customer=customer, opportunity=mine.pk)
    assert followup.opportunity_id == mine.pk
    with pytest.raises(ValidationFailed) as exc:
        followup_make(
            customer=customer, opportunity=elsewhere.pk, contact=other.contacts.first().pk
        )
    assert set(messages_of(exc)) == {"opportunity", "contact"}


def test_an_opportunity_outside_the_actors_scope_or_deleted_is_refused(org):
    customer = customer_make(owner=org.rep1)
    # rep2's opportunity on rep1's customer: rep1 cannot see it
    foreign = opportunity_row_make(customer=customer, owner=org.rep2)
    with pytest.raises(ValidationFailed) as exc:
        followup_make(customer=customer, opportunity=foreign.pk)
    assert "opportunity" in messages_of(exc)
    gone = opportunity_row_make(customer=customer)
    type(gone).objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    with pytest.raises(ValidationFailed):
        followup_make(customer=customer, opportunity=gone.pk)


def test_logging_from_a_plan_marks_it_done_and_moves_the_next_time(org):
    # given a follow-up with a plan in two days
    customer = customer_make(owner=org.rep1)
    first = followup_make(customer=customer, next_in=dt.timedelta(days=2))
    assert fresh(customer).next_followup_at == first.next_at

    # when the plan is carried out with a new plan in a week
    later = timezone.now() + dt.timedelta(days=7)
    second = followup_make(customer=customer, plan_id=first.pk, next_at=later)

    # then the first plan is done by the second follow-up and the next time is a week away
    first.refresh_from_db()
    assert first.next_done_by_id == second.pk and first.next_done_at is not None
    assert not FollowUp.objects.filter(PLAN_OPEN, pk=first.pk).exists()
    assert fresh(customer).next_followup_at == later
    # and carrying out the same plan again is refused
    with pytest.raises(ValidationFailed) as exc:
        followup_make(customer=customer, plan_id=first.pk)
    assert "plan_id" in messages_of(exc)


def test_a_plan_of_another_customer_is_refused(org):
    one = customer_make(owner=org.rep1)
    two = customer_make(owner=org.rep1)
    plan = followup_make(customer=one, next_in=dt.timedelta(days=1))
    with pytest.raises(ValidationFailed):
        followup_make(customer=two, plan_id=plan.pk)


# --- update: the 24-hour rule, versions -----------------------------------------------------


def test_the_author_edits_within_24_hours_and_every_edit_is_audited(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer)
    updated = followup_update(
        actor=org.rep1,
        followup=followup,
        data={"summary": "更正：确认了预算", "method": "visit"},
        version=followup.version,
    )
    assert (updated.summary, updated.method, updated.version) == ("更正：确认了预算", "visit", 2)
    entry = AuditEntry.objects.filter(action="update", object_id=followup.pk).latest("id")
    assert {c["field"] for c in entry.changes} == {"summary", "method"}
    line = TimelineEntry.objects.get(object_type="followup", object_id=followup.pk)
    assert line.data["summary"] == "更正：确认了预算"


def test_after_24_hours_only_a_manager_may_edit(org):
    # given rep1's follow-up logged 25 hours ago
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, ago=dt.timedelta(hours=26))
    FollowUp.objects.filter(pk=followup.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    followup.refresh_from_db()
    # when rep1 edits it: refused
    assert not followup_can_edit(org.rep1, followup)
    with pytest.raises(PermissionDeniedError):
        followup_update(actor=org.rep1, followup=followup, data={"summary": "改"}, version=1)
    # but their manager may, any time
    updated = followup_update(
        actor=org.manager, followup=followup, data={"summary": "经理更正"}, version=1
    )
    assert updated.summary == "经理更正"
    # and a manager of another team cannot even find it
    with pytest.raises(NotFoundError):
        followup_update(actor=org.manager2, followup=followup, data={"summary": "x"}, version=2)


def test_a_stale_version_is_refused_with_who_changed_it(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer)
    followup_update(actor=org.manager, followup=followup, data={"summary": "一"}, version=1)
    with pytest.raises(ConflictError) as exc:
        followup_update(actor=org.rep1, followup=followup, data={"summary": "二"}, version=1)
    assert exc.value.extra["current_version"] == 2
    assert FollowUp.objects.get(pk=followup.pk).summary == "一"


def test_the_customer_stays(org):
    customer = customer_make(owner=org.rep1)
    other = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer)
    with pytest.raises(ValidationFailed) as exc:
        followup_update(actor=org.rep1, followup=followup, data={"customer": other.pk}, version=1)
    assert "customer" in messages_of(exc)


def test_editing_times_moves_the_customer_times(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, next_in=dt.timedelta(days=3))
    earlier = timezone.now() - dt.timedelta(days=1)
    sooner = timezone.now() + dt.timedelta(days=1)
    followup_update(
        actor=org.rep1,
        followup=followup,
        data={"occurred_at": earlier, "next_at": sooner},
        version=1,
    )
    customer = fresh(customer)
    assert (customer.last_followup_at, customer.next_followup_at) == (earlier, sooner)
    followup_update(
        actor=org.rep1,
        followup=followup,
        data={"next_at": None, "next_method": "", "next_goal": ""},
        version=2,
    )
    assert fresh(customer).next_followup_at is None


def test_the_customer_version_is_not_bumped_by_follow_ups(org):
    customer = customer_make(owner=org.rep1)
    followup_make(customer=customer, next_in=dt.timedelta(days=1))
    assert fresh(customer).version == customer.version


# --- delete / restore / plan done / purge ---------------------------------------------------


def test_delete_and_restore_keep_the_customer_times_and_timeline_in_step(org):
    customer = customer_make(owner=org.rep1)
    old = followup_make(customer=customer, ago=dt.timedelta(days=5))
    new = followup_make(customer=customer, ago=dt.timedelta(hours=1), next_in=dt.timedelta(days=1))
    assert fresh(customer).last_followup_at == new.occurred_at

    # when the manager deletes the newest one
    followup_delete(actor=org.manager, followup=new, version=new.version)
    customer = fresh(customer)
    assert customer.last_followup_at == old.occurred_at
    assert customer.next_followup_at is None
    assert not TimelineEntry.objects.filter(object_type="followup", object_id=new.pk).exists()

    # and a second delete from the same copy meets the version check
    with pytest.raises(ConflictError):
        followup_delete(actor=org.manager, followup=new, version=new.version)

    # when it is restored, everything comes back
    restored = followup_restore(actor=org.manager, followup=new, version=new.version + 1)
    assert restored.deleted_at is None
    customer = fresh(customer)
    assert (customer.last_followup_at, customer.next_followup_at) == (new.occurred_at, new.next_at)
    assert TimelineEntry.objects.filter(object_type="followup", object_id=new.pk).count() == 1


def test_a_rep_cannot_delete(org):
    followup = followup_make(customer=customer_make(owner=org.rep1))
    with pytest.raises(PermissionDeniedError):
        followup_delete(actor=org.rep1, followup=followup)


def test_closing_a_plan_without_logging(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, next_in=dt.timedelta(days=1))
    done = followup_plan_done(actor=org.rep1, followup=followup, version=1)
    assert done.next_done_at is not None and done.next_done_by_id is None
    assert fresh(customer).next_followup_at is None
    with pytest.raises(PermissionDeniedError):
        followup_plan_done(actor=org.exec, followup=followup)


def test_the_purge_sweep_removes_follow_ups_past_the_retention(org):
    customer = customer_make(owner=org.rep1)
    old = followup_make(customer=customer)
    recent = followup_make(customer=customer)
    followup_delete(actor=org.manager, followup=old)
    followup_delete(actor=org.manager, followup=recent)
    FollowUp.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - dt.timedelta(days=31))
    assert followups_purge_expired() == 1
    assert list(FollowUp.objects.values_list("pk", flat=True)) == [recent.pk]
    assert AuditEntry.objects.filter(action="purge", object_id=old.pk).exists()
    assert followups_purge_expired() == 0


def test_times_refresh_ignores_deleted_rows_and_done_plans(org):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, next_in=dt.timedelta(days=1))
    FollowUp.objects.filter(pk=followup.pk).update(next_done_at=timezone.now())
    followups_customer_times_refresh(customer.pk)
    assert fresh(customer).next_followup_at is None
    assert fresh(customer).last_followup_at == followup.occurred_at


# --- a leaving user's plans (ORG-3) ---------------------------------------------------------


def test_deactivating_a_rep_hands_their_open_plans_to_the_new_owner(org):
    # given rep1 has one open and one done plan on their customer
    customer = customer_make(owner=org.rep1)
    open_plan = followup_make(customer=customer, next_in=dt.timedelta(days=2))
    done_plan = followup_make(customer=customer, next_in=dt.timedelta(days=3))
    followup_plan_done(actor=org.rep1, followup=done_plan)
    last_before = fresh(customer).last_followup_at

    # when rep1 leaves and rep2 takes over
    user_deactivate(actor=org.admin, user=org.rep1, transfer_to=org.rep2)

    # then the history keeps its author, and rep2 now holds the open plan
    open_plan.refresh_from_db()
    assert open_plan.author_id == org.rep1.pk and open_plan.next_done_at is not None
    carried = FollowUp.objects.get(pk=open_plan.next_done_by_id)
    assert (carried.author_id, carried.next_at, carried.next_goal) == (
        org.rep2.pk,
        open_plan.next_at,
        open_plan.next_goal,
    )
    assert FollowUp.objects.filter(PLAN_OPEN, author=org.rep2).count() == 1
    assert not FollowUp.objects.filter(PLAN_OPEN, author=org.rep1).exists()
    # and the customer's times did not move
    customer = fresh(customer)
    assert customer.last_followup_at == last_before
    assert customer.next_followup_at == open_plan.next_at
