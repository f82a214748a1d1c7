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
def contact_value(
    value: str,
    can_view: bool,
    kind: str = "phone",
    reveal: bool = False,
    record: str = "",
    pk: Any = None,
) -> str:
    """The value in clear, or masked; with `reveal` (reveal on demand is on and the reader
    holds view_contact) the masked value carries a button that asks for this one value
    (crm.privacy.views.reveal_view, logged), swapped in its place."""
    if can_view or not value:
        return value or ""
    masked = mask_email(value) if kind == "email" else mask_phone(value)
    if not (reveal and record and pk):
        return masked
    from django.urls import reverse
    from django.utils.translation import gettext as _

    return format_html(
        '<span class="reveal" data-swap-errors data-testid="reveal-{}">{} '
        '<button type="button" class="btn-link reveal-btn" hx-post="{}" '
        'hx-vals=\'{{"field": "{}"}}\' hx-target="closest .reveal" hx-swap="outerHTML" '
        'title="{}">{}</button></span>',
        kind,
        masked,
        reverse(f"privacy:{record}_reveal", args=[pk]),
        kind,
        _("Show the full value (recorded in the audit log)"),
        _("Reveal"),
    )


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
        "inbox": "M3 13l3-8h12l3 8v6H3zM3 13h5l1 2h6l1-2h5",
        # The timeline's kinds (crm.core.timeline.DEFAULT_ICONS).
        "clock": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 7v5l3 2",
        "pencil": "M4 20h4L19 9l-4-4L4 16zM14 6l4 4",
        "user": "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM5 21a7 7 0 0 1 14 0",
        "swap": "M7 4L3 8l4 4M3 8h14M17 12l4 4-4 4M21 16H7",
        "restore": "M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5",
        "message": "M21 12a8 8 0 0 1-11.5 7.2L4 21l1.8-5.5A8 8 0 1 1 21 12z",
        "target": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
        "arrow-right": "M5 12h14M13 6l6 6-6 6",
        "trophy": "M8 4h8v5a4 4 0 0 1-8 0zM8 6H5a3 3 0 0 0 3 4M16 6h3a3 3 0 0 1-3 4M12 13v4M8 20h8",
        "x-circle": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM9 9l6 6M15 9l-6 6",
        "flag": "M5 21V4M5 4h11l-2 4 2 4H5",
        "paperclip": "M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3"
        "L15 7",
        "file": "M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8zM14 3v5h5M9 13h6M9 17h6",
        "image": "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9h.01",
        "archive": "M4 8h16v12H4zM3 4h18v4H3zM10 12h4",
        "upload": "M12 16V4M7 9l5-5 5 5M4 20h16",
        "download": "M12 4v12M7 11l5 5 5-5M4 20h16",
        "bell": "M6 9a6 6 0 0 1 12 0c0 7 3 8 3 8H3s3-1 3-8M10 21h4",
        "briefcase": "M4 8h16v11H4zM9 8V5h6v3M4 13h16",
        "check": "M5 12l5 5L20 7",
    }
    return format_html(
        '<svg class="icon" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
        'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">'
        '<path d="{}"/></svg>',
        paths.get(name, ""),
    )
