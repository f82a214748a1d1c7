"""Every read of follow-ups goes through here, already limited to the viewer's data scope.

A follow-up is visible when the viewer's followups scope covers its author AND the viewer's
customers scope covers its customer (issue 6 §6: a follow-up on a customer the caller cannot
see is not found, whoever wrote it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date

from crm.activities.models import PLAN_OPEN, FollowUp
from crm.core.customfields_filters import CustomFilter, custom_filters_apply, custom_filters_parse
from crm.core.errors import NotFoundError
from crm.core.models import Attachment
from crm.core.scope import NOTHING, scope_filter, user_scope
from crm.leads.selectors import lead_scope_q

MODULE = "followups"
PLANNED = ("today", "overdue", "week")
MAX_ID = 2**63 - 1
_FIRST_DAY = dt.date(1900, 1, 1)
_LAST_DAY = dt.date(9999, 12, 1)


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the company's time zone (settings.TIME_ZONE), as an aware moment:
    range filters keep using the indexes; days at the ends of the calendar are clamped."""
    day = min(max(day, _FIRST_DAY), _LAST_DAY)
    return timezone.make_aware(
        dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone()
    )


def company_today(now: dt.datetime | None = None) -> dt.date:
    return timezone.localtime(now or timezone.now(), timezone.get_default_timezone()).date()


def followups_any_visible_to(user: Any) -> QuerySet[FollowUp]:
    """Follow-ups the user may see, live or in the recycle bin.

    The customer must be visible (customers' scope), and the user's follow-ups scope must
    cover the author or the customer's owner: whoever works a customer reads its whole
    follow-up log, also the entries of a manager or of its previous owner (a transferred
    customer keeps its history), while a rep never reads another team's log.
    """
    on_customer = (
        scope_filter(user, MODULE, owner_field="author")
        | scope_filter(user, MODULE, owner_field="customer__owner")
    ) & Q(
        scope_filter(user, "customers", owner_field="customer__owner"),
        customer__deleted_at__isnull=True,
        customer__isnull=False,
    )
    # A follow-up on a lead not yet converted (issue 7 §1) follows the lead's scope (the
    # follow-ups view permission still needed); once converted, its customer's.
    lead_scope = lead_scope_q(user, prefix="lead__")
    if user_scope(user, MODULE) is None or lead_scope == NOTHING:
        return FollowUp.objects.filter(on_customer)
    on_lead = Q(lead_scope, customer__isnull=True, lead__deleted_at__isnull=True)
    return FollowUp.objects.filter(on_customer | on_lead)


def followups_visible_to(user: Any) -> QuerySet[FollowUp]:
    """Live follow-ups the user may see (the recycle bin is separate)."""
    return followups_any_visible_to(user).filter(deleted_at__isnull=True)


def followups_deleted_visible_to(user: Any) -> QuerySet[FollowUp]:
    return followups_any_visible_to(user).filter(deleted_at__isnull=False)


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID:
        return int(text)
    return None


@dataclass
class FollowUpFilters:
    customer_id: int | None = None
    lead_id: int | None = None
    opportunity_id: int | None = None
    author_id: int | None = None
    occurred_from: dt.date | None = None
    occurred_to: dt.date | None = None
    planned: str = ""
    q: str = ""
    # Custom field filters (cf_<key>=, cf_<key>_from=, cf_<key>_to=; crm.core.customfields_filters).
    custom: tuple[CustomFilter, ...] = ()

    @classmethod
    def from_params(cls, params: Any) -> FollowUpFilters:
        """Filters from query parameters; unknown or malformed values are ignored."""

        def text(name: str) -> str:
            return str(params.get(name) or "").replace("\x00", "").strip()[:100]

        def date(name: str) -> dt.date | None:
            try:
                return parse_date(text(name)) if text(name) else None
            except ValueError:
                return None

        planned = text("planned")
        return cls(
            customer_id=_int(text("customer_id") or text("customer")),
            lead_id=_int(text("lead_id") or text("lead")),
            opportunity_id=_int(text("opportunity_id") or text("opportunity")),
            author_id=_int(text("author_id") or text("author")),
            occurred_from=date("occurred_from"),
            occurred_to=date("occurred_to"),
            planned=planned if planned in PLANNED else "",
            q=text("q"),
            custom=custom_filters_parse(MODULE, params),
        )


def _week_start(today: dt.date) -> dt.date:
    return today - dt.timedelta(days=today.weekday())  # Monday, as Chinese calendars count


def planned_filter(qs: QuerySet[FollowUp], which: str, *, now: dt.datetime | None = None):
    """Open plans due today (the whole calendar day), overdue (time passed) or this week
    (Monday to Sunday), in the company's time zone; ordered by planned time."""
    moment = now or timezone.now()
    today = company_today(moment)
    qs = qs.filter(PLAN_OPEN)
    if which == "today":
        qs = qs.filter(
            next_at__gte=_day_start(today), next_at__lt=_day_start(today + dt.timedelta(1))
        )
    elif which == "overdue":
        qs = qs.filter(next_at__lt=moment)
    elif which == "week":
        start = _week_start(today)
        qs = qs.filter(
            next_at__gte=_day_start(start), next_at__lt=_day_start(start + dt.timedelta(7))
        )
    return qs.order_by("next_at", "id")


