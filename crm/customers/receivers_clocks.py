"""The customer side of a new follow-up (issue 7 §7): its last activity moves to the
follow-up's time and its cadence and dormancy clocks are settled at once, inside the
transaction that saved the follow-up. (The lead side, first contact and the lead's cadence,
is crm.leads.receivers'.)"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from crm.customers.clocks import customer_activity_touch, customer_clocks_settle


def followup_logged_customer_clocks(sender: Any, *, followup: Any, **kwargs: Any) -> None:
    if followup.customer_id is None:
        return
    customer_activity_touch(customer_id=followup.customer_id, at=followup.occurred_at)
    customer_clocks_settle(customer_id=followup.customer_id, now=timezone.now())


def connect() -> None:
    from crm.activities.signals import followup_logged

    followup_logged.connect(
        followup_logged_customer_clocks, dispatch_uid="customers.followup_logged_clocks"
    )
