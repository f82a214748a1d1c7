"""Every read of customers goes through here, already limited to the viewer's data scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.dateparse import parse_date

from crm.core.customfields_filters import CustomFilter, custom_filters_apply, custom_filters_parse
from crm.core.errors import NotFoundError
from crm.core.scope import scope_filter
from crm.core.search import folded_search
from crm.customers.models import Contact, Customer

MODULE = "customers"
SORTS = {
    "created": ("-created_at", "-id"),
    "-created": ("created_at", "id"),
    "name": ("pinyin", "name", "id"),
    "-name": ("-pinyin", "-name", "-id"),
    "number": ("number",),
    "-number": ("-number",),
    "grade": ("grade", "-created_at", "-id"),
    "-grade": ("-grade", "-created_at", "-id"),
    "updated": ("-updated_at", "-id"),
    "-updated": ("updated_at", "id"),
}
DEFAULT_SORT = "created"


@dataclass
class CustomerFilters:
    q: str = ""
    type: str = ""
    industry: str = ""
    grade: str = ""
    source: str = ""
    status: str = ""
    owner_id: int | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    # The clocks (issue 7 §3, §6): overdue by the follow-up cadence, dormant.
    overdue: bool = False
    dormant: bool = False
    sort: str = DEFAULT_SORT
    # Custom field filters (cf_<key>=, cf_<key>_from=, cf_<key>_to=; crm.core.customfields_filters).
    custom: tuple[CustomFilter, ...] = ()

    @classmethod
    def from_params(cls, params: Any) -> CustomerFilters:
        """Build filters from query parameters; unknown or malformed values are ignored."""

        def text(name: str) -> str:
            return str(params.get(name) or "").replace("\x00", "").strip()[:100]

        def date(name: str) -> dt.date | None:
            try:
                return parse_date(text(name)) if text(name) else None
            except ValueError:
                return None

        owner = text("owner") or text("owner_id")
        sort = text("sort")
        return cls(
            q=text("q"),
            type=text("type"),
            industry=text("industry"),
            grade=text("grade"),
            source=text("source"),
            status=text("status"),
            # "²" passes isdigit() but not int(), and ids beyond BIGINT overflow the driver.
            owner_id=int(owner)
            if owner.isascii() and owner.isdigit() and int(owner) <= 2**63 - 1
            else None,
            created_from=date("created_from"),
            created_to=date("created_to"),
            overdue=text("overdue") in ("1", "true", "on"),
            dormant=text("dormant") in ("1", "true", "on"),
            sort=sort if sort in SORTS else DEFAULT_SORT,
            custom=custom_filters_parse(MODULE, params),
        )


def customers_visible_to(user: Any) -> QuerySet[Customer]:
    """Live customers the user may see (the recycle bin is separate), outside the public pool:
    a customer without an owner is listed by crm.customers.pool, not by the customer list,
    search, exports and the API list (issue 7 §4)."""
    return Customer.objects.filter(
        scope_filter(user, MODULE), deleted_at__isnull=True, owner__isnull=False
    )


def customers_deleted_visible_to(user: Any) -> QuerySet[Customer]:
    # A merged tombstone is not in the recycle bin: restoring it would undo half a merge.
    return Customer.objects.filter(
        scope_filter(user, MODULE), deleted_at__isnull=False, merged_into__isnull=True
    )


def customer_search(queryset: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """Search name fragments (Chinese 1+ characters), number, phone digits, contact names,
    emails, credit code and pinyin initials; several terms must all match. The mechanism
    (folded texts, the stored vector on PostgreSQL, migration 0004) is crm.core.search's."""
    return folded_search(queryset, query)