LIST_RELATED = ("customer", "lead", "author", "contact", "opportunity")
LIST_FIELDS = (
    *(f.name for f in FollowUp._meta.concrete_fields),
    "customer__id",
    "customer__name",
    "customer__number",
    "customer__owner_id",
    "lead__id",
    "lead__company",
    "lead__number",
    "lead__owner_id",
    "author__id",
    "author__username",
    "author__full_name",
    "author__first_name",
    "author__last_name",
    "contact__id",
    "contact__name",
    "contact__customer_id",
    "opportunity__id",
    "opportunity__name",
    "opportunity__number",
    "opportunity__customer_id",
    "opportunity__owner_id",
)


def followup_list(
    *, user: Any, filters: FollowUpFilters | None = None, now: dt.datetime | None = None
) -> QuerySet[FollowUp]:
    """The follow-up list: scope and filters, newest first (planned filters: by planned
    time); the customer, author, contact and opportunity in the same query."""
    f = filters or FollowUpFilters()
    qs = followups_visible_to(user)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.lead_id:
        qs = qs.filter(lead_id=f.lead_id)
    if f.opportunity_id:
        qs = qs.filter(opportunity_id=f.opportunity_id)
    if f.author_id:
        qs = qs.filter(author_id=f.author_id)
    if f.occurred_from:
        qs = qs.filter(occurred_at__gte=_day_start(f.occurred_from))
    if f.occurred_to:
        qs = qs.filter(occurred_at__lt=_day_start(min(f.occurred_to, _LAST_DAY) + dt.timedelta(1)))
    if f.q:
        qs = qs.filter(summary__icontains=f.q)
    if f.custom:
        qs = custom_filters_apply(qs, f.custom)
    qs = qs.select_related(*LIST_RELATED).only(*LIST_FIELDS)
    if f.planned:
        return planned_filter(qs, f.planned, now=now)
    return qs.order_by("-occurred_at", "-id")


def followup_get(*, user: Any, followup_id: Any, include_deleted: bool = False) -> FollowUp:
    """One follow-up the user may see; 404 (never 403) outside the scope."""
    pk = _int(followup_id) if not isinstance(followup_id, int) else followup_id
    if pk is None or not 1 <= pk <= MAX_ID:
        raise NotFoundError()
    qs = followups_any_visible_to(user) if include_deleted else followups_visible_to(user)
    followup = (
        qs.filter(pk=pk)
        # The list's relations only: four more user joins cost PostgreSQL ~6 ms of planning
        # on every read (an API answer after each write); the detail page reads the few
        # people it shows (created by, updated by ...) when it shows them.
        .select_related(*LIST_RELATED)
        .first()
    )
    if followup is None:
        raise NotFoundError()
    return followup


def plans_for(
    *,
    user: Any,
    which: str,
    author_id: int | None = None,
    now: dt.datetime | None = None,
) -> QuerySet[FollowUp]:
    """ "My follow-ups": the open plans of `user` (author = user) due today, overdue or this
    week; with `author_id` (a manager looking at a subordinate), that person's plans, within
    the user's scope (someone outside it simply has none)."""
    qs = followups_visible_to(user).filter(author_id=author_id or user.pk)
    qs = qs.select_related(*LIST_RELATED).only(*LIST_FIELDS)
    return planned_filter(qs, which if which in PLANNED else "today", now=now)


def plan_counts(
    *, user: Any, author_id: int | None = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """How many plans each tab of "my follow-ups" holds (three small index range counts)."""
    base = followups_visible_to(user).filter(author_id=author_id or user.pk)
    return {which: planned_filter(base, which, now=now).count() for which in PLANNED}


def recent_for(*, user: Any, author_id: int | None = None) -> QuerySet[FollowUp]:
    """The follow-ups `user` (or the chosen subordinate) logged, newest first."""
    qs = followups_visible_to(user).filter(author_id=author_id or user.pk)
    return qs.select_related(*LIST_RELATED).only(*LIST_FIELDS).order_by("-occurred_at", "-id")


def attachment_ids_by_followup(followup_ids: list[int]) -> dict[int, list[int]]:
    """The ids of the live attachments of a page of follow-ups (already scope-checked), in
    one query."""
    found: dict[int, list[int]] = {}
    if followup_ids:
        content_type = ContentType.objects.get_for_model(FollowUp)
        rows = (
            Attachment.objects.filter(
                content_type=content_type, object_id__in=followup_ids, deleted_at__isnull=True
            )
            .order_by("created_at", "id")
            .values_list("object_id", "id")
        )
        for object_id, pk in rows:
            found.setdefault(object_id, []).append(pk)
    return found


def opportunity_visible(*, user: Any, opportunity_id: Any) -> Any:
    """The live opportunity the user may see (its owner in the user's opportunities scope and
    its customer in the customers scope), or 404. A plain scoped query on the sales table,
    for the opportunity page's follow-ups tab."""
    from crm.sales.models import Opportunity

    pk = _int(opportunity_id) if not isinstance(opportunity_id, int) else opportunity_id
    found = None
    if pk is not None and 1 <= pk <= MAX_ID:
        found = (
            Opportunity.objects.filter(
                scope_filter(user, "opportunities", owner_field="owner"),
                scope_filter(user, "customers", owner_field="customer__owner"),
                pk=pk,
                deleted_at__isnull=True,
                customer__deleted_at__isnull=True,
            )
            .select_related("customer")
            .first()
        )
    if found is None:
        raise NotFoundError()
    return found


def opportunities_of_customer(*, user: Any, customer_id: int) -> QuerySet:
    """The live opportunities of a customer the user may see (the form's choices)."""
    from crm.sales.models import Opportunity

    return (
        Opportunity.objects.filter(
            scope_filter(user, "opportunities", owner_field="owner"),
            customer_id=customer_id,
            deleted_at__isnull=True,
        )
        .only("id", "name", "number")
        .order_by("-created_at", "-id")[:200]
    )
