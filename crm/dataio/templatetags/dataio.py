"""The 导出 button of a list page (issue 8 §3): {% export_menu "customers" %}.

It carries the page's current query string (filters, search, sort) to the export view, so
the file holds what the list shows. Rendered again out of band when HTMX redraws the
results, so the links follow the filters. Large lists (the list's approximate total above
the synchronous limit) ask by HTMX and show "正在导出…, 完成后通知您" instead of a download.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()

# Parameters of the list page that say nothing about which rows.
_NOT_FILTERS = ("page", "page_size", "format", "bin", "tab")


@register.inclusion_tag("dataio/_export_menu.html", takes_context=True)
def export_menu(
    context: Any,
    module: str,
    *,
    also: str = "",
    recycle_bin: bool = False,
    oob: bool = False,
    extra: str = "",
) -> dict[str, Any]:
    """`also`: a second module exported with the same filters (the customers' contacts);
    `extra`: query parameters the page means but does not carry (a tab's filter)."""
    from crm.dataio.exports import export_allowed, sync_limit
    from crm.dataio.registry import dataio_module

    request = context["request"]
    user = request.user
    params = request.GET.copy()
    for name in _NOT_FILTERS:
        params.pop(name, None)
    if recycle_bin:
        params["bin"] = "1"
    query = params.urlencode()
    if extra:
        query = f"{query}&{extra}" if query else extra
    total = context.get("total")
    large = bool(total is not None and not getattr(total, "exact", True)) or (
        getattr(total, "count", 0) > sync_limit()
    )
    links = []
    for key in [module, *([also] if also else [])]:
        declared = dataio_module(key)
        if not export_allowed(user, declared, recycle_bin=recycle_bin):
            continue
        for fmt in ("xlsx", "csv"):
            url = reverse("dataio:export", args=[key]) + f"?format={fmt}"
            links.append(
                {
                    "url": f"{url}&{query}" if query else url,
                    "label": f"{declared.label} · {fmt}",
                    "testid": f"export-{key}-{fmt}",
                }
            )
    return {"links": links, "module": module, "oob": oob, "large": large}


@register.inclusion_tag("dataio/_import_menu.html", takes_context=True)
def import_menu(context: Any, module: str) -> dict[str, Any]:
    """The 导入 button beside 导出: the upload page, the templates and the history, for a
    module that imports and a user who may import it."""
    from crm.dataio.imports import import_allowed
    from crm.dataio.registry import dataio_module

    user = context["request"].user
    try:
        declared = dataio_module(module)
    except KeyError:
        return {"allowed": False}
    if not import_allowed(user, declared):
        return {"allowed": False}
    return {
        "allowed": True,
        "module": module,
        "upload_url": reverse("imports:upload", args=[module]),
        "template_url": reverse("imports:template", args=[module]),
        "history_url": reverse("imports:history") + f"?module={module}",
    }
