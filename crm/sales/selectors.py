"""Every read of opportunities goes through here, already limited to the viewer's data scope.

Visibility (issue 6 §1, §6): an opportunity is visible to a user when
- its owner is inside the user's scope of the `opportunities` module, AND
- its customer is live (not in the recycle bin) and inside the user's scope of `customers`.
A record on a customer the caller cannot see is answered 404, like a record outside the
scope: an opportunity never reveals a customer its reader could not open.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from crm.core.scope import scope_filter

MODULE = "opportunities"


def opportunity_scope_q(user: Any) -> Q:
    """The condition on Opportunity rows that `user` may see (live and deleted ones alike)."""
    return (
        scope_filter(user, MODULE, owner_field="owner")
        & scope_filter(user, "customers", owner_field="customer__owner")
        & Q(customer__deleted_at__isnull=True)
    )


def opportunities_visible_to(user: Any):
    """Live opportunities the user may see (the recycle bin is separate)."""
    from crm.sales.models import Opportunity

    return Opportunity.objects.filter(opportunity_scope_q(user), deleted_at__isnull=True)


def opportunity_get(*, user: Any, opportunity_id: Any, include_deleted: bool = False):
    """One opportunity the user may see; 404 (never 403) outside the scope."""
    from crm.core.errors import NotFoundError
    from crm.sales.models import Opportunity

    try:
        pk = int(str(opportunity_id))
    except (TypeError, ValueError):
        raise NotFoundError() from None
    if not 1 <= pk <= 2**63 - 1:
        raise NotFoundError()
    qs = Opportunity.objects.filter(opportunity_scope_q(user), pk=pk)
    if not include_deleted:
        qs = qs.filter(deleted_at__isnull=True)
    found = qs.select_related(
        "customer", "contact", "owner", "stage", "created_by", "updated_by", "deleted_by"
    ).first()
    if found is None:
        raise NotFoundError()
    return found
