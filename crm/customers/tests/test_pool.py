"""The public pool (公海, issue 7 §4): release, claim, and the return sweep, with each default,
a changed setting and the edges (exactly N days, a claim at the limit, the cool-down)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from crm.core.config import setting_get, setting_set
from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry, TimelineEntry
from crm.core.sweeps import sweeps_run_now
from crm.customers.models import Customer, PoolMove
from crm.customers.pool import customer_claim, customer_release, pool_return_sweep
from crm.customers.selectors import customer_list, customers_visible_to
from crm.notify.models import Notification
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def rules(**changes):
    value = setting_get("pool_rules")
    value.update(changes)
    setting_set(key="pool_rules", value=value)


def fresh(customer: Customer) -> Customer:
    return Customer.objects.get(pk=customer.pk)


# --- defaults -----------------------------------------------------------------------------


def test_defaults():
    assert setting_get("pool_rules") == {
        "enabled": True,
        "followup_days": {"A": 30, "B": 30, "C": 30},
        "won_days": {"A": 90, "B": 90, "C": 90},
        "notice_days": 3,
        "protected_statuses": ["deal", "loyal"],
    }
    assert setting_get("pool_claim_limit") == 200
    assert setting_get("pool_reclaim_days") == 7


def test_a_new_customer_is_owned_since_its_creation(org):
    c = customer_make(owner=org.rep1)
    assert c.owned_since is not None
    assert abs(c.owned_since - c.created_at) < dt.timedelta(seconds=5)


# --- release ------------------------------------------------------------------------------


def test_the_owner_releases_with_a_reason(org):
    c = customer_make(owner=org.rep1)
    released = customer_release(actor=org.rep1, customer=c, reason="没有需求")
    c = fresh(c)
    assert c.owner_id is None and c.pool_entered_at is not None and c.owned_since is None
    assert c.version == released.version
    move = PoolMove.objects.get(customer=c)
    assert (move.kind, move.user_id, move.actor_id, move.reason) == (
        "release",
        org.rep1.pk,
        org.rep1.pk,
        "没有需求",
    )
    entry = AuditEntry.objects.filter(object_id=c.pk, action="transfer").latest("id")
    assert {ch["field"] for ch in entry.changes} == {"owner", "pool"}
    line = TimelineEntry.objects.filter(customer_id=c.pk, kind="pool_release").get()
    assert line.owner_id is None
    # Every line of the customer now follows its (absent) owner.
    assert not TimelineEntry.objects.filter(customer_id=c.pk, object_type="customer").exclude(
        owner_id=None
    )
    # Out of the ordinary list, search and the owner's scope.
    assert not customers_visible_to(org.admin).filter(pk=c.pk).exists()
    assert not customer_list(user=org.admin).filter(pk=c.pk).exists()


def test_release_needs_a_reason(org):
    c = customer_make(owner=org.rep1)
    for reason in ("", "   ", None, "\x00"):
        with pytest.raises(ValidationFailed) as exc:
            customer_release(actor=org.rep1, customer=c, reason=reason)
        assert "reason" in exc.value.fields
    assert fresh(c).owner_id == org.rep1.pk


def test_who_may_release(org):
    c = customer_make(owner=org.rep1)
    # Another rep: outside their scope.
    with pytest.raises(NotFoundError):
        customer_release(actor=org.rep3, customer=c, reason="x")
    # Read-only roles: no edit, no transfer.
    for user in (org.service, org.finance, org.exec):
        with pytest.raises(PermissionDeniedError):
            customer_release(actor=user, customer=c, reason="x")
    # The other team's manager does not cover rep1.
    with pytest.raises(NotFoundError):
        customer_release(actor=org.manager2, customer=c, reason="x")
    # rep1's manager may, and rep1 is told.
    customer_release(actor=org.manager, customer=c, reason="长期无响应")
    assert fresh(c).owner_id is None
    note = Notification.objects.get(recipient=org.rep1, kind="pool_release")
    assert "长期无响应" in note.text
    # Twice: already in the pool.
    with pytest.raises(ConflictError):
        customer_release(actor=org.admin, customer=c, reason="x")


# --- claim --------------------------------------------------------------------------------


def test_claim_makes_the_claimer_owner(org):
    c = customer_make(owner=org.rep1)
    customer_release(actor=org.rep1, customer=c, reason="x")
    claimed = customer_claim(actor=org.rep3, customer=c)
    c = fresh(c)
    assert c.owner_id == org.rep3.pk and c.pool_entered_at is None
    assert c.owned_since is not None and claimed.owner_id == org.rep3.pk
    assert PoolMove.objects.filter(customer=c, kind="claim", user=org.rep3).exists()
    assert TimelineEntry.objects.filter(customer_id=c.pk, kind="pool_claim").exists()
    # The claimer reads the customer's history lines now.
    assert not TimelineEntry.objects.filter(customer_id=c.pk, object_type="customer").exclude(
        owner_id=org.rep3.pk
    )
    assert customers_visible_to(org.rep3).filter(pk=c.pk).exists()
    # A second click of the same claim changes nothing.
    assert customer_claim(actor=org.rep3, customer=c).version == c.version


def test_claim_needs_the_pool_permission(org):
    c = customer_make(owner=org.rep1)
    customer_release(actor=org.rep1, customer=c, reason="x")
    for user in (org.service, org.finance, org.exec):
        with pytest.raises(PermissionDeniedError):
            customer_claim(actor=user, customer=c)


def test_a_customer_claimed_by_someone_else_meanwhile_is_refused(org):
    c = customer_make(owner=org.rep1)
    customer_release(actor=org.rep1, customer=c, reason="x")
    customer_claim(actor=org.rep2, customer=c)
    with pytest.raises(ConflictError) as exc:
        customer_claim(actor=org.rep3, customer=c)
    assert exc.value.extra["reason"] == "claimed"


def test_claim_of_a_deleted_or_unknown_customer_is_not_found(org):
    with pytest.raises(NotFoundError):
        customer_claim(actor=org.rep3, customer=999999)


def _pool_customer(org, owner=None):
    c = customer_make(owner=owner or org.rep2)
    customer_release(actor=org.admin, customer=c, reason="x")
    return c


def test_claim_limit_counts_live_owned_customers(org):
    setting_set(key="pool_claim_limit", value=3)
    customer_make(owner=org.rep3)
    customer_make(owner=org.rep3)
    # A deleted one does not count.
    from crm.customers.services import customer_delete

    customer_delete(actor=org.admin, customer=customer_make(owner=org.rep3))
    first, second = _pool_customer(org), _pool_customer(org)
    customer_claim(actor=org.rep3, customer=first)  # limit - 1 owned: allowed
    with pytest.raises(ConflictError) as exc, translation.override("en"):  # at the limit
        customer_claim(actor=org.rep3, customer=second)
    assert exc.value.extra["reason"] == "limit"
    assert "limit" in str(exc.value.message).lower()
    assert fresh(second).owner_id is None


def test_claim_limit_default_is_200(org, monkeypatch):
    """199 owned: one more may be claimed; 200: refused (counted without creating 200)."""
    from django.db.models import QuerySet

    assert setting_get("pool_claim_limit") == 200
    first, second = _pool_customer(org), _pool_customer(org)
    real_count = QuerySet.count
    owned = {"n": 199}

    def count(self):
        if self.model is Customer and "owner_id" in str(self.query):
            return min(owned["n"], self.query.high_mark or owned["n"])
        return real_count(self)

    monkeypatch.setattr(QuerySet, "count", count)
    customer_claim(actor=org.rep3, customer=first)
    owned["n"] = 200
    with pytest.raises(ConflictError) as exc:
        customer_claim(actor=org.rep3, customer=second)
    assert "200" in str(exc.value.message)


def test_cool_down_refuses_the_former_owner_within_d_days(org):
    c = _pool_customer(org, owner=org.rep3)
    with pytest.raises(ConflictError) as exc, translation.override("en"):
        customer_claim(actor=org.rep3, customer=c)
    assert exc.value.extra["reason"] == "cooldown"
    assert "cool-down" in str(exc.value.message).lower()
    # Someone else may claim it at once.
    customer_claim(actor=org.rep1, customer=c)


def test_cool_down_ends_after_exactly_d_days(org):
    c = _pool_customer(org, owner=org.rep3)
    move = PoolMove.objects.get(customer=c, kind="release")
    # One minute short of seven days: still refused.
    PoolMove.objects.filter(pk=move.pk).update(
        at=timezone.now() - 7 * DAY + dt.timedelta(minutes=1)
    )
    with pytest.raises(ConflictError):
        customer_claim(actor=org.rep3, customer=c)
    # Exactly seven days ago: allowed.
    PoolMove.objects.filter(pk=move.pk).update(at=timezone.now() - 7 * DAY)
    customer_claim(actor=org.rep3, customer=c)


def test_cool_down_setting_changes_it(org):
    setting_set(key="pool_reclaim_days", value=0)
    c = _pool_customer(org, owner=org.rep3)
    customer_claim(actor=org.rep3, customer=c)


def test_cool_down_counts_a_customer_lost_by_rule(org):
    c = customer_make(owner=org.rep3)
    pool_return_sweep(now=fresh(c).owned_since + 30 * DAY)
    assert fresh(c).owner_id is None
    with pytest.raises(ConflictError) as exc:
        customer_claim(actor=org.rep3, customer=c)
    assert exc.value.extra["reason"] == "cooldown"


# --- the return sweep ---------------------------------------------------------------------


def test_no_follow_up_for_exactly_n_days_returns_it(org):
    c = customer_make(owner=org.rep1, grade="B")
    since = fresh(c).owned_since
    assert pool_return_sweep(now=since + 30 * DAY - dt.timedelta(seconds=1)) == 1  # the notice
    assert fresh(c).owner_id == org.rep1.pk
    pool_return_sweep(now=since + 30 * DAY)
    c = fresh(c)
    assert c.owner_id is None and c.pool_entered_at == since + 30 * DAY
    move = PoolMove.objects.get(customer=c, kind="return")
    assert move.user_id == org.rep1.pk and move.actor_id is None
    assert TimelineEntry.objects.filter(customer_id=c.pk, kind="pool_return").count() == 1
    audit = AuditEntry.objects.filter(object_id=c.pk, action="transfer").latest("id")
    assert audit.actor_name == "system"
    assert Notification.objects.filter(recipient=org.rep1, kind="pool_return").count() == 1


def test_the_last_follow_up_starts_the_clock_again(org):
    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    Customer.objects.filter(pk=c.pk).update(last_followup_at=since + 10 * DAY)
    pool_return_sweep(now=since + 30 * DAY)
    assert fresh(c).owner_id == org.rep1.pk
    pool_return_sweep(now=since + 40 * DAY)
    assert fresh(c).owner_id is None


def test_a_follow_up_of_the_previous_owner_does_not_count_against_the_new_one(org):
    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    Customer.objects.filter(pk=c.pk).update(last_followup_at=since - 100 * DAY, owned_since=since)
    pool_return_sweep(now=since + 29 * DAY)
    assert fresh(c).owner_id == org.rep1.pk


def test_no_won_opportunity_for_m_days(org):
    rules(followup_days={"A": None, "B": None, "C": None})
    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    pool_return_sweep(now=since + 89 * DAY)
    assert fresh(c).owner_id == org.rep1.pk
    pool_return_sweep(now=since + 90 * DAY)
    assert fresh(c).owner_id is None
    assert PoolMove.objects.get(customer=c, kind="return").reason == "won:90"


def test_a_win_starts_the_won_clock_again(org):
    from crm.customers.services import customer_mark_deal

    rules(followup_days={"A": None, "B": None, "C": None}, protected_statuses=[])
    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    customer_mark_deal(actor=org.rep1, customer_id=c.pk)
    won = fresh(c).last_won_at
    assert won is not None
    pool_return_sweep(now=won + 89 * DAY)
    assert fresh(c).owner_id == org.rep1.pk
    assert since <= won


def test_per_grade_rules(org):
    rules(followup_days={"A": 10, "B": 20, "C": None}, won_days={"A": None, "B": None, "C": None})
    a = customer_make(owner=org.rep1, grade="A")
    b = customer_make(owner=org.rep1, grade="B")
    c = customer_make(owner=org.rep1, grade="C")
    since = max(fresh(x).owned_since for x in (a, b, c))
    pool_return_sweep(now=since + 10 * DAY)
    assert [fresh(x).owner_id for x in (a, b, c)] == [None, org.rep1.pk, org.rep1.pk]
    pool_return_sweep(now=since + 20 * DAY)
    assert [fresh(x).owner_id for x in (a, b, c)] == [None, None, org.rep1.pk]
    pool_return_sweep(now=since + 3000 * DAY)
    assert fresh(c).owner_id == org.rep1.pk


def test_protected_statuses_never_return(org):
    deal = customer_make(owner=org.rep1, status="deal")
    loyal = customer_make(owner=org.rep1, status="loyal")
    intent = customer_make(owner=org.rep1, status="intent")
    pool_return_sweep(now=timezone.now() + 400 * DAY)
    assert fresh(deal).owner_id == org.rep1.pk
    assert fresh(loyal).owner_id == org.rep1.pk
    assert fresh(intent).owner_id is None
    # Changed: only "loyal" is protected now.
    rules(protected_statuses=["loyal"])
    pool_return_sweep(now=timezone.now() + 400 * DAY)
    assert fresh(deal).owner_id is None and fresh(loyal).owner_id == org.rep1.pk


def test_disabled_rules_return_nothing(org):
    rules(enabled=False)
    c = customer_make(owner=org.rep1)
    assert pool_return_sweep(now=timezone.now() + 400 * DAY) == 0
    assert fresh(c).owner_id == org.rep1.pk and fresh(c).pool_notice_at is None


def test_notice_once_then_return(org):
    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    # Before the notice window (more than 3 days ahead): nothing.
    assert pool_return_sweep(now=since + 27 * DAY - dt.timedelta(seconds=1)) == 0
    # Exactly 3 days before: the notice.
    assert pool_return_sweep(now=since + 27 * DAY) == 1
    assert fresh(c).pool_notice_at == since + 27 * DAY
    notes = Notification.objects.filter(recipient=org.rep1, kind="pool_notice")
    assert notes.count() == 1 and org.rep1.pk == notes.get().recipient_id
    # Again the next day, and again: no second notice.
    assert pool_return_sweep(now=since + 28 * DAY) == 0
    assert pool_return_sweep(now=since + 28 * DAY) == 0
    assert notes.count() == 1
    pool_return_sweep(now=since + 30 * DAY)
    assert fresh(c).owner_id is None
    assert notes.count() == 1
    assert Notification.objects.filter(recipient=org.rep1, kind="pool_return").count() == 1


def test_a_follow_up_after_the_notice_rearms_it(org):
    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    pool_return_sweep(now=since + 27 * DAY)
    Customer.objects.filter(pk=c.pk).update(last_followup_at=since + 28 * DAY)
    pool_return_sweep(now=since + 29 * DAY)
    c = fresh(c)
    assert c.owner_id == org.rep1.pk and c.pool_notice_at is None
    # The next lapse has its own notice.
    pool_return_sweep(now=since + 55 * DAY)
    assert Notification.objects.filter(recipient=org.rep1, kind="pool_notice").count() == 2


def test_changed_notice_days(org):
    rules(notice_days=0)
    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    assert pool_return_sweep(now=since + 29 * DAY) == 0
    rules(notice_days=10)
    assert pool_return_sweep(now=since + 20 * DAY) == 1
    assert Notification.objects.filter(kind="pool_notice").count() == 1


@pytest.mark.parametrize("value", [{"A": 7, "B": 7, "C": 7}, 7])
def test_changed_followup_days(org, value):
    rules(followup_days=value)  # the cleaner stores one per grade; one number is read too
    c = customer_make(owner=org.rep1)
    pool_return_sweep(now=fresh(c).owned_since + 7 * DAY - dt.timedelta(seconds=1))
    assert fresh(c).owner_id == org.rep1.pk
    pool_return_sweep(now=fresh(c).owned_since + 7 * DAY)
    assert fresh(c).owner_id is None


def test_the_sweep_is_idempotent(org):
    customers = [customer_make(owner=org.rep1) for _ in range(3)]
    moment = max(fresh(c).owned_since for c in customers) + 31 * DAY
    assert pool_return_sweep(now=moment) == 3
    counts = (
        PoolMove.objects.count(),
        TimelineEntry.objects.filter(kind="pool_return").count(),
        Notification.objects.count(),
        AuditEntry.objects.filter(action="transfer").count(),
    )
    assert pool_return_sweep(now=moment) == 0
    assert sweeps_run_now(now=moment)["pool_return"] == 0
    assert counts == (
        PoolMove.objects.count(),
        TimelineEntry.objects.filter(kind="pool_return").count(),
        Notification.objects.count(),
        AuditEntry.objects.filter(action="transfer").count(),
    )


def test_deleted_and_pool_customers_are_left_alone(org):
    from crm.customers.services import customer_delete

    deleted = customer_make(owner=org.rep1)
    customer_delete(actor=org.admin, customer=deleted)
    pooled = _pool_customer(org)
    entered = fresh(pooled).pool_entered_at
    pool_return_sweep(now=timezone.now() + 400 * DAY)
    assert fresh(deleted).owner_id == org.rep1.pk
    assert fresh(pooled).pool_entered_at == entered


def test_batches(org, monkeypatch):
    from crm.customers import pool

    monkeypatch.setattr(pool, "BATCH", 2)
    customers = [customer_make(owner=org.rep1) for _ in range(5)]
    assert pool_return_sweep(now=timezone.now() + 400 * DAY) == 5
    assert all(fresh(c).owner_id is None for c in customers)


def test_transfers_restart_the_clock(org):
    from crm.customers.services import customer_transfer, customers_bulk_transfer

    a = customer_make(owner=org.rep1)
    b = customer_make(owner=org.rep1)
    Customer.objects.filter(pk__in=[a.pk, b.pk]).update(owned_since=timezone.now() - 100 * DAY)
    customer_transfer(actor=org.manager, customer=a, to_user=org.rep2)
    customers_bulk_transfer(actor=org.manager, ids=[b.pk], to_user=org.rep2)
    for c in (a, b):
        assert timezone.now() - fresh(c).owned_since < dt.timedelta(minutes=1)


def test_an_administrator_assigns_a_pool_customer_by_transfer(org):
    from crm.customers.services import customer_transfer

    c = _pool_customer(org)
    customer_transfer(actor=org.admin, customer=c, to_user=org.rep3)
    c = fresh(c)
    assert c.owner_id == org.rep3.pk and c.pool_entered_at is None
    assert PoolMove.objects.filter(customer=c, kind="assign", user=org.rep3).exists()


def test_a_follow_up_rearms_the_notice_at_once(org):
    from crm.tests_support.activities import followup_make

    c = customer_make(owner=org.rep1)
    since = fresh(c).owned_since
    pool_return_sweep(now=since + 27 * DAY)
    assert fresh(c).pool_notice_at is not None
    followup_make(customer=fresh(c))
    c = fresh(c)
    assert c.pool_notice_at is None and c.last_followup_at is not None
    # Another sweep in the same lapse finds it due soon again: marked, but not told twice.
    assert pool_return_sweep(now=since + 28 * DAY) == 1
    assert Notification.objects.filter(kind="pool_notice").count() == 1
    # A follow-up on day 27 (as the sweep sees it): nothing to notice on day 28.
    followup_make(customer=fresh(c))
    Customer.objects.filter(pk=c.pk).update(last_followup_at=since + 27 * DAY)
    assert pool_return_sweep(now=since + 28 * DAY) == 0


def test_an_upgrade_starts_the_pool_clocks_of_existing_customers_at_the_upgrade(org):
    """Customers from before the pool (no owned_since) get the full N days from the upgrade,
    with the notice first, instead of going back to the pool on the first sweep."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "crm.customers.migrations.0013_pool_clocks_start_at_upgrade"
    )
    old = customer_make(owner=org.rep1, grade="B")
    now = timezone.now()
    Customer.objects.filter(pk=old.pk).update(
        owned_since=None, created_at=now - dt.timedelta(days=400), last_followup_at=None
    )
    migration.start_clocks(apps, None)
    assert pool_return_sweep(now=now + dt.timedelta(minutes=1)) == 0
    assert Customer.objects.get(pk=old.pk).owner_id == org.rep1.pk
    pool_return_sweep(now=now + dt.timedelta(days=31))
    assert Customer.objects.get(pk=old.pk).owner_id is None
