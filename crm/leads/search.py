"""What the global search (crm.web.search, the top bar) finds among leads: the lead list's own
search (number, company, contact person, phone, email, pinyin initials), within the scope."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.core.scope import user_can
from crm.leads.selectors import LeadFilters, lead_list
from crm.web.search import SearchHit, search_provider_register

_NUMBER = re.compile(r"XS\d{6,}", re.IGNORECASE)


def leads_search(*, user: Any, q: str, limit: int) -> list[SearchHit]:
    """Up to `limit` leads matching `q` that `user` may see, newest first; `exact` when the
    query is the lead's number."""
    rows = lead_list(user=user, filters=LeadFilters(q=q)).only(
        "id",
        "number",
        "company",
        "name",
        "grade",
        "status",
        "owner__full_name",
        "owner__username",
        "owner__first_name",
        "owner__last_name",
    )[:limit]
    number = q.strip().upper() if _NUMBER.fullmatch(q.strip()) else ""
    hits = [
        SearchHit(
            title=lead.company,
            subtitle=" · ".join(
                str(part)
                for part in (
                    lead.number,
                    lead.name,
                    lead.owner.display_name if lead.owner_id else _("Unassigned"),
                    lead.get_status_display(),
                )
                if part
            ),
            url=reverse("leads:detail", args=[lead.pk]),
            badges=(lead.grade,),
            exact=bool(number) and lead.number == number,
        )
        for lead in rows
    ]
    if number and not any(hit.exact for hit in hits):
        # The number of a lead merged into another finds the survivor.
        from crm.leads.merge import lead_merged_by_number

        survivor = lead_merged_by_number(user=user, number=number)
        if survivor is not None:
            hits.insert(
                0,
                SearchHit(
                    title=survivor.company,
                    subtitle=_("%(old)s was merged into %(number)s")
                    % {"old": number, "number": survivor.number},
                    url=reverse("leads:detail", args=[survivor.pk]),
                    badges=(survivor.grade,),
                    exact=True,
                ),
            )
    return hits[:limit]


def lead_search_provider_register() -> None:
    """Called from LeadsConfig.ready()."""
    search_provider_register(
        code="leads",
        label=_("Leads"),
        position=15,
        search=leads_search,
        more_url=lambda q: reverse("leads:list") + "?" + urlencode({"q": q}),
        visible=lambda user: user_can(user, "leads", "view"),
    )
