"""The leads' merge pages (issue 8 §4): possible duplicates, "merge with…" and
compare/merge, declared for the shared mechanism of crm.web.merge."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from crm.leads.merge import MERGE_FIELDS, lead_merge
from crm.leads.models import OPEN_STATUSES, Lead
from crm.leads.selectors import lead_get, lead_search, leads_visible_to
from crm.leads.services import _display_snapshot
from crm.web.merge import MergePages, compare_page, duplicates_page, pick_page
from crm.web.views_support import record_view

# The keys a lead's duplicate check compares (crm.leads.services.lead_duplicates), each a
# column with a partial index over the open live leads (migration 0006).
KEYS = {
    "company": ("company_key", gettext_lazy("Company")),
    "phone": ("phone_digits", gettext_lazy("Phone")),
    "email": ("email_key", gettext_lazy("Email")),
}


def _fields() -> list[tuple[str, Any]]:
    labels = []
    for name in MERGE_FIELDS:
        if name == "custom":
            labels.append((name, _("Custom fields")))
        else:
            labels.append((name, str(Lead._meta.get_field(name).verbose_name).capitalize()))
    return labels


def _live(user: Any):
    """Open live leads: a converted or disqualified lead is no longer worked (the duplicate
    check compares open leads too)."""
    return leads_visible_to(user).filter(status__in=OPEN_STATUSES)


def _display(lead: Lead) -> dict[str, Any]:
    return _display_snapshot(lead)


def _moves(other: Lead) -> list[tuple[Any, int]]:
    from crm.activities.models import FollowUp

    return [(_("Follow-ups"), FollowUp.objects.filter(lead=other).count())]


def _merge(*, actor: Any, record: Lead, from_id: Any, keep: Any, version: Any) -> Lead:
    return lead_merge(actor=actor, lead=record, from_id=from_id, keep=keep, version=version)


def _titles() -> dict[str, Any]:
    return {
        "duplicates": _("Possible duplicate leads"),
        "compare": _("Compare and merge leads"),
        "pick": _("Merge “%(name)s” with…"),
        "back": _("Back to leads"),
    }


PAGES = MergePages(
    module="leads",
    keys=KEYS,
    fields=_fields,
    live=_live,
    get=lambda user, pk: lead_get(user=user, lead_id=pk),
    display=_display,
    moves=_moves,
    merge=_merge,
    search=lead_search,
    name_of=lambda lead: lead.company,
    sub_of=lambda lead: lead.name,
    detail_url="leads:detail",
    compare_url="leads:compare",
    pick_url="leads:merge_pick",
    duplicates_url="leads:duplicates",
    list_url="leads:list",
    titles=_titles,
)


def _back() -> tuple[str, str]:
    return reverse("leads:list"), _("Back to leads")


@record_view(back=_back)
def lead_duplicates_view(request: HttpRequest) -> HttpResponse:
    return duplicates_page(request, PAGES)


@record_view(back=_back)
def lead_merge_pick_view(request: HttpRequest, pk: int) -> HttpResponse:
    return pick_page(request, PAGES, pk)


@record_view(back=_back)
@require_http_methods(["GET", "POST"])
def lead_compare_view(request: HttpRequest, pk: int) -> HttpResponse:
    return compare_page(request, PAGES, pk)
