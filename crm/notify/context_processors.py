"""The bell in the top bar (web/base.html): the unread count, read lazily.

The count is one query on the partial index of unread rows, run only when a page actually
renders the bell (full pages; HTMX partials that swap part of a page never touch it).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from crm.notify.selectors import unread_badge, unread_count


class Bell:
    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def count(self) -> int:
        return unread_count(user=self.user)

    @property
    def badge(self) -> str:
        return unread_badge(self.count)


def bell_for(request: HttpRequest) -> Bell:
    """The request's one bell (the page and the top bar share its single count query)."""
    bell = getattr(request, "_notify_bell", None)
    if bell is None:
        bell = Bell(request.user)
        request._notify_bell = bell
    return bell


def notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"notify_bell": bell_for(request)}