_FIRST_DAY = dt.date(1900, 1, 1)
_LAST_DAY = dt.date(9999, 12, 1)


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the current time zone: filters on created_at keep using its index
    (a __date lookup would wrap the column in a function). Days at the ends of the calendar
    are clamped, so 0001-01-01 or 9999-12-31 typed in a filter cannot overflow."""
    day = min(max(day, _FIRST_DAY), _LAST_DAY)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def customer_list(*, user: Any, filters: CustomerFilters | None = None) -> QuerySet[Customer]:
    """The customer list: scope, filters, search and sort; owner and primary contact fetched
    with a constant number of queries."""
    f = filters or CustomerFilters()
    qs = customers_visible_to(user)
    if f.type:
        qs = qs.filter(type=f.type)
    if f.industry:
        qs = qs.filter(industry=f.industry)
    if f.grade:
        qs = qs.filter(grade=f.grade)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if f.created_from:
        qs = qs.filter(created_at__gte=_day_start(f.created_from))
    if f.created_to:
        qs = qs.filter(created_at__lt=_day_start(min(f.created_to, _LAST_DAY) + dt.timedelta(1)))
    if f.overdue:
        qs = qs.filter(followup_overdue_since__isnull=False)
    if f.dormant:
        qs = qs.filter(dormant_since__isnull=False)
    if f.custom:
        qs = custom_filters_apply(qs, f.custom)
    if f.q:
        qs = customer_search(qs, f.q)
    return (
        qs.select_related("owner")
        .prefetch_related(
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
        .order_by(*SORTS.get(f.sort, SORTS[DEFAULT_SORT]))
    )


# What an API answer shows of a contact: the search column stays in the table.
CONTACT_ANSWER_FIELDS = (
    "id",
    "customer_id",
    "name",
    "title",
    "phone",
    "email",
    "notes",
    "is_primary",
    "custom",
)


def contacts_by_customer(customer_ids: list[int]) -> dict[int, list[Any]]:
    """The contacts of a page of customers (already scope-checked), primary first, in one
    query, as read-only rows with the contact's attribute names (named tuples: a page's
    answer needs their values, not 40 model instances and the prefetch machinery)."""
    found: dict[int, list[Any]] = {}
    if customer_ids:
        rows = Contact.objects.filter(customer_id__in=customer_ids).values_list(
            *CONTACT_ANSWER_FIELDS, named=True
        )
        for row in rows:
            found.setdefault(row.customer_id, []).append(row)
    return found


def customer_get(*, user: Any, customer_id: Any, include_deleted: bool = False) -> Customer:
    """One customer the user may see; 404 (never 403) for records outside the scope."""
    try:
        pk = int(customer_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    qs = Customer.objects.filter(scope_filter(user, MODULE), pk=pk)
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    customer = (
        qs.select_related("owner", "owner__department", "created_by", "updated_by", "deleted_by")
        .prefetch_related("contacts")
        .first()
    )
    if customer is None:
        raise NotFoundError()
    return customer


def contact_get(*, user: Any, contact_id: Any) -> Contact:
    """A contact whose customer the user may see."""
    try:
        pk = int(contact_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    contact = (
        Contact.objects.filter(
            pk=pk,
            customer__in=customers_visible_to(user).values("pk"),
        )
        .select_related("customer")
        .first()
    )
    if contact is None:
        raise NotFoundError()
    return contact


def customer_dashboard_figures(*, user: Any) -> dict[str, Any]:
    """Counts for the home page, limited to the viewer's scope; a fixed handful of queries."""
    from django.db.models import Count
    from django.utils import timezone

    from crm.core.dictionaries import dictionary_label

    qs = customers_visible_to(user)
    # A time range (not a __date lookup) so the created_at index can serve it.
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    by_grade = dict(qs.values_list("grade").annotate(n=Count("id")).order_by())
    by_source = [
        {"code": code or "", "label": dictionary_label("source", code) or "—", "count": n}
        for code, n in qs.values_list("source").annotate(n=Count("id")).order_by("-n")[:8]
    ]
    by_industry = [
        {"code": code, "label": dictionary_label("industry", code), "count": n}
        for code, n in qs.values_list("industry").annotate(n=Count("id")).order_by("-n")[:8]
    ]
    total = sum(by_grade.values())
    recent = list(
        qs.select_related("owner")
        .only("id", "number", "name", "grade", "updated_at", "owner__full_name", "owner__username")
        .order_by("-updated_at")[:8]
    )
    return {
        "total": total,
        "grade_a": by_grade.get("A", 0),
        "grade_b": by_grade.get("B", 0),
        "grade_c": by_grade.get("C", 0),
        "new_this_month": qs.filter(created_at__gte=month_start).count(),
        "by_source": by_source,
        "by_industry": by_industry,
        "recent": recent,
        "max_source": max((s["count"] for s in by_source), default=0),
        "max_industry": max((s["count"] for s in by_industry), default=0),
    }


def customers_created_by_month(*, user: Any, months: int = 12) -> list[dict[str, Any]]:
    """New customers per calendar month (company time zone) over the last `months` months,
    oldest first, zero for empty months; one grouped query within the viewer's scope."""
    tz = timezone.get_default_timezone()
    now = timezone.localtime(timezone.now(), tz)
    starts = []
    year, month = now.year, now.month
    for _i in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    since = timezone.make_aware(dt.datetime.combine(starts[0], dt.time.min), tz)
    counts = {
        timezone.localtime(row["month"], tz).date().replace(day=1)
        if isinstance(row["month"], dt.datetime)
        else row["month"]: row["n"]
        for row in customers_visible_to(user)
        .filter(created_at__gte=since)
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("month")
        .annotate(n=Count("id"))
        .order_by()
    }
    return [{"month": start, "count": counts.get(start, 0)} for start in starts]


def customers_dormant(*, user: Any, owner_id: int | None = None) -> QuerySet[Customer]:
    """The reactivation list (CUS-10): dormant customers in scope, latest to fall asleep
    first (cust_dormant_all_idx; cust_dormant_idx for one owner)."""
    qs = customers_visible_to(user).filter(dormant_since__isnull=False)
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    return (
        qs.select_related("owner")
        .only(
            "id",
            "number",
            "name",
            "grade",
            "status",
            "owner_id",
            "owner__id",
            "owner__username",
            "owner__full_name",
            "owner__first_name",
            "owner__last_name",
            "last_followup_at",
            "last_activity_at",
            "dormant_since",
            "created_at",
        )
        .order_by("-dormant_since", "-id")
    )
