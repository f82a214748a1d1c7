"""The "overdue follow-ups" page (FUP-3, LEAD-3; issue 7 §3): customers and leads overdue
by their cadence, longest overdue first, with a summary row per rep for managers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.activities.clocks import TYPES, overdue_list, overdue_summary, overdue_types_visible
from crm.core.errors import PermissionDeniedError
from crm.core.pagination import page_size_choice
from crm.core.scope import user_can, users_assignable_by
from crm.web.views_support import is_htmx, query_url, record_view, render_page


def _back() -> tuple[str, str]:
    return reverse("activities:mine"), _("Back to my follow-ups")


def owner_param(value: object) -> int | None:
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and 0 < int(text) <= 2**63 - 1:
        return int(text)
    return None


@record_view(back=_back)
def followups_overdue_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user_can(user, "followups", "view"):
        raise PermissionDeniedError()
    kind = request.GET.get("type", "")
    if kind not in TYPES:
        kind = ""
    owner_id = owner_param(request.GET.get("owner"))
    size = page_size_choice(request.GET.get("page_size"), default=settings.CRM_PAGE_SIZE)
    page = overdue_list(
        user=user, type=kind, owner_id=owner_id, page=request.GET.get("page"), size=size
    )
    summary = overdue_summary(user=user)
    for row in summary["rows"]:
        row["url"] = query_url(request, owner=row["owner"].pk, page=None)
    owners = []
    if summary["rows"] or owner_id:
        owners = [
            (u.pk, u.display_name)
            for u in users_assignable_by(user, "customers").only(
                "id", "full_name", "username", "first_name", "last_name"
            )
        ]
    types = overdue_types_visible(user)
    context = {
        "page": page,
        "kind": kind,
        "types": types if len(types) > 1 else [],
        "owner_id": owner_id,
        "owners": owners,
        "summary": summary,
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
    }
    template = "activities/overdue.html"
    if is_htmx(request) and request.htmx.target == "overdue-body":
        template += "#overdue_body"
    return render_page(request, template, context)
