"""The customer archive's merge pages (CUS-6, issue 8 §4): possible duplicates, "merge
with…" and compare/merge, declared for the shared mechanism of crm.web.merge."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from crm.core.models import Attachment
from crm.customers.merge import MERGE_FIELDS, customer_merge
from crm.customers.models import Contact, Customer
from crm.customers.selectors import customer_get, customer_search, customers_visible_to
from crm.customers.services import _display_snapshot
from crm.web.merge import MergePages, compare_page, duplicates_page, pick_page
from crm.web.views_support import record_view

# The duplicate keys of the archive (crm.customers.services.customer_duplicate_matches),
# each a column with a partial index over the live rows (migration 0016).
KEYS = {
    "name": ("name_key", gettext_lazy("Name")),
    "phone": ("phone_digits", gettext_lazy("Phone")),
    "email": ("email_key", gettext_lazy("Email")),
    "credit_code": ("credit_code", gettext_lazy("Credit code")),
}


def _fields() -> list[tuple[str, Any]]:
    labels = []
    for name in MERGE_FIELDS:
        if name == "custom":
            labels.append((name, _("Custom fields")))
        else:
            labels.append((name, str(Customer._meta.get_field(name).verbose_name).capitalize()))
    return labels


def _display(customer: Customer) -> dict[str, Any]:
    return _display_snapshot(customer)


def _moves(other: Customer) -> list[tuple[Any, int]]:
    from crm.activities.models import FollowUp
    from crm.sales.models import Opportunity

    ct = ContentType.objects.get_for_model(Customer)
    return [
        (_("Contacts"), Contact.objects.filter(customer=other).count()),
        (_("Opportunities"), Opportunity.objects.filter(customer=other).count()),
        (_("Follow-ups"), FollowUp.objects.filter(customer=other).count()),
        (
            _("Files"),
            Attachment.objects.filter(content_type=ct, object_id=other.pk).count(),
        ),
    ]


def _merge(*, actor: Any, record: Customer, from_id: Any, keep: Any, version: Any) -> Customer:
    return customer_merge(actor=actor, customer=record, from_id=from_id, keep=keep, version=version)


def _titles() -> dict[str, Any]:
    return {
        "duplicates": _("Possible duplicate customers"),
        "compare": _("Compare and merge customers"),
        "pick": _("Merge “%(name)s” with…"),
        "back": _("Back to customers"),
    }


PAGES = MergePages(
    module="customers",
    keys=KEYS,
    fields=_fields,
    live=customers_visible_to,
    get=lambda user, pk: customer_get(user=user, customer_id=pk),
    display=_display,
    moves=_moves,
    merge=_merge,
    search=customer_search,
    name_of=lambda c: c.name,
    sub_of=lambda c: c.address,
    detail_url="customers:detail",
    compare_url="customers:compare",
    pick_url="customers:merge_pick",
    duplicates_url="customers:duplicates",
    list_url="customers:list",
    titles=_titles,
)


def _back() -> tuple[str, str]:
    return reverse("customers:list"), _("Back to customers")


@record_view(back=_back)
def customer_duplicates_view(request: HttpRequest) -> HttpResponse:
    return duplicates_page(request, PAGES)


@record_view(back=_back)
def customer_merge_pick_view(request: HttpRequest, pk: int) -> HttpResponse:
    return pick_page(request, PAGES, pk)


@record_view(back=_back)
@require_http_methods(["GET", "POST"])
def customer_compare_view(request: HttpRequest, pk: int) -> HttpResponse:
    return compare_page(request, PAGES, pk)
