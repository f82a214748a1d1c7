"""The home dashboard: the viewer's own figures, all through scoped selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from crm.core.scope import user_can
from crm.customers.selectors import customer_dashboard_figures


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {}
    if user_can(request.user, "customers", "view"):
        figures = customer_dashboard_figures(user=request.user)
        context["figures"] = figures
        context["grade_chart"] = {
            "data": [
                {"name": _("Grade A (key)"), "value": figures["grade_a"]},
                {"name": _("Grade B (potential)"), "value": figures["grade_b"]},
                {"name": _("Grade C (normal)"), "value": figures["grade_c"]},
            ]
        }
    return render(request, "web/home.html", context)
