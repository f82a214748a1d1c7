"""The customers' clocks (issue 7 §3, §6): follow-up cadence (FUP-3) and dormancy (CUS-10).

Each clock's state is a stored column, written by the sweeps as of the moment they run
(`crm sweep --now`) and settled at once by the actions that settle it:

- `followup_overdue_since`: an owned customer is overdue when its last follow-up (or, never
  followed up, the time its owner got it, else its creation) is older than its grade's
  interval (setting "customer_cadence_days"; a grade set to None has no clock). The value is
  the moment it became overdue: base + interval. Pool customers (no owner) have no clock.
- `dormant_since`: a customer with no follow-up, opportunity change or order for
  "dormant_days" (default 90) days, counted from `last_activity_at` (else its creation), is
  dormant from base + days; activity clears it.

The sweeps are set-based: UPDATEs in batches of ids picked through partial indexes whose
conditions are the queries' own (migration 0009), so a steady run reads only the rows whose
state changes, not the million customers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.core.config import setting_get
from crm.customers.models import Customer

BATCH = 5000
GRADES = ("A", "B", "C")
LOST = "lost"  # the customer_status list's 流失: no cadence clock
LIVE = Q(deleted_at__isnull=True)


def cadence_base() -> Coalesce:
    """What the cadence counts from; the expression of the partial indexes, spelled alike."""
    return Coalesce(F("last_followup_at"), F("owned_since"), F("created_at"))


def dormant_base() -> Coalesce:
    return Coalesce(F("last_activity_at"), F("created_at"))


def _plus(expression: Any, delta: dt.timedelta) -> ExpressionWrapper:
    return ExpressionWrapper(expression + Value(delta), output_field=DateTimeField())


def interval_days(value: Any) -> dt.timedelta | None:
    if value in (None, "", 0):
        return None
    try:
        return dt.timedelta(days=float(value))
    except (TypeError, ValueError):
        return None


def cadence_intervals(key: str = "customer_cadence_days") -> dict[str, dt.timedelta | None]:
    rule = setting_get(key) or {}
    return {grade: interval_days(rule.get(grade)) for grade in GRADES}


def dormant_delta() -> dt.timedelta:
    return dt.timedelta(days=int(setting_get("dormant_days")))


def batched_update(
    queryset: QuerySet, *, batch: int = BATCH, order: tuple[str, ...] = (), **values: Any
) -> int:
    """UPDATE the rows of `queryset` in batches of ids, each its own statement (autocommit: a
    short lock per batch); every batch repeats the queryset's conditions, so a row changed
    meanwhile by a follow-up is left alone. The values must take the rows out of the
    queryset (or the loop stops when a batch changes nothing).

    `order`: the partial index's own column, so PostgreSQL walks that index from the range's
    end and stops after a batch. Without it the planner cannot tell how many rows a range
    on an expression of a partial index holds (it keeps no statistics for those) and guesses
    a third of the table, then reads the whole table instead."""
    total = 0
    while True:
        ids = list(queryset.order_by(*order).values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        changed = queryset.filter(pk__in=ids).update(**values)
        total += changed
        if changed == 0 or len(ids) < batch:
            return total


# --- one customer, in Python: the oracle of the sweep and what actions settle at once -------


def customer_overdue_since_at(customer: Any, *, now: dt.datetime, intervals=None) -> Any:
    """When the customer became overdue by its cadence, as of `now` (None: not overdue)."""
    if customer.owner_id is None or customer.deleted_at is not None or customer.status == LOST:
        return None
    interval = (intervals or cadence_intervals()).get(customer.grade)
    if interval is None:
        return None
    base = customer.last_followup_at or customer.owned_since or customer.created_at
    due = base + interval
    return due if now > due else None


def customer_dormant_since_at(customer: Any, *, now: dt.datetime, delta=None) -> Any:
    """Since when the customer is dormant as of `now` (None: it is not)."""
    if customer.deleted_at is not None:
        return None
    base = customer.last_activity_at or customer.created_at
    since = base + (delta or dormant_delta())
    return since if now >= since else None


_SETTLE_FIELDS = (
    "id",
    "grade",
    "status",
    "owner_id",
    "deleted_at",
    "created_at",
    "owned_since",
    "last_followup_at",
    "last_activity_at",
    "followup_overdue_since",
    "dormant_since",
)


def customer_clocks_settle(*, customer_id: int, now: dt.datetime | None = None) -> None:
    """Store the customer's cadence and dormancy state as of `now` at once (after a
    follow-up, a transfer, a grade change); a derived-column UPDATE, no version bump."""
    now = now or timezone.now()
    customer = Customer.objects.filter(pk=customer_id).only(*_SETTLE_FIELDS).first()
    if customer is None:
        return
    overdue = customer_overdue_since_at(customer, now=now)
    dormant = customer_dormant_since_at(customer, now=now)
    if (overdue, dormant) != (customer.followup_overdue_since, customer.dormant_since):
        Customer.objects.filter(pk=customer_id).update(
            followup_overdue_since=overdue, dormant_since=dormant
        )


def customer_activity_touch(*, customer_id: int | None, at: dt.datetime | None = None) -> None:
    """Something happened with the customer (a follow-up, an opportunity created, moved, won
    or lost): its last activity moves forward to `at`, and a dormant customer whose activity
    is within the dormancy period wakes up at once. Never moves the time back; one UPDATE."""
    if customer_id is None:
        return
    customers_activity_touch(customer_ids=[customer_id], at=at)


def customers_activity_touch(*, customer_ids: Any, at: dt.datetime | None = None) -> None:
    """customer_activity_touch for many customers at once (an import's batch): one UPDATE."""
    ids = sorted({i for i in customer_ids if i is not None})
    if not ids:
        return
    at = at or timezone.now()
    values: dict[str, Any] = {"last_activity_at": at}
    if at > timezone.now() - dormant_delta():
        values["dormant_since"] = None
    Customer.objects.filter(
        Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at), pk__in=ids
    ).update(**values)


