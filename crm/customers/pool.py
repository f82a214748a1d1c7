"""The public customer pool (公海, issue 7 §4): release, claim, and the sweep that returns
neglected customers.

A customer without an owner is in the pool. Every move into or out of it is a PoolMove row (the
claim cool-down reads them), an audit entry (action transfer, field "pool") and a line on the
customer's timeline. The rules are settings (crm.core.config: pool_rules, pool_claim_limit,
pool_reclaim_days), never constants.

The sweep `pool_return` (registered in CustomersConfig.ready) works as of the `now` it is given
(`crm sweep --now`), set-based: one indexed query finds the customers due, then batches of
BATCH rows are moved with a handful of statements each. It is idempotent: a returned customer
has no owner any more, a notice is sent once per lapse (`pool_notice_at`, and a dedup key).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import batched
from typing import Any

from django.db import transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit_record, audit_record_many
from crm.core.config import GRADES, setting_get
from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.scope import scope_covers, scope_filter, user_can
from crm.core.text import typed_text
from crm.core.timeline import (
    timeline_kind_register,
    timeline_owner_set,
    timeline_record,
    timeline_record_many,
)
from crm.customers.models import (
    FOLLOWUP_CLOCK,
    OWNED_LIVE,
    WON_CLOCK,
    Contact,
    Customer,
    PoolMove,
)
from crm.customers.selectors import CustomerFilters

MODULE = "customers"
POOL = "pool"
OBJECT_TYPE = "customer"
BATCH = 1000
REASON_MAX = 500
# Why the sweep returned a customer (PoolMove.reason and the timeline line's data).
RULE_FOLLOWUP = "followup"
RULE_WON = "won"


# --- reading --------------------------------------------------------------------------------


def pool_customers() -> QuerySet[Customer]:
    """Live customers in the pool (no owner): what users with pool.view may browse."""
    return Customer.objects.filter(deleted_at__isnull=True, owner__isnull=True)


def pool_visible(user: Any) -> bool:
    return user_can(user, POOL, "view")


@dataclass
class PoolFilters:
    q: str = ""
    type: str = ""
    grade: str = ""
    industry: str = ""
    source: str = ""
    status: str = ""
    entered_from: dt.date | None = None
    entered_to: dt.date | None = None

    @classmethod
    def from_params(cls, params: Any) -> PoolFilters:
        """From query parameters, like the customer list's; malformed values are ignored."""
        base = CustomerFilters.from_params(params)

        def date(name: str) -> dt.date | None:
            raw = str(params.get(name) or "").replace("\x00", "").strip()[:20]
            try:
                return parse_date(raw) if raw else None
            except ValueError:
                return None

        return cls(
            q=base.q,
            type=base.type,
            grade=base.grade,
            industry=base.industry,
            source=base.source,
            status=base.status,
            entered_from=date("entered_from"),
            entered_to=date("entered_to"),
        )

    @property
    def active(self) -> bool:
        return any(
            [
                self.type,
                self.grade,
                self.industry,
                self.source,
                self.status,
                self.entered_from,
                self.entered_to,
            ]
        )


def pool_list(*, user: Any, filters: PoolFilters | None = None) -> QuerySet[Customer]:
    """The pool, newest arrivals first (index cust_pool_idx); nothing without pool.view.
    The primary contact comes with one more query for the page."""
    from crm.customers.selectors import _LAST_DAY, _day_start, customer_search

    f = filters or PoolFilters()
    if not pool_visible(user):
        return Customer.objects.none()
    qs = pool_customers()
    for name in ("type", "grade", "industry", "source", "status"):
        if getattr(f, name):
            qs = qs.filter(**{name: getattr(f, name)})
    if f.entered_from:
        qs = qs.filter(pool_entered_at__gte=_day_start(f.entered_from))
    if f.entered_to:
        qs = qs.filter(
            pool_entered_at__lt=_day_start(min(f.entered_to, _LAST_DAY) + dt.timedelta(1))
        )
    if f.q:
        qs = customer_search(qs, f.q)
    return (
        qs.prefetch_related(
            Prefetch(
                "contacts",
                queryset=Contact.objects.filter(is_primary=True),
                to_attr="primary_contacts",
            )
        )
        .defer(
            "search_blob",
            "search_document",
            "background",
            "remarks",
            "requirement",
            "decision_chain",
            "competitors",
        )
        .order_by("-pool_entered_at", "-id")
    )


