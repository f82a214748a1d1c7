"""The reactivation page (CUS-10; issue 7 §6): dormant customers within the viewer's scope,
latest to fall asleep first, each with the way to wake it (log a follow-up)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.core.config import setting_get
from crm.core.errors import PermissionDeniedError
from crm.core.pagination import page_size_choice, paginate
from crm.core.scope import user_can, users_assignable_by
from crm.customers.selectors import customers_dormant
from crm.web.views_support import is_htmx, query_url, record_view, render_page


def _back() -> tuple[str, str]:
    return reverse("customers:list"), _("Back to customers")


@record_view(back=_back)
def customers_dormant_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user_can(user, "customers", "view"):
        raise PermissionDeniedError()
    from crm.activities.views_clocks import owner_param

    owner_id = owner_param(request.GET.get("owner"))
    size = page_size_choice(request.GET.get("page_size"), default=settings.CRM_PAGE_SIZE)
    page = paginate(
        customers_dormant(user=user, owner_id=owner_id), page=request.GET.get("page"), size=size
    )
    owners = [
        (u.pk, u.display_name)
        for u in users_assignable_by(user, "customers").only(
            "id", "full_name", "username", "first_name", "last_name"
        )
    ]
    context = {
        "page": page,
        "days": setting_get("dormant_days"),
        "owner_id": owner_id,
        "owners": owners if len(owners) > 1 else [],
        "can_log": user_can(user, "followups", "create"),
        "here": request.get_full_path(),
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
    }
    template = "customers/dormant.html"
    if is_htmx(request) and request.htmx.target == "dormant-body":
        template += "#dormant_body"
    return render_page(request, template, context)