# --- the sweeps -----------------------------------------------------------------------------


def _owned_live() -> QuerySet[Customer]:
    return Customer.objects.filter(LIVE, owner__isnull=False)


def customers_cadence_sweep(*, now: dt.datetime, reconcile: bool = True) -> int:
    """Store every customer's cadence state as of `now` (set, clear); rows changed.

    `reconcile` also moves the stored moment of customers still overdue whose base moved (a
    follow-up edited or deleted, a new owner, a changed grade or interval): that reads every
    overdue customer, so the scheduled sweep does it hourly (crm.activities.clocks)."""
    changed = 0
    intervals = cadence_intervals()
    for grade in GRADES:
        interval = intervals[grade]
        if interval is None:
            # No clock for the grade: whatever was stored goes (index B, grade leading).
            changed += batched_update(
                Customer.objects.filter(LIVE, followup_overdue_since__isnull=False, grade=grade),
                followup_overdue_since=None,
            )
            continue
        cutoff = now - interval
        due = _plus(cadence_base(), interval)
        # Newly overdue (index A: owned, live, not overdue; by grade and base).
        changed += batched_update(
            _owned_live()
            .filter(followup_overdue_since__isnull=True, grade=grade)
            .exclude(status=LOST)
            .alias(base=cadence_base())
            .filter(base__lt=cutoff),
            followup_overdue_since=due,
        )
        overdue = Customer.objects.filter(
            LIVE, followup_overdue_since__isnull=False, grade=grade
        ).alias(base=cadence_base())
        # Back in cadence (index B: base at or after the cutoff).
        changed += batched_update(
            overdue.filter(base__gte=cutoff), order=("base",), followup_overdue_since=None
        )
        if not reconcile:
            continue
        # Still overdue but from another moment: the stored moment follows (index B).
        changed += batched_update(
            overdue.filter(base__lt=cutoff).alias(due=due).exclude(followup_overdue_since=F("due")),
            followup_overdue_since=due,
        )
    # Back in the pool: no owner, no clock (cust_overdue_idx, owner leading).
    changed += batched_update(
        Customer.objects.filter(LIVE, owner__isnull=True, followup_overdue_since__isnull=False),
        followup_overdue_since=None,
    )
    # Lost (流失): nobody is expected to keep calling; winning them back starts from the
    # dormant list, not from a daily overdue reminder.
    changed += batched_update(
        Customer.objects.filter(LIVE, status=LOST, followup_overdue_since__isnull=False),
        followup_overdue_since=None,
    )
    return changed


def customers_dormant_sweep(*, now: dt.datetime) -> int:
    """Flag customers dormant as of `now` and wake those whose activity resumed (CUS-10)."""
    delta = dormant_delta()
    cutoff = now - delta
    since = _plus(dormant_base(), delta)
    changed = batched_update(
        Customer.objects.filter(LIVE, dormant_since__isnull=True)
        .alias(base=dormant_base())
        .filter(base__lte=cutoff),
        order=("base",),
        dormant_since=since,
    )
    dormant = Customer.objects.filter(LIVE, dormant_since__isnull=False).alias(base=dormant_base())
    changed += batched_update(dormant.filter(base__gt=cutoff), order=("base",), dormant_since=None)
    changed += batched_update(
        dormant.filter(base__lte=cutoff).alias(since=since).exclude(dormant_since=F("since")),
        dormant_since=since,
    )
    return changed


def overdue_counts_by_owner(owner_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Overdue customers per owner (cust_overdue_idx, index-only)."""
    from django.db.models import Count

    qs = Customer.objects.filter(LIVE, owner__isnull=False, followup_overdue_since__isnull=False)
    if owner_ids is not None:
        qs = qs.filter(owner_id__in=list(owner_ids))
    return dict(qs.values_list("owner_id").annotate(n=Count("id")).order_by())
