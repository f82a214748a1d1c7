"""Global search (the top bar): each module registers what it finds for a query (issue 6 §4:
customers and opportunities by number, name and pinyin initials).

    search_provider_register(
        code="opportunities", label=_("Opportunities"), position=20,
        search=lambda *, user, q, limit: [...SearchHit...],  # within the user's data scope
        more_url=lambda q: reverse("sales:list") + "?" + urlencode({"q": q}),
        visible=lambda user: user_can(user, "opportunities", "view"),
    )

A provider reads through its module's scoped selectors, so the results page shows exactly what
the module's own list would. The results page is crm.web.views.search (URL name "search",
/search/?q=): up to SEARCH_LIMIT hits per provider, each with a "see all" link (more_url).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SearchHit:
    title: str
    url: str
    subtitle: str = ""
    badges: tuple[str, ...] = field(default_factory=tuple)
    # The query names this record exactly (its number): when it is the only hit of the whole
    # search, the results page opens the record instead of listing it.
    exact: bool = False


@dataclass(frozen=True)
class SearchProvider:
    code: str
    label: Any
    position: int
    search: Callable[..., list[SearchHit]]
    more_url: Callable[[str], str]
    visible: Callable[[Any], bool]


_PROVIDERS: dict[str, SearchProvider] = {}


def search_provider_register(
    *,
    code: str,
    label: Any,
    position: int,
    search: Callable[..., list[SearchHit]],
    more_url: Callable[[str], str],
    visible: Callable[[Any], bool],
) -> None:
    _PROVIDERS[code] = SearchProvider(
        code=code,
        label=label,
        position=position,
        search=search,
        more_url=more_url,
        visible=visible,
    )


def search_providers(*, user: Any) -> list[SearchProvider]:
    """The providers `user` may search, in position order."""
    return sorted(
        (p for p in _PROVIDERS.values() if p.visible(user)), key=lambda p: (p.position, p.code)
    )
