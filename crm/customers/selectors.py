"""Every read of customers goes through here, already limited to the viewer's data scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils.dateparse import parse_date

from crm.core.errors import NotFoundError
from crm.core.scope import scope_filter
from crm.core.text import name_fold, search_query_tokens
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
    sort: str = DEFAULT_SORT

    @classmethod
    def from_params(cls, params: Any) -> CustomerFilters:
        """Build filters from query parameters; unknown or malformed values are ignored."""

        def text(name: str) -> str:
            return str(params.get(name) or "").strip()[:100]

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
            owner_id=int(owner) if owner.isdigit() else None,
            created_from=date("created_from"),
            created_to=date("created_to"),
            sort=sort if sort in SORTS else DEFAULT_SORT,
        )


def customers_visible_to(user: Any) -> QuerySet[Customer]:
    """Live customers the user may see (the recycle bin is separate)."""
    return Customer.objects.filter(scope_filter(user, MODULE), deleted_at__isnull=True)


def customers_deleted_visible_to(user: Any) -> QuerySet[Customer]:
    return Customer.objects.filter(scope_filter(user, MODULE), deleted_at__isnull=False)


def customer_search(queryset: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """Search name fragments (Chinese 1+ characters), number, phone digits, contact names and
    pinyin initials.

    On PostgreSQL the n-gram tokens narrow the rows through a GIN index; the plain `contains`
    check then keeps only true matches. Queries without any token fall back to the plain scan,
    so no query ever returns a silently wrong empty page.
    """
    folded = name_fold(query)
    if not folded:
        return queryset
    chinese, digit_tokens, words = search_query_tokens(query)
    if connection.vendor == "postgresql" and (chinese or digit_tokens or words):
        terms = [f"'{t}'" for t in chinese + digit_tokens]
        terms += [f"('{w}':* | 'py{w}':*)" for w in words]
        queryset = queryset.extra(
            where=[
                "to_tsvector('simple'::regconfig, customers_customer.search_document) "
                "@@ to_tsquery('simple'::regconfig, %s)"
            ],
            params=[" & ".join(terms)],
        )
        if words and not (chinese or digit_tokens):
            return queryset
    return queryset.filter(search_blob__contains=folded)


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
        qs = qs.filter(created_at__date__gte=f.created_from)
    if f.created_to:
        qs = qs.filter(created_at__date__lte=f.created_to)
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
    today = timezone.localdate()
    month_start = today.replace(day=1)
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
        "new_this_month": qs.filter(created_at__date__gte=month_start).count(),
        "by_source": by_source,
        "by_industry": by_industry,
        "recent": recent,
        "max_source": max((s["count"] for s in by_source), default=0),
    }
