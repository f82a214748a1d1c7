"""Navigation entries the current user may open (hidden, not just disabled, otherwise)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.core.scope import user_can

NAV = [
    # (url name, label, icon, module, action)
    ("home", _("Dashboard"), "home", None, None),
    ("customers:list", _("Customers"), "users", "customers", "view"),
    # 线索: leads, the front of the funnel (issue 7 §1).
    ("leads:list", _("Leads"), "target", "leads", "view"),
    ("sales:list", _("Opportunities"), "briefcase", "opportunities", "view"),
    # "公海": customers nobody owns (issue 7 §4).
    ("pool:list", _("Public pool"), "inbox", "pool", "view"),
    # "跟进": my planned follow-ups and what I logged (FUP-1, FUP-2).
    ("activities:mine", pgettext_lazy("navigation", "Follow-ups"), "clock", "followups", "view"),
    # FUP-3: customers and leads overdue by their cadence.
    ("activities:overdue", _("Overdue follow-ups"), "clock", "followups", "view"),
    # "审批": requests waiting for my decision, and mine (issue 7 §5); the badge counts the
    # pending ones waiting for me.
    ("approvals:list", _("Approvals"), "check", None, None),
    ("customers:recycle_bin", _("Recycle bin"), "trash", "customers", "delete"),
    ("settings:audit", _("Audit log"), "list", "audit", "view"),
    ("settings:index", _("Settings"), "cog", "settings", "configure"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = []
    path = request.path
    for name, label, icon, module, action in NAV:
        if module and not user_can(user, module, action):
            continue
        url = reverse(name)
        active = path == url if url == "/" else path.startswith(url)
        item = {"url": url, "label": label, "icon": icon, "active": active}
        if name == "approvals:list":
            from crm.web.approvals import pending_badge_for

            item["badge"] = pending_badge_for(request)
        items.append(item)
    # Only the most specific match is active (/customers/recycle-bin/ is not also /customers/).
    longest = max((len(i["url"]) for i in items if i["active"]), default=0)
    for item in items:
        item["active"] = item["active"] and len(item["url"]) == longest
    # Settings' tabs offer the audit log only to those its own permission lets in.
    return {"nav_items": items, "can_view_audit": user_can(user, "audit", "view")}
