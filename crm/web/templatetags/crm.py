"""Template helpers shared by every page: money, dates, masking, dictionary labels."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html

from crm.core.dictionaries import dictionary_label
from crm.core.masking import mask_email, mask_phone

register = template.Library()


@register.filter
def cny(value: Any) -> str:
    """¥1,234,567.00 — money the Chinese way."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    return f"¥{amount:,.2f}"


@register.filter
def local_dt(value: Any) -> str:
    if not value:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


@register.filter
def local_date(value: Any) -> str:
    if not value:
        return ""
    if hasattr(value, "hour"):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d")


@register.filter
def dict_label(code: str, kind: str) -> str:
    return dictionary_label(kind, code)


@register.simple_tag
def contact_value(value: str, can_view: bool, kind: str = "phone") -> str:
    if can_view or not value:
        return value or ""
    return mask_email(value) if kind == "email" else mask_phone(value)


@register.simple_tag
def icon(name: str) -> str:
    """An inline SVG icon from the small set the layout uses."""
    paths = {
        "home": "M3 11l9-8 9 8v9a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z",
        "users": "M16 11a4 4 0 1 0-8 0 4 4 0 0 0 8 0zM4 21a8 8 0 0 1 16 0",
        "trash": "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
        "cog": "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19 12a7 7 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1"
        "a7 7 0 0 0-2-1.2L14 3h-4l-.5 2.6a7 7 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6A7 7 0 0 0 5 12"
        "c0 .4 0 .8.1 1.2l-2 1.6 2 3.4 2.4-1a7 7 0 0 0 2 1.2L10 21h4l.5-2.6a7 7 0 0 0 2-1.2"
        "l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2z",
        "search": "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM21 21l-5-5",
        "plus": "M12 5v14M5 12h14",
        "menu": "M4 6h16M4 12h16M4 18h16",
        "key": "M15 7a4 4 0 1 1-3.9 5H7v3H4v-3h-.01M15 7h.01",
        "list": "M9 6h11M9 12h11M9 18h11M4 6h.01M4 12h.01M4 18h.01",
        "briefcase": "M4 8h16v11H4zM9 8V5h6v3M4 13h16",
    }
    return format_html(
        '<svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">'
        '<path d="{}"/></svg>',
        paths.get(name, ""),
    )
