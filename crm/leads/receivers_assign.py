"""The automatic assignment (LEAD-4) hears every new lead: an unassigned one gets its owner by
the web form's rule or the ordered rules, inside the transaction that created it."""

from __future__ import annotations

from typing import Any

from crm.leads.assignment import lead_assign_by_rules


def lead_created_assign(sender: Any = None, *, lead: Any, actor: Any = None, **kwargs: Any) -> None:
    if lead.owner_id is None:
        lead_assign_by_rules(lead=lead, actor=actor)


def connect() -> None:
    from crm.leads.signals import lead_created

    lead_created.connect(lead_created_assign, dispatch_uid="leads.assign_on_create")
