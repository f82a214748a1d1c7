"""What the global search (crm.web.search, the top bar) finds among customers: the customer
list's own search (name, number, phone, contacts, pinyin initials), within the viewer's scope."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.core.scope import user_can
from crm.customers.selectors import CustomerFilters, customer_list
from crm.web.search import SearchHit, search_provider_register

_NUMBER = re.compile(r"KH\d{6,}", re.IGNORECASE)


def customers_search(*, user: Any, q: str, limit: int) -> list[SearchHit]:
    """Up to `limit` customers matching `q` that `user` may see, in the list's default order.

    A hit is `exact` when the query is its customer number, so a single exact hit can open the
    record directly.
    """
    rows = (
        customer_list(user=user, filters=CustomerFilters(q=q))
        # The hit shows number, name, owner and grade: no contacts, no long texts.
        .prefetch_related(None)
        .only(
            "id",
            "number",
            "name",
            "grade",
            "owner__full_name",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
        )[:limit]
    )
    number = q.strip().upper() if _NUMBER.fullmatch(q.strip()) else ""
    hits = [
        SearchHit(
            title=c.name,
            subtitle=" · ".join(
                part
                for part in (
                    c.number,
                    c.owner.display_name if c.owner_id else "",
                    c.get_grade_display(),
                )
                if part
            ),
            url=reverse("customers:detail", args=[c.pk]),
            exact=bool(number) and c.number == number,
        )
        for c in rows
    ]
    if number and not any(hit.exact for hit in hits):
        # The number of a customer merged into another (CUS-6) finds the survivor.
        from crm.customers.merge import customer_merged_by_number

        survivor = customer_merged_by_number(user=user, number=number)
        if survivor is not None:
            hits.insert(
                0,
                SearchHit(
                    title=survivor.name,
                    subtitle=_("%(old)s was merged into %(number)s")
                    % {"old": number, "number": survivor.number},
                    url=reverse("customers:detail", args=[survivor.pk]),
                    exact=True,
                ),
            )
    return hits[:limit]


def customer_search_provider_register() -> None:
    """Called from CustomersConfig.ready()."""
    search_provider_register(
        code="customers",
        label=_("Customers"),
        position=10,
        search=customers_search,
        more_url=lambda q: reverse("customers:list") + "?" + urlencode({"q": q}),
        visible=lambda user: user_can(user, "customers", "view"),
    )
