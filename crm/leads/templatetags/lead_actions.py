"""The lead page's actions panel (LEAD-4): what the viewer may do with this lead."""

from __future__ import annotations

from typing import Any

from django import template

from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.scope import user_can
from crm.leads.conversion import QUALIFIABLE
from crm.leads.models import LeadStatus

register = template.Library()


@register.inclusion_tag("leads/_actions_panel.html", takes_context=True)
def lead_actions_panel(context: Any, lead: Any) -> dict[str, Any]:
    from crm.leads.forms_assign import owner_choices

    request = context.get("request")
    user = getattr(request, "user", None)
    can_assign = user_can(user, "leads", "assign")
    can_edit = user_can(user, "leads", "edit")
    status = lead.status
    closed = status == LeadStatus.CONVERTED or lead.deleted_at is not None
    return {
        "lead": lead,
        "csrf_token": context.get("csrf_token"),
        "can_assign": can_assign and not closed,
        "can_convert": can_edit and not closed and status != LeadStatus.DISQUALIFIED,
        "can_qualify": can_edit and not closed and status in QUALIFIABLE,
        "can_disqualify": can_edit and not closed and status != LeadStatus.DISQUALIFIED,
        "can_requalify": can_edit and lead.deleted_at is None and status == LeadStatus.DISQUALIFIED,
        "owners": owner_choices() if can_assign and not closed else [],
        "reasons": dictionary_choices("lead_disqualify_reason"),
        "reason_label": dictionary_label("lead_disqualify_reason", lead.disqualify_reason)
        if lead.disqualify_reason
        else "",
    }


@register.inclusion_tag("leads/_bulk_bar_panel.html", takes_context=True)
def lead_bulk_bar(context: Any) -> dict[str, Any]:
    from crm.leads.forms_assign import owner_choices

    request = context.get("request")
    can_assign = user_can(getattr(request, "user", None), "leads", "assign")
    return {"can_assign": can_assign, "owners": owner_choices() if can_assign else []}
