"""The home dashboard and the global search's results page: the viewer's own figures and
records, all through scoped selectors."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from crm.accounts.selectors import administrators
from crm.core.scope import user_can, user_grants
from crm.customers.selectors import customer_dashboard_figures, customers_created_by_month
from crm.web.search import search_providers
from crm.web.views_support import render_page

SEARCH_LIMIT = 8  # hits per module on the results page; "see all" opens the module's list
SEARCH_QUERY_CHARS = 100
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


@login_required
@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """/search/?q=: each module's hits the viewer may see (crm.web.search providers), up to
    SEARCH_LIMIT each with a link to the module's full list for the query. A query that names
    one record exactly (its number) and finds nothing else opens that record."""
    q = " ".join((request.GET.get("q") or "").replace("\x00", "").split())[:SEARCH_QUERY_CHARS]
    groups = []
    if q:
        for provider in search_providers(user=request.user):
            # One more than shown: it says whether "see all" has more to show.
            hits = provider.search(user=request.user, q=q, limit=SEARCH_LIMIT + 1)
            groups.append(
                {
                    "code": provider.code,
                    "label": provider.label,
                    "hits": hits[:SEARCH_LIMIT],
                    "has_more": len(hits) > SEARCH_LIMIT,
                    "more_url": provider.more_url(q),
                }
            )
        found = [hit for group in groups for hit in group["hits"]]
        if len(found) == 1 and found[0].exact:
            return redirect(found[0].url)
    context = {
        "q": q,
        "groups": groups,
        "found": any(group["hits"] for group in groups),
        "searchable": bool(search_providers(user=request.user)),
    }
    return render_page(request, "web/search.html", context)
