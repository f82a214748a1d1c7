"""Every read of leads goes through here, already limited to the viewer's data scope.

A lead is visible when the viewer's leads scope covers its owner; unassigned leads (no owner)
are visible to the users who may assign leads (issue 7 §1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from crm.core.customfields_filters import CustomFilter, custom_filters_apply, custom_filters_parse
from crm.core.errors import NotFoundError
from crm.core.scope import NOTHING, scope_filter, user_can, user_scope
from crm.core.search import folded_search
from crm.leads.models import Lead, LeadGrade, LeadStatus, SlaState

MODULE = "leads"
MAX_ID = 2**63 - 1
SORTS = {
    "created": ("-created_at", "-id"),
    "-created": ("created_at", "id"),
    "due": ("first_contact_due_at", "id"),
    "-due": ("-first_contact_due_at", "-id"),
    "number": ("number",),
    "-number": ("-number",),
    "company": ("pinyin", "company", "id"),
    "-company": ("-pinyin", "-company", "-id"),
    "updated": ("-updated_at", "-id"),
}
DEFAULT_SORT = "created"
# The filter parameter for unassigned leads: ?owner_id=none.
UNASSIGNED = "none"


def lead_scope_q(user: Any, *, prefix: str = "") -> Q:
    """A Q limiting leads (reached through `prefix`, e.g. "lead__" from a follow-up) to the
    ones `user` may see: owner in the leads scope, or no owner for users who may assign."""
    if user_scope(user, MODULE) is None:
        return NOTHING
    scope = scope_filter(user, MODULE, owner_field=f"{prefix}owner")
    if not scope:
        return Q()  # all records
    if user_can(user, MODULE, "assign"):
        return scope | Q(**{f"{prefix}owner__isnull": True})
    return scope


def leads_any_visible_to(user: Any) -> QuerySet[Lead]:
    """Leads the user may see, live or in the recycle bin."""
    return Lead.objects.filter(lead_scope_q(user))


def leads_visible_to(user: Any) -> QuerySet[Lead]:
    """Live leads the user may see (the recycle bin is separate)."""
    return leads_any_visible_to(user).filter(deleted_at__isnull=True)


def leads_deleted_visible_to(user: Any) -> QuerySet[Lead]:
    # A merged tombstone is not in the recycle bin: restoring it would undo half a merge.
    return leads_any_visible_to(user).filter(deleted_at__isnull=False, merged_into__isnull=True)


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID:
        return int(text)
    return None


@dataclass
class LeadFilters:
    status: str = ""
    grade: str = ""
    # An owner's id, or UNASSIGNED ("none") for leads without an owner.
    owner_id: int | str | None = None
    source: str = ""
    sla_state: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT
    # The parameters given with a value this list does not know (the API answers 422).
    invalid: dict[str, str] = field(default_factory=dict)
    # Custom field filters (cf_<key>=, cf_<key>_from=, cf_<key>_to=; crm.core.customfields_filters).
    custom: tuple[CustomFilter, ...] = ()

    @classmethod
    def from_params(cls, params: Any) -> LeadFilters:
        """Filters from query parameters; unknown values are ignored and named in
        `invalid` (the UI ignores them, the API refuses them)."""

        def text(name: str) -> str:
            return str(params.get(name) or "").replace("\x00", "").strip()[:100]

        invalid: dict[str, str] = {}

        def choice(name: str, allowed: list[str]) -> str:
            value = text(name)
            if value and value not in allowed:
                invalid[name] = value
                return ""
            return value

        owner_text = text("owner_id") or text("owner")
        owner: int | str | None = None
        if owner_text.lower() == UNASSIGNED:
            owner = UNASSIGNED
        elif owner_text:
            owner = _int(owner_text)
            if owner is None:
                invalid["owner_id"] = owner_text
        sort = text("sort")
        return cls(
            status=choice("status", LeadStatus.values),
            grade=choice("grade", LeadGrade.values),
            owner_id=owner,
            source=text("source"),
            sla_state=choice("sla_state", SlaState.values),
            q=text("q"),
            sort=sort if sort in SORTS else DEFAULT_SORT,
            invalid=invalid,
            custom=custom_filters_parse(MODULE, params),
        )


def lead_search(queryset: QuerySet[Lead], query: str) -> QuerySet[Lead]:
    """Number, company, contact person, phone (digits), email and pinyin initials; several
    terms must all match (crm.core.search, the customers' mechanism: the stored vector and its
    GIN index from leads 0004 on PostgreSQL)."""
    return folded_search(queryset, query)


LIST_DEFER = ("search_blob", "requirement", "notes", "disqualify_note")


def lead_list(*, user: Any, filters: LeadFilters | None = None) -> QuerySet[Lead]:
    """The lead list: scope, filters, search and sort; the owner in the same query."""
    f = filters or LeadFilters()
    qs = leads_visible_to(user)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.grade:
        qs = qs.filter(grade=f.grade)
    if f.owner_id == UNASSIGNED:
        qs = qs.filter(owner__isnull=True)
    elif f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.sla_state:
        qs = qs.filter(sla_state=f.sla_state)
    if f.q:
        qs = lead_search(qs, f.q)
    if f.custom:
        qs = custom_filters_apply(qs, f.custom)
    return (
        qs.select_related("owner")
        .defer(*LIST_DEFER)
        .order_by(*SORTS.get(f.sort, SORTS[DEFAULT_SORT]))
    )


def lead_get(*, user: Any, lead_id: Any, include_deleted: bool = False) -> Lead:
    """One lead the user may see; 404 (never 403) for leads outside the scope."""
    pk = lead_id if isinstance(lead_id, int) and not isinstance(lead_id, bool) else _int(lead_id)
    if pk is None or not 1 <= pk <= MAX_ID:
        raise NotFoundError()
    qs = leads_any_visible_to(user) if include_deleted else leads_visible_to(user)
    lead = (
        qs.filter(pk=pk)
        .select_related(
            "owner",
            "created_by",
            "updated_by",
            "deleted_by",
            "converted_customer",
            "converted_opportunity",
            "web_form",
        )
        .first()
    )
    if lead is None:
        raise NotFoundError()
    return lead
