"""Every read of opportunities goes through here, already limited to the viewer's data scope.

Visibility (issue 6 §1, §6): an opportunity is visible to a user when
- its owner is inside the user's scope of the `opportunities` module, AND
- its customer is live (not in the recycle bin) and inside the user's scope of `customers`.
A record on a customer the caller cannot see is answered 404, like a record outside the
scope: an opportunity never reveals a customer its reader could not open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.dateparse import parse_date

from crm.core.customfields_filters import CustomFilter, custom_filters_apply, custom_filters_parse
from crm.core.errors import NotFoundError
from crm.core.scope import scope_filter
from crm.core.search import search_terms
from crm.sales.models import Milestone, Opportunity, PipelineTotal, StageChange
from crm.sales.stages import StageInfo, stages_all, stages_by_id, stages_open

MODULE = "opportunities"
MAX_ID = 2**63 - 1
ZERO = Decimal("0.00")
SORTS = {
    "created": (F("created_at").desc(), F("id").desc()),
    "-created": (F("created_at").asc(), F("id").asc()),
    "name": (F("pinyin").asc(), F("name").asc(), F("id").asc()),
    "-name": (F("pinyin").desc(), F("name").desc(), F("id").desc()),
    "number": (F("number").asc(),),
    "-number": (F("number").desc(),),
    "amount": (F("amount").desc(), F("id").desc()),
    "-amount": (F("amount").asc(), F("id").asc()),
    "close": (F("expected_close_date").asc(nulls_last=True), F("id").asc()),
    "-close": (F("expected_close_date").desc(nulls_last=True), F("id").desc()),
    "updated": (F("updated_at").desc(), F("id").desc()),
}
DEFAULT_SORT = "created"
STATUSES = ("open", "won", "lost")


def opportunity_scope_q(user: Any) -> Q:
    """The condition on Opportunity rows that `user` may see (live and deleted ones alike)."""
    return (
        scope_filter(user, MODULE, owner_field="owner")
        & scope_filter(user, "customers", owner_field="customer__owner")
        & Q(customer__deleted_at__isnull=True)
    )


def opportunities_visible_to(user: Any) -> QuerySet[Opportunity]:
    """Live opportunities the user may see (the recycle bin is separate)."""
    return Opportunity.objects.filter(opportunity_scope_q(user), deleted_at__isnull=True)


def opportunities_deleted_visible_to(user: Any) -> QuerySet[Opportunity]:
    return Opportunity.objects.filter(opportunity_scope_q(user), deleted_at__isnull=False)


def _pk(value: Any) -> int:
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        raise NotFoundError() from None
    if not 1 <= pk <= MAX_ID:
        raise NotFoundError()
    return pk


def opportunity_get(
    *, user: Any, opportunity_id: Any, include_deleted: bool = False
) -> Opportunity:
    """One opportunity the user may see; 404 (never 403) outside the scope."""
    qs = Opportunity.objects.filter(opportunity_scope_q(user), pk=_pk(opportunity_id))
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    found = qs.select_related(
        "customer", "contact", "owner", "stage", "created_by", "updated_by", "deleted_by"
    ).first()
    if found is None:
        raise NotFoundError()
    return found


# --- the list -----------------------------------------------------------------------------------


@dataclass
class OpportunityFilters:
    q: str = ""
    stage_id: int | None = None
    status: str = ""
    owner_id: int | None = None
    customer_id: int | None = None
    expected_close_from: dt.date | None = None
    expected_close_to: dt.date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    sort: str = DEFAULT_SORT
    # Custom field filters (cf_<key>=, cf_<key>_from=, cf_<key>_to=; crm.core.customfields_filters).
    custom: tuple[CustomFilter, ...] = ()

    @classmethod
    def from_params(cls, params: Any) -> OpportunityFilters:
        """Filters from query parameters; unknown or malformed values are ignored."""

        def text(name: str) -> str:
            return str(params.get(name) or "").replace("\x00", "").strip()[:100]

        def number(name: str) -> int | None:
            raw = text(name)
            return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_ID else None

        def date(name: str) -> dt.date | None:
            try:
                return parse_date(text(name)) if text(name) else None
            except ValueError:
                return None

        def amount(name: str) -> Decimal | None:
            raw = text(name).replace(",", "")
            try:
                value = Decimal(raw) if raw else None
            except ArithmeticError:
                return None
            if value is None or not value.is_finite() or not 0 <= value < Decimal("1e12"):
                return None
            return value

        status = text("status")
        sort = text("sort")
        return cls(
            q=text("q"),
            stage_id=number("stage_id") or number("stage"),
            status=status if status in STATUSES else "",
            owner_id=number("owner_id") or number("owner"),
            customer_id=number("customer_id") or number("customer"),
            expected_close_from=date("expected_close_from"),
            expected_close_to=date("expected_close_to"),
            amount_min=amount("amount_min"),
            amount_max=amount("amount_max"),
            created_from=date("created_from"),
            created_to=date("created_to"),
            sort=sort if sort in SORTS else DEFAULT_SORT,
            custom=custom_filters_parse(MODULE, params),
        )

    @property
    def narrowing(self) -> bool:
        """Any filter beyond stage, owner and status (those the pipeline totals answer)."""
        return any(
            [
                self.q,
                self.customer_id,
                self.expected_close_from,
                self.expected_close_to,
                self.amount_min is not None,
                self.amount_max is not None,
                self.created_from,
                self.created_to,
                self.custom,
            ]
        )


def opportunity_search(queryset: QuerySet[Opportunity], query: str) -> QuerySet[Opportunity]:
    """Number, name (with its pinyin initials) and the customer's name (with its initials):
    every term of the query must match one of them."""
    for term in search_terms(query):
        queryset = queryset.filter(
            Q(search_blob__contains=term)
            | Q(customer__name_key__contains=term)
            | Q(customer__pinyin__contains=term)
        )
    return queryset


_FIRST_DAY = dt.date(1900, 1, 1)
_LAST_DAY = dt.date(9999, 12, 1)


def _day_start(day: dt.date) -> dt.datetime:
    day = min(max(day, _FIRST_DAY), _LAST_DAY)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def opportunities_filtered(
    *, user: Any, filters: OpportunityFilters | None = None
) -> QuerySet[Opportunity]:
    """The visible opportunities matching the filters (no order, no joins fetched)."""
    f = filters or OpportunityFilters()
    qs = opportunities_visible_to(user)
    if f.stage_id:
        qs = qs.filter(stage_id=f.stage_id)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.expected_close_from:
        qs = qs.filter(expected_close_date__gte=f.expected_close_from)
    if f.expected_close_to:
        qs = qs.filter(expected_close_date__lte=f.expected_close_to)
    if f.amount_min is not None:
        qs = qs.filter(amount__gte=f.amount_min)
    if f.amount_max is not None:
        qs = qs.filter(amount__lte=f.amount_max)
    if f.created_from:
        qs = qs.filter(created_at__gte=_day_start(f.created_from))
    if f.created_to:
        qs = qs.filter(created_at__lt=_day_start(min(f.created_to, _LAST_DAY) + dt.timedelta(1)))
    if f.q:
        qs = opportunity_search(qs, f.q)
    if f.custom:
        qs = custom_filters_apply(qs, f.custom)
    return qs


LIST_FIELDS = (
    "id",
    "number",
    "name",
    "customer_id",
    "contact_id",
    "owner_id",
    "stage_id",
    "status",
    "amount",
    "probability",
    "probability_manual",
    "expected_close_date",
    "source",
    "contract_no",
    "actual_amount",
    "closed_on",
    "lost_reason",
    "stage_entered_at",
    "version",
    "created_at",
    "updated_at",
    "deleted_at",
    "custom",
    "customer__name",
    "customer__number",
    "owner__username",
    "owner__full_name",
    "owner__first_name",
    "owner__last_name",
)


def opportunity_list(
    *, user: Any, filters: OpportunityFilters | None = None
) -> QuerySet[Opportunity]:
    """The list: scope, filters, search and sort; the customer and owner fetched in the same
    query (a page costs one query whatever its length). The stage comes from the cached
    pipeline (`stages_by_id`), not from a join."""
    f = filters or OpportunityFilters()
    return (
        opportunities_filtered(user=user, filters=f)
        .select_related("customer", "owner")
        .only(*LIST_FIELDS)
        .order_by(*SORTS.get(f.sort, SORTS[DEFAULT_SORT]))
    )


# --- pipeline totals: kanban columns, pipeline, forecast ----------------------------------------


def _totals_visible_to(user: Any, owner_id: int | None = None) -> QuerySet[PipelineTotal]:
    """The running totals of the owners inside the user's opportunities scope.

    Totals follow the opportunities' own scope (by owner): they are the pipeline of the
    owners the user oversees. An opportunity whose customer the user can no longer open
    (transferred to someone outside the user's customer scope) still counts in its owner's
    totals, though the list does not show it.
    """
    qs = PipelineTotal.objects.filter(scope_filter(user, MODULE, owner_field="owner"))
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    return qs


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _sums_by_stage(
    user: Any, filters: OpportunityFilters
) -> dict[int, tuple[int, Decimal, Decimal]]:
    """{stage id: (count, amount, weighted)} of the open opportunities the filters select."""
    if filters.narrowing:
        # A search or a filter the totals do not know: sum the matching rows themselves (a
        # narrowed set, small by construction).
        weighted = Sum(
            F("amount") * F("probability") / 100,
            output_field=DecimalField(max_digits=18, decimal_places=2),
        )
        return {
            row["stage_id"]: (row["n"], _money(row["total"]), _money(row["weighted"]))
            for row in opportunities_filtered(
                user=user, filters=OpportunityFilters(**{**filters.__dict__, "status": ""})
            )
            .filter(status="open")
            .values("stage_id")
            .annotate(n=Count("id"), total=Sum("amount"), weighted=weighted)
            .order_by()
        }
    qs = _totals_visible_to(user, filters.owner_id)
    if filters.stage_id:
        qs = qs.filter(stage_id=filters.stage_id)
    return {
        row["stage_id"]: (row["n"] or 0, _money(row["amount"]), _money(row["weighted"]))
        for row in qs.values("stage_id")
        .annotate(n=Sum("count"), amount=Sum("amount"), weighted=Sum("weighted_amount"))
        .order_by()
    }


@dataclass
class KanbanColumn:
    stage: StageInfo
    cards: list[Opportunity]
    count: int
    amount: Decimal
    weighted_amount: Decimal

    @property
    def has_more(self) -> bool:
        return self.count > len(self.cards)


def opportunity_kanban(
    *, user: Any, filters: OpportunityFilters | None = None, per_column: int = 20
) -> list[KanbanColumn]:
    """The board: one column per active open stage (and per retired one still holding
    opportunities), its newest cards and its totals (count, amount, weighted amount).
    Two queries (the cards, the totals) whatever the number of cards or columns."""
    f = filters or OpportunityFilters()
    sums = _sums_by_stage(user, f)
    base = opportunity_list(
        user=user,
        filters=OpportunityFilters(**{**f.__dict__, "status": "open", "stage_id": None}),
    )
    shown = [
        stage
        for stage in stages_open(include_retired=True)
        if (stage.is_active or sums.get(stage.id, (0,))[0])
        and (not f.stage_id or stage.id == f.stage_id)
    ]
    cards: dict[int, list[Opportunity]] = {s.id: [] for s in shown}
    for card in _kanban_cards(base, [s.id for s in shown], per_column):
        cards[card.stage_id].append(card)
    columns = []
    for stage in shown:
        count, amount, weighted = sums.get(stage.id, (0, ZERO, ZERO))
        columns.append(
            KanbanColumn(
                stage=stage,
                cards=cards[stage.id],
                count=count,
                amount=amount,
                weighted_amount=weighted,
            )
        )
    return columns


def _kanban_cards(
    base: QuerySet[Opportunity], stage_ids: list[int], per_column: int
) -> list[Opportunity]:
    """Every column's newest cards in one query. PostgreSQL: UNION ALL of one LIMITed branch
    per column, each answered by a walk of the stage's index (a window function would number
    every open opportunity in scope first). SQLite cannot LIMIT inside a compound statement:
    the window function there, on the small databases SQLite serves."""
    if not stage_ids:
        return []
    if connection.vendor == "postgresql":
        branches = [base.filter(stage_id=sid)[:per_column] for sid in stage_ids]
        if len(branches) == 1:
            return list(branches[0])
        return list(branches[0].union(*branches[1:], all=True))
    order = base.query.order_by
    numbered = base.filter(stage_id__in=stage_ids).annotate(
        column_row=Window(RowNumber(), partition_by=[F("stage_id")], order_by=list(order))
    )
    return list(numbered.filter(column_row__lte=per_column))


def pipeline_summary(*, user: Any, owner_id: int | None = None) -> list[dict[str, Any]]:
    """Per open stage, in pipeline order: {stage_id, name, count, amount, weighted_amount}
    of the open opportunities within the user's scope (retired stages only when they still
    hold some)."""
    sums = _sums_by_stage(user, OpportunityFilters(owner_id=owner_id))
    rows = []
    for stage in stages_open(include_retired=True):
        count, amount, weighted = sums.get(stage.id, (0, ZERO, ZERO))
        if not stage.is_active and not count:
            continue
        rows.append(
            {
                "stage_id": stage.id,
                "name": stage.display_name,
                "probability": stage.probability,
                "count": count,
                "amount": amount,
                "weighted_amount": weighted,
            }
        )
    return rows


FORECAST_GROUPS = ("month", "owner")


def opportunity_forecast(
    *, user: Any, group: str = "month", owner_id: int | None = None
) -> list[dict[str, Any]]:
    """The forecast of the open opportunities within the user's scope: best case (amount)
    and weighted amount (amount × probability), by expected-close month (oldest first, "no
    date" last) or by owner (largest weighted amount first)."""
    from crm.accounts.models import User

    qs = _totals_visible_to(user, owner_id).exclude(count=0)
    key = "close_month" if group == "month" else "owner_id"
    sums = list(
        qs.values(key)
        .annotate(n=Sum("count"), amount=Sum("amount"), weighted=Sum("weighted_amount"))
        .order_by()
    )
    rows: list[dict[str, Any]] = []
    if group == "month":
        for row in sorted(sums, key=lambda r: (r["close_month"] == 0, r["close_month"])):
            month = row["close_month"]
            rows.append(
                {
                    "month": f"{month // 100:04d}-{month % 100:02d}" if month else None,
                    "count": row["n"] or 0,
                    "amount": _money(row["amount"]),
                    "weighted_amount": _money(row["weighted"]),
                }
            )
        return rows
    names = {
        u.pk: u.display_name
        for u in User.objects.filter(pk__in=[r["owner_id"] for r in sums]).only(
            "id", "username", "full_name", "first_name", "last_name"
        )
    }
    for row in sums:
        rows.append(
            {
                "owner_id": row["owner_id"],
                "owner_name": names.get(row["owner_id"], ""),
                "count": row["n"] or 0,
                "amount": _money(row["amount"]),
                "weighted_amount": _money(row["weighted"]),
            }
        )
    rows.sort(key=lambda r: (-r["weighted_amount"], r["owner_name"]))
    return rows


# --- one opportunity: history, milestones ---------------------------------------------------------


def stage_history(opportunity: Opportunity) -> QuerySet[StageChange]:
    """The opportunity's stage changes, newest first (already scope-checked by the caller's
    opportunity_get); the stages come from the cached pipeline, the actor in the same query."""
    return (
        StageChange.objects.filter(opportunity=opportunity)
        .select_related("actor")
        .order_by("-changed_at", "-id")
    )


def milestones_of(opportunity: Opportunity) -> QuerySet[Milestone]:
    return (
        Milestone.objects.filter(opportunity=opportunity)
        .select_related("created_by")
        .order_by("-occurred_on", "-id")
    )


def stage_of(stage_id: int | None) -> StageInfo | None:
    """A stage by id from the cached pipeline (cards, rows, history lines)."""
    return stages_by_id().get(stage_id) if stage_id is not None else None


def customer_opportunities(*, user: Any, customer_id: int) -> dict[str, Any]:
    """The customer page's opportunities tab: the customer's visible opportunities (newest
    first, at most 50) and their totals: how many, open amount, won amount (one query)."""
    qs = opportunities_visible_to(user).filter(customer_id=customer_id)
    totals = qs.aggregate(
        n=Count("id"),
        open_amount=Sum("amount", filter=Q(status="open")),
        won_amount=Sum("actual_amount", filter=Q(status="won")),
    )
    rows = list(
        qs.select_related("owner")
        .only(*[f for f in LIST_FIELDS if not f.startswith("customer__")])
        .order_by("-created_at", "-id")[:50]
    )
    return {
        "rows": rows,
        "count": totals["n"] or 0,
        "open_amount": _money(totals["open_amount"]),
        "won_amount": _money(totals["won_amount"]),
    }


__all__ = [
    "DEFAULT_SORT",
    "FORECAST_GROUPS",
    "SORTS",
    "KanbanColumn",
    "OpportunityFilters",
    "customer_opportunities",
    "milestones_of",
    "opportunities_deleted_visible_to",
    "opportunities_filtered",
    "opportunities_visible_to",
    "opportunity_forecast",
    "opportunity_get",
    "opportunity_kanban",
    "opportunity_list",
    "opportunity_scope_q",
    "opportunity_search",
    "pipeline_summary",
    "stage_history",
    "stage_of",
    "stages_all",
]
