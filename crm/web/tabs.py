"""Tabs that one module adds to another module's record page (issue 6 §4: the customer page
gains opportunities, follow-ups, files and a timeline; the opportunity page gains follow-ups
and files).

The host page (e.g. customers/detail.html) lists `record_tabs(host=..., user=...)` after its
own tabs; when one is open (`?tab=<code>`), the host calls the tab's `render(request, record)`
and puts the HTML it returns in the tab body. So the host imports nothing of the module, a
module that is not installed simply has no tab, and the module keeps its own templates and
its own HTMX views for what happens inside the tab (paging, forms). Modules register from
AppConfig.ready():

    record_tab_register(
        host="customer", code="followups", label=_("Follow-ups"), position=30,
        render=followups_customer_tab,  # (request, customer) -> HTML, via render_to_string
        visible=lambda user: user_can(user, "followups", "view"),
    )

Hosts: "customer" (crm/customers/views.py), "opportunity" (crm/sales/views.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordTab:
    host: str
    code: str
    label: Any
    position: int
    render: Callable[[Any, Any], str]
    visible: Callable[[Any], bool]


_TABS: dict[tuple[str, str], RecordTab] = {}


def record_tab_register(
    *,
    host: str,
    code: str,
    label: Any,
    position: int,
    render: Callable[[Any, Any], str],
    visible: Callable[[Any], bool],
) -> None:
    _TABS[(host, code)] = RecordTab(
        host=host, code=code, label=label, position=position, render=render, visible=visible
    )


def record_tabs(*, host: str, user: Any) -> list[RecordTab]:
    """The registered tabs of `host` pages that `user` may open, in position order."""
    return sorted(
        (t for t in _TABS.values() if t.host == host and t.visible(user)),
        key=lambda t: (t.position, t.code),
    )


def record_tab(*, host: str, code: str, user: Any) -> RecordTab | None:
    return next((t for t in record_tabs(host=host, user=user) if t.code == code), None)
