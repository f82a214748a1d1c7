"""The home dashboard: the viewer's own figures, all through scoped selectors."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from crm.accounts.selectors import administrators
from crm.core.scope import user_can, user_grants
from crm.customers.selectors import customer_dashboard_figures, customers_created_by_month

FAVICON = (Path(__file__).parent / "static" / "crm" / "favicon.ico").read_bytes()


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {}
    user = request.user
    if user_can(user, "customers", "view"):
        figures = customer_dashboard_figures(user=user)
        context["figures"] = figures
        context["grade_chart"] = {
            "type": "donut",
            "data": [
                {"name": _("Grade A (key)"), "value": figures["grade_a"]},
                {"name": _("Grade B (potential)"), "value": figures["grade_b"]},
                {"name": _("Grade C (normal)"), "value": figures["grade_c"]},
            ],
        }
        months = customers_created_by_month(user=user, months=12)
        context["growth_chart"] = {
            "type": "bars",
            "name": _("New customers"),
            "labels": [m["month"].strftime("%Y-%m") for m in months],
            "data": [m["count"] for m in months],
        }
    elif not any(g.actions for g in user_grants(user).values()):
        # Nothing to show at all: say why and whom to ask, instead of an empty page.
        context["no_access"] = {
            "roles": list(user.roles.all()),
            "administrators": [a for a in administrators() if a.pk != user.pk],
        }
    return render(request, "web/home.html", context)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for whatever the page links: served, never a 404."""
    response = HttpResponse(FAVICON, content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