def pool_customer_get(*, user: Any, customer_id: Any) -> Customer:
    """One customer in the pool, for a user with pool.view (403 without it, 404 when it is
    not in the pool)."""
    if not pool_visible(user):
        raise PermissionDeniedError()
    try:
        pk = int(customer_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    if not 1 <= pk <= 2**63 - 1:
        raise NotFoundError()
    customer = pool_customers().filter(pk=pk).prefetch_related("contacts").first()
    if customer is None:
        raise NotFoundError()
    return customer


def pool_moves(customer: Customer, *, limit: int = 20) -> list[PoolMove]:
    """The customer's latest moves in and out of the pool, newest first."""
    return list(customer.pool_moves.select_related("user", "actor").order_by("-at", "-id")[:limit])


def pool_move_reason(move: PoolMove) -> str:
    """A move's reason as a person reads it (the sweep stores its rule as a code)."""
    if move.kind == PoolMove.Kind.RETURN and ":" in move.reason:
        rule, _sep, days = move.reason.partition(":")
        return _rule_text(rule, days)
    return move.reason


# --- timeline -------------------------------------------------------------------------------


def _render_release(data: dict[str, Any]) -> str:
    return _("Released %(owner)s's customer to the public pool: %(reason)s") % {
        "owner": data.get("owner") or _("(nobody)"),
        "reason": data.get("reason") or "",
    }


def _rule_text(rule: str, days: Any) -> str:
    if rule == RULE_WON:
        return _("no won opportunity for %(days)s days") % {"days": days}
    return _("no follow-up for %(days)s days") % {"days": days}


def _render_return(data: dict[str, Any]) -> str:
    return _("Returned from %(owner)s to the public pool by rule: %(rule)s") % {
        "owner": data.get("owner") or _("(nobody)"),
        "rule": _rule_text(str(data.get("rule") or ""), data.get("days") or ""),
    }


def _render_claim(data: dict[str, Any]) -> str:
    return _("Claimed from the public pool by %(owner)s") % {"owner": data.get("owner") or ""}


def pool_timeline_kinds_register() -> None:
    """Called from CustomersConfig.ready()."""
    for code, label, render, icon in (
        ("pool_release", gettext_lazy("Released to the pool"), _render_release, "swap"),
        ("pool_return", gettext_lazy("Returned to the pool"), _render_return, "swap"),
        ("pool_claim", gettext_lazy("Claimed from the pool"), _render_claim, "user"),
    ):
        timeline_kind_register(code, module=MODULE, label=label, render=render, icon=icon)


def _line(customer_id: int, kind: str, owner_id: int | None, data: dict[str, Any]) -> dict:
    return {
        "customer_id": customer_id,
        "kind": kind,
        "owner_id": owner_id,
        "object_type": OBJECT_TYPE,
        "object_id": customer_id,
        "data": data,
    }


# --- release --------------------------------------------------------------------------------


def _may_release(actor: Any, owner: Any) -> bool:
    """The owner (with customers.edit), or someone with customers.transfer whose data scope
    covers the owner (their manager, an administrator)."""
    if owner is None:
        return False
    if owner.pk == getattr(actor, "pk", None) and user_can(actor, MODULE, "edit"):
        return True
    return user_can(actor, MODULE, "transfer") and scope_covers(actor, MODULE, owner)


@transaction.atomic
def customer_release(*, actor: Any, customer: Customer | int, reason: Any) -> Customer:
    """Put a customer into the public pool by hand, with a reason (required).

    403 without customers.edit/transfer, 404 outside the actor's scope, 403 when the actor is
    neither the owner nor someone whose transfer scope covers the owner, 422 without a reason,
    409 when the customer is already in the pool (or in the recycle bin).
    """
    if not (user_can(actor, MODULE, "edit") or user_can(actor, MODULE, "transfer")):
        raise PermissionDeniedError()
    customer_id = getattr(customer, "pk", customer)
    locked = (
        Customer.objects.select_for_update(of=("self",))
        .filter(pk=customer_id)
        .select_related("owner")
        .first()
    )
    if locked is None:
        raise NotFoundError()
    if locked.owner_id is None:
        if locked.deleted_at is None and pool_visible(actor):
            raise ConflictError(_("This customer is already in the public pool."))
        raise NotFoundError()
    if not Customer.objects.filter(scope_filter(actor, MODULE), pk=locked.pk).exists():
        raise NotFoundError()
    if not _may_release(actor, locked.owner):
        raise PermissionDeniedError(
            _("Only the owner, or someone who may transfer the owner's customers, can release it.")
        )
    text = typed_text(reason)
    if not text:
        raise ValidationFailed(
            fields={"reason": [_("Say why the customer goes to the public pool.")]}
        )
    if len(text) > REASON_MAX:
        raise ValidationFailed(
            fields={"reason": [_("At most %(limit)d characters.") % {"limit": REASON_MAX}]}
        )
    if locked.deleted_at is not None:
        raise ConflictError(_("This customer is in the recycle bin; restore it first."))
    now = timezone.now()
    former = locked.owner
    locked.owner = None
    locked.owned_since = None
    locked.pool_entered_at = now
    locked.pool_notice_at = None
    locked.followup_overdue_since = None
    locked.version += 1
    locked.updated_by = actor
    locked.save(
        update_fields=[
            "owner",
            "owned_since",
            "pool_entered_at",
            "pool_notice_at",
            "followup_overdue_since",
            "version",
            "updated_by",
            "updated_at",
        ]
    )
    PoolMove.objects.create(
        customer=locked, kind=PoolMove.Kind.RELEASE, user=former, actor=actor, reason=text, at=now
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.TRANSFER,
        instance=locked,
        changes=[
            {"field": "owner", "before": former.display_name, "after": ""},
            {"field": "pool", "before": "", "after": text},
        ],
    )
    timeline_owner_set(object_type=OBJECT_TYPE, object_ids=[locked.pk], owner_id=None)
    timeline_record(
        actor=actor,
        at=now,
        **_line(locked.pk, "pool_release", None, {"owner": former.display_name, "reason": text}),
    )
    if former.pk != getattr(actor, "pk", None):
        from crm.notify.services import notification_send

        notification_send(
            recipient=former,
            kind="pool_release",
            text=_("%(actor)s released your customer %(name)s to the public pool: %(reason)s")
            % {"actor": actor.display_name, "name": locked.name, "reason": text},
            link=reverse("pool:detail", args=[locked.pk]),
        )
    return locked


# --- claim ----------------------------------------------------------------------------------


def pool_cooldown_until(*, user: Any, customer_id: int, now: dt.datetime | None = None):
    """Until when `user` may not claim the customer back (they released it, or it returned to
    the pool from them, within pool_reclaim_days), or None."""
    days = int(setting_get("pool_reclaim_days"))
    if days <= 0:
        return None
    moment = now or timezone.now()
    last = (
        PoolMove.objects.filter(
            customer_id=customer_id,
            user_id=user.pk,
            kind__in=[PoolMove.Kind.RELEASE, PoolMove.Kind.RETURN],
            at__gt=moment - dt.timedelta(days=days),
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    return None if last is None else last + dt.timedelta(days=days)


@transaction.atomic
def customer_claim(*, actor: Any, customer: Customer | int) -> Customer:
    """Take a customer from the pool: the actor becomes its owner.

    403 without pool.claim; 404 when it is not a live customer; 409 when someone else owns it
    by now, when the actor owns pool_claim_limit live customers already, or within the
    cool-down of pool_reclaim_days after the actor released or lost it (the message says
    which). Claims by one user are serialized (their user row is locked first), so two claims
    at once cannot pass the limit together; two users claiming one customer meet on its row.
    """
    from crm.accounts.models import User

    if not user_can(actor, POOL, "claim"):
        raise PermissionDeniedError()
    customer_id = getattr(customer, "pk", customer)
    # Lock order: the claimer, then the customer (the same for every claim: no deadlock).
    User.objects.select_for_update().filter(pk=actor.pk).values_list("pk").first()
    locked = (
        Customer.objects.select_for_update(of=("self",))
        .filter(pk=customer_id, deleted_at__isnull=True)
        .first()
    )
    if locked is None:
        raise NotFoundError()
    if locked.owner_id == actor.pk:
        return locked  # a second click of the same claim
    if locked.owner_id is not None:
        raise ConflictError(
            _("Someone else claimed this customer first; it is no longer in the public pool."),
            extra={"reason": "claimed"},
        )
    now = timezone.now()
    limit = int(setting_get("pool_claim_limit"))
    mine = Customer.objects.filter(owner_id=actor.pk, deleted_at__isnull=True)
    # Counted up to the limit only: a rep with 250,000 customers costs no full count per
    # claim; the refusal says the exact number.
    if mine.values("pk")[:limit].count() >= limit:
        owned = mine.count()
        raise ConflictError(
            _(
                "Claim limit reached: you own %(owned)s customers and the limit is %(limit)s. "
                "Release or transfer some before claiming another."
            )
            % {"owned": owned, "limit": limit},
            extra={"reason": "limit", "limit": limit, "owned": owned},
        )
    until = pool_cooldown_until(user=actor, customer_id=locked.pk, now=now)
    if until is not None:
        from crm.web.templatetags.crm import local_dt

        days = int(setting_get("pool_reclaim_days"))
        raise ConflictError(
            _(
                "Cool-down: you released or lost this customer less than %(days)s days ago; "
                "you can claim it again from %(when)s."
            )
            % {"days": days, "when": local_dt(until)},
            extra={"reason": "cooldown", "until": until.isoformat()},
        )
    locked.owner = actor
    locked.owned_since = now
    locked.pool_entered_at = None
    locked.pool_notice_at = None
    locked.version += 1
    locked.updated_by = actor
    locked.save(
        update_fields=[
            "owner",
            "owned_since",
            "pool_entered_at",
            "pool_notice_at",
            "version",
            "updated_by",
            "updated_at",
        ]
    )
    PoolMove.objects.create(
        customer=locked, kind=PoolMove.Kind.CLAIM, user=actor, actor=actor, at=now
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.TRANSFER,
        instance=locked,
        changes=[
            {"field": "owner", "before": "", "after": actor.display_name},
            {"field": "pool", "before": _("Public pool"), "after": ""},
        ],
    )
    timeline_owner_set(object_type=OBJECT_TYPE, object_ids=[locked.pk], owner_id=actor.pk)
    timeline_record(
        actor=actor,
        at=now,
        **_line(locked.pk, "pool_claim", actor.pk, {"owner": actor.display_name}),
    )
    return locked


# --- settled at once ------------------------------------------------------------------------


def pool_followup_logged(sender: Any, *, followup: Any, **kwargs: Any) -> None:
    """A follow-up restarts the follow-up clock: a notice sent for the lapse it ends no longer
    holds (crm.activities.signals.followup_logged, inside the follow-up's transaction). The
    next sweep notices the customer again if another rule still runs out soon; the notice's
    dedup key keeps the owner from being told twice about the same date."""
    if getattr(followup, "customer_id", None) is None:
        return
    Customer.objects.filter(pk=followup.customer_id, pool_notice_at__isnull=False).update(
        pool_notice_at=None
    )


# --- the sweep ------------------------------------------------------------------------------


def pool_rules() -> dict[str, Any]:
    return setting_get("pool_rules")


def _rule_days(rules: dict[str, Any], name: str, grade: str) -> int | None:
    """A rule's days for a grade: the settings hold {grade: days or None} (the cleaner's
    shape); one number for every grade is read too."""
    value = rules.get(name)
    return _days(value.get(grade) if isinstance(value, dict) else value)


def _days(value: Any) -> int | None:
    try:
        days = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return days if days and days > 0 else None


def _due_q(rules: dict[str, Any], moment: dt.datetime) -> Q | None:
    """Customers whose clock ran out as of `moment`: per grade, the follow-up clock at least
    followup_days old, or the won clock at least won_days old. None: no rule is on."""
    condition: Q | None = None
    for grade in GRADES:
        for name, clock in (
            ("followup_days", "pool_followup_clock"),
            ("won_days", "pool_won_clock"),
        ):
            days = _rule_days(rules, name, grade)
            if days is None:
                continue
            part = Q(grade=grade, **{f"{clock}__lte": moment - dt.timedelta(days=days)})
            condition = part if condition is None else condition | part
    return condition


def _with_clocks(qs: QuerySet[Customer]) -> QuerySet[Customer]:
    return qs.alias(pool_followup_clock=FOLLOWUP_CLOCK, pool_won_clock=WON_CLOCK)


def _candidates(rules: dict[str, Any], moment: dt.datetime) -> QuerySet[Customer] | None:
    due = _due_q(rules, moment)
    if due is None:
        return None
    qs = _with_clocks(Customer.objects.filter(OWNED_LIVE)).filter(due)
    protected = [s for s in rules.get("protected_statuses") or [] if s]
    if protected:
        qs = qs.exclude(status__in=protected)
    return qs


def _why(rules: dict[str, Any], row: Customer, moment: dt.datetime) -> tuple[str, int, dt.datetime]:
    """(rule, days, since when due) of a due customer: the rule that ran out first."""
    owned = row.owned_since or row.created_at
    followup_clock = max(row.last_followup_at or owned, owned)
    won_clock = max(row.last_won_at or owned, owned)
    found: list[tuple[dt.datetime, str, int]] = []
    for name, rule, clock in (
        ("followup_days", RULE_FOLLOWUP, followup_clock),
        ("won_days", RULE_WON, won_clock),
    ):
        days = _rule_days(rules, name, row.grade)
        if days is not None:
            found.append((clock + dt.timedelta(days=days), rule, days))
    found.sort()
    due_at, rule, days = found[0]
    return rule, days, due_at


def _return_key(row: Customer) -> str:
    """One return notice per customer and ownership (a re-run of the sweep sends none)."""
    since = row.owned_since or row.created_at
    return f"pool:return:{row.pk}:{int(since.timestamp())}"


def _return_batch(ids: list[int], rules: dict[str, Any], moment: dt.datetime) -> int:
    from crm.notify.services import notifications_send_many

    qs = _candidates(rules, moment)
    with transaction.atomic():
        rows = list(
            qs.filter(pk__in=ids)
            .select_for_update(of=("self",), skip_locked=True)
            .select_related("owner")
            .only(
                "id",
                "number",
                "name",
                "grade",
                "owner_id",
                "owner__full_name",
                "owner__username",
                "owned_since",
                "created_at",
                "last_followup_at",
                "last_won_at",
            )
            .order_by("pk")
        )
        if not rows:
            return 0
        moved = [r.pk for r in rows]
        why = {r.pk: _why(rules, r, moment) for r in rows}
        PoolMove.objects.bulk_create(
            PoolMove(
                customer_id=r.pk,
                kind=PoolMove.Kind.RETURN,
                user_id=r.owner_id,
                reason=f"{why[r.pk][0]}:{why[r.pk][1]}",
                at=moment,
            )
            for r in rows
        )
        audit_record_many(
            actor="system",
            action=AuditEntry.Action.TRANSFER,
            entries=[
                (
                    r,
                    [
                        {"field": "owner", "before": r.owner.display_name, "after": ""},
                        {
                            "field": "pool",
                            "before": "",
                            "after": _rule_text(why[r.pk][0], why[r.pk][1]),
                        },
                    ],
                )
                for r in rows
            ],
        )
        Customer.objects.filter(pk__in=moved).update(
            owner=None,
            owned_since=None,
            pool_entered_at=moment,
            pool_notice_at=None,
            followup_overdue_since=None,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
        timeline_owner_set(object_type=OBJECT_TYPE, object_ids=moved, owner_id=None)
        timeline_record_many(
            actor=None,
            at=moment,
            lines=[
                _line(
                    r.pk,
                    "pool_return",
                    None,
                    {"owner": r.owner.display_name, "rule": why[r.pk][0], "days": why[r.pk][1]},
                )
                for r in rows
            ],
        )
        notifications_send_many(
            [
                {
                    "recipient_id": r.owner_id,
                    "kind": "pool_return",
                    "text": _("%(name)s (%(number)s) has returned to the public pool: %(rule)s.")
                    % {
                        "name": r.name,
                        "number": r.number,
                        "rule": _rule_text(why[r.pk][0], why[r.pk][1]),
                    },
                    "link": reverse("pool:detail", args=[r.pk]),
                    "dedup_key": _return_key(r),
                }
                for r in rows
            ]
        )
    return len(rows)


def _notice_batch(ids: list[int], rules: dict[str, Any], moment: dt.datetime) -> int:
    from crm.notify.services import notifications_send_many
    from crm.web.templatetags.crm import local_date

    ahead = moment + dt.timedelta(days=int(rules.get("notice_days") or 0))
    qs = _candidates(rules, ahead)
    with transaction.atomic():
        rows = list(
            qs.filter(pk__in=ids, pool_notice_at__isnull=True)
            .select_for_update(of=("self",), skip_locked=True)
            .only(
                "id",
                "number",
                "name",
                "grade",
                "owner_id",
                "owned_since",
                "created_at",
                "last_followup_at",
                "last_won_at",
            )
            .order_by("pk")
        )
        if not rows:
            return 0
        Customer.objects.filter(pk__in=[r.pk for r in rows]).update(pool_notice_at=moment)
        items = []
        for r in rows:
            rule, days, due_at = _why(rules, r, ahead)
            items.append(
                {
                    "recipient_id": r.owner_id,
                    "kind": "pool_notice",
                    "text": _(
                        "%(name)s (%(number)s) returns to the public pool on %(day)s "
                        "(%(rule)s) unless you work it before."
                    )
                    % {
                        "name": r.name,
                        "number": r.number,
                        "day": local_date(timezone.localtime(due_at).date()),
                        "rule": _rule_text(rule, days),
                    },
                    "link": reverse("customers:detail", args=[r.pk]),
                    "dedup_key": f"pool:notice:{r.pk}:{int(due_at.timestamp())}",
                }
            )
        notifications_send_many(items)
    return len(rows)


def pool_return_sweep(*, now: dt.datetime | None = None) -> int:
    """Return the customers whose owner let a rule run out, warn the owners of those about to
    (notice_days before), and re-arm the notice of customers that were worked since. Returns
    how many customers it changed."""
    moment = now or timezone.now()
    rules = pool_rules()
    if not rules.get("enabled"):
        return 0
    due = _candidates(rules, moment)
    if due is None:
        return 0
    touched = 0
    for ids in batched(due.order_by().values_list("pk", flat=True), BATCH):
        touched += _return_batch(ids, rules, moment)
    notice_days = int(rules.get("notice_days") or 0)
    if notice_days > 0:
        ahead = moment + dt.timedelta(days=notice_days)
        soon = _candidates(rules, ahead).filter(pool_notice_at__isnull=True)
        for ids in batched(soon.order_by().values_list("pk", flat=True), BATCH):
            touched += _notice_batch(ids, rules, moment)
        # Notified customers worked since (a follow-up, a win, a new owner): their next lapse
        # gets its own notice.
        ahead_due = _due_q(rules, ahead)
        rearm = _with_clocks(
            Customer.objects.filter(OWNED_LIVE, pool_notice_at__isnull=False)
        ).exclude(ahead_due)
        touched += rearm.update(pool_notice_at=None)
    return touched
