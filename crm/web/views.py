"""The home dashboard: the viewer's own figures, all through scoped selectors."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from crm.core.scope import user_can
from crm.customers.selectors import customer_dashboard_figures


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {}
    if user_can(request.user, "customers", "view"):
        context["figures"] = customer_dashboard_figures(user=request.user)
    return render(request, "web/home.html", context)
