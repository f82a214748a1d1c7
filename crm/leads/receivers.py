"""What the leads module does when other modules act (connected in LeadsConfig.ready)."""

from __future__ import annotations

from typing import Any


def on_followup_logged(sender: Any, *, followup: Any, actor: Any, **kwargs: Any) -> None:
    """A follow-up on a lead settles its first contact (LEAD-3), in the same transaction."""
    if getattr(followup, "lead_id", None) is None:
        return
    from crm.leads.services import lead_first_contact

    lead_first_contact(followup=followup, actor=actor)
