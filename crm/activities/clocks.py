"""Follow-up cadence (FUP-3, LEAD-3; issue 7 §3): the `followup_cadence` sweep and the
"overdue follow-ups" list.

The sweep stores the cadence state of customers (crm.customers.clocks) and leads
(crm.leads.sweeps) as of `now`, then tells each active owner once a day (the company's date)
how many of theirs are overdue, and keeps those counts per owner for the managers' summary on
the overdue page (as of the sweep: counting a rep's overdue records at every page view would
read all of them).

The list (page and API) merges overdue customers and leads, longest overdue first, each read
through its module's partial index and the viewer's data scope; a page fetches one row more
than it shows and never counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core.pagination import Page, page_number_clean, page_size_clean
from crm.core.scope import scope_filter, user_can
from crm.customers.clocks import customers_cadence_sweep
from crm.customers.models import Customer

COUNTS_KEY = "crm:clocks:overdue_counts"
RECONCILED_KEY = "crm:clocks:cadence_reconciled_at"
RECONCILE_EVERY = dt.timedelta(hours=1)
# Counts computed by a page (no sweep stored any) serve until the next sweep round would have.
SWEEP_STALE = dt.timedelta(minutes=5)
# Deepest row the merged list reaches (page × size): beyond it, filter by owner or type.
MAX_DEPTH = 10_000
TYPES = ("customer", "lead")


def _lead_model():
    from crm.leads.models import Lead

    return Lead


def overdue_counts_compute() -> dict[str, Any]:
    """Overdue customers and leads per owner, now (two grouped index-only counts)."""
    Lead = _lead_model()
    customers = dict(
        Customer.objects.filter(
            deleted_at__isnull=True, owner__isnull=False, followup_overdue_since__isnull=False
        )
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    leads = dict(
        Lead.objects.filter(
            deleted_at__isnull=True, owner__isnull=False, followup_overdue_since__isnull=False
        )
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {"customers": customers, "leads": leads}


def overdue_counts(*, compute: bool = True) -> dict[str, Any] | None:
    """The counts stored by the last sweep (with `at`), or computed now when none is (an
    emptied cache): kept until the next sweep, so only the first page view pays for it."""
    stored = cache.get(COUNTS_KEY)
    if stored is None and compute:
        stored = {**overdue_counts_compute(), "at": None}
        cache.set(COUNTS_KEY, stored, timeout=int(SWEEP_STALE.total_seconds()))
    return stored


def cadence_notices_send(*, now: dt.datetime, counts: dict[str, Any]) -> int:
    """One notice per active owner per day (company time zone) with their overdue counts."""
    from crm.accounts.models import User
    from crm.notify.services import notification_send

    day = timezone.localtime(now, timezone.get_default_timezone()).date()
    owners = set(counts["customers"]) | set(counts["leads"])
    sent = 0
    link = reverse("activities:overdue")
    with translation.override(settings.LANGUAGE_CODE):
        for user in User.objects.filter(pk__in=sorted(owners), is_active=True).order_by("id"):
            customers = counts["customers"].get(user.pk, 0)
            leads = counts["leads"].get(user.pk, 0)
            note = notification_send(
                recipient=user,
                kind="followup_cadence",
                text=_(
                    "Follow-ups overdue by their cadence: customers %(customers)d, leads %(leads)d."
                )
                % {"customers": customers, "leads": leads},
                link=f"{link}?owner={user.pk}",
                dedup_key=f"followup_cadence:{day.isoformat()}",
            )
            sent += note is not None
    return sent


def followup_cadence_sweep(*, now: dt.datetime) -> int:
    """The `followup_cadence` sweep: customers' and leads' cadence state as of `now`, the
    daily notices, the per-owner counts; returns rows changed plus notices sent."""
    from crm.leads.sweeps import leads_cadence_sweep

    # Moving the stored moment of records still overdue reads all of them: hourly, and on a
    # sweep as of an earlier time than the last (crm sweep --now in the past).
    last = cache.get(RECONCILED_KEY)
    reconcile = last is None or not (last <= now < last + RECONCILE_EVERY)
    changed = customers_cadence_sweep(now=now, reconcile=reconcile) + leads_cadence_sweep(
        now=now, reconcile=reconcile
    )
    if reconcile:
        cache.set(RECONCILED_KEY, now, timeout=int(RECONCILE_EVERY.total_seconds()))
    counts = overdue_counts_compute()
    cache.set(COUNTS_KEY, {**counts, "at": now.isoformat()}, timeout=2 * 24 * 3600)
    return changed + cadence_notices_send(now=now, counts=counts)


# --- the overdue list -----------------------------------------------------------------------


@dataclass
class OverdueRow:
    type: str
    id: int
    name: str
    number: str
    grade: str
    owner_id: int | None
    owner_name: str
    last_followup_at: dt.datetime | None
    due_since: dt.datetime
    url: str


def overdue_types_visible(user: Any) -> list[str]:
    """Which kinds of record the user's overdue list holds (followups.view is the page's)."""
    if not user_can(user, "followups", "view"):
        return []
    types = []
    if user_can(user, "customers", "view"):
        types.append("customer")
    if user_can(user, "leads", "view"):
        types.append("lead")
    return types


def overdue_customers(user: Any, *, owner_id: int | None = None) -> QuerySet[Customer]:
    qs = Customer.objects.filter(
        scope_filter(user, "customers"),
        deleted_at__isnull=True,
        followup_overdue_since__isnull=False,
    )
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return qs.order_by("followup_overdue_since", "id")


def overdue_leads(user: Any, *, owner_id: int | None = None) -> QuerySet:
    Lead = _lead_model()
    qs = Lead.objects.filter(
        scope_filter(user, "leads"),
        deleted_at__isnull=True,
        followup_overdue_since__isnull=False,
    )
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    return qs.order_by("followup_overdue_since", "id")


def _customer_row(c: Customer) -> OverdueRow:
    return OverdueRow(
        type="customer",
        id=c.pk,
        name=c.name,
        number=c.number,
        grade=c.grade,
        owner_id=c.owner_id,
        owner_name=c.owner.display_name if c.owner_id else "",
        last_followup_at=c.last_followup_at,
        due_since=c.followup_overdue_since,
        url=reverse("customers:detail", args=[c.pk]),
    )


def _lead_row(lead: Any) -> OverdueRow:
    from crm.leads.sweeps import lead_link

    return OverdueRow(
        type="lead",
        id=lead.pk,
        name=f"{lead.company} {lead.name}".strip(),
        number=lead.number,
        grade=lead.grade,
        owner_id=lead.owner_id,
        owner_name=lead.owner.display_name if lead.owner_id else "",
        last_followup_at=lead.last_followup_at,
        due_since=lead.followup_overdue_since,
        url=lead_link(lead.pk),
    )


_OWNER_FIELDS = (
    "owner__id",
    "owner__username",
    "owner__full_name",
    "owner__first_name",
    "owner__last_name",
)


def overdue_list(
    *, user: Any, type: str = "", owner_id: int | None = None, page: Any = 1, size: Any = 20
) -> Page:
    """One page of the user's overdue customers and leads, longest overdue first.

    Each kind is read up to the end of the page plus one row, through its own index, and the
    two are merged: constant queries, no count, at most MAX_DEPTH rows deep.
    """
    number = page_number_clean(page)
    size = page_size_clean(size)
    offset = (number - 1) * size
    if offset + size > MAX_DEPTH:
        number = max(1, MAX_DEPTH // size)
        offset = (number - 1) * size
    want = offset + size + 1
    types = [t for t in overdue_types_visible(user) if not type or t == type]
    rows: list[OverdueRow] = []
    if "customer" in types:
        rows += [
            _customer_row(c)
            for c in overdue_customers(user, owner_id=owner_id)
            .select_related("owner")
            .only(
                "id",
                "name",
                "number",
                "grade",
                "owner_id",
                "last_followup_at",
                "followup_overdue_since",
                *_OWNER_FIELDS,
            )[:want]
        ]
    if "lead" in types:
        rows += [
            _lead_row(lead)
            for lead in overdue_leads(user, owner_id=owner_id)
            .select_related("owner")
            .only(
                "id",
                "company",
                "name",
                "number",
                "grade",
                "owner_id",
                "last_followup_at",
                "followup_overdue_since",
                *_OWNER_FIELDS,
            )[:want]
        ]
    rows.sort(key=lambda r: (r.due_since, r.type, r.id))
    window = rows[offset : offset + size + 1]
    return Page(items=window[:size], number=number, size=size, has_next=len(window) > size)


def overdue_summary(*, user: Any) -> dict[str, Any]:
    """Per rep within the viewer's scope: overdue customers and leads (as of the last sweep),
    for a viewer who sees more than their own. One query for the reps' names."""
    from crm.accounts.models import User
    from crm.core.scope import scope_covers, user_scope

    wide = any(user_scope(user, module) not in (None, "own") for module in ("customers", "leads"))
    if not wide:
        return {"rows": [], "at": None}
    counts = overdue_counts() or {"customers": {}, "leads": {}, "at": None}
    # JSON-like caches may turn the owner ids into strings.
    customers = {int(k): v for k, v in counts["customers"].items()}
    leads = {int(k): v for k, v in counts["leads"].items()}
    types = overdue_types_visible(user)
    owners = User.objects.filter(pk__in=sorted(set(customers) | set(leads))).only(
        "id", "username", "full_name", "first_name", "last_name", "department_id", "is_active"
    )
    rows = []
    for owner in owners:
        c = customers.get(owner.pk, 0) if scope_covers(user, "customers", owner) else 0
        c = c if "customer" in types else 0
        n = leads.get(owner.pk, 0) if scope_covers(user, "leads", owner) else 0
        n = n if "lead" in types else 0
        if c or n:
            rows.append(
                {
                    "owner": owner,
                    "customers": c,
                    "leads": n,
                    "total": c + n,
                    "active": owner.is_active,
                }
            )
    rows.sort(key=lambda r: (-r["total"], r["owner"].display_name))
    at = counts.get("at")
    return {"rows": rows, "at": dt.datetime.fromisoformat(at) if at else None}
