"""Merging two duplicate customers into one (CUS-6, issue 8 §4).

The survivor keeps its id, number, owner and status; field by field the caller chooses
whose value it keeps (`keep: {field: "self" | "other"}`, "self" being the survivor). Every
row that points at the other customer moves to the survivor, and the other one becomes a
tombstone: `merged_into` + `merged_at`, kept out of every list through the recycle-bin
columns (`deleted_at`), but never in the recycle bin itself and never purged, so its old
detail URL and number keep leading to the survivor.

`MOVES` names, for each relation to Customer, how it moves; tests/…test_merge.py fails when
a new ForeignKey to Customer is added without being named here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record, diff
from crm.core.errors import ConflictError, ValidationFailed
from crm.core.merge import (
    merge_keep_clean,
    merge_other_id,
    merged_by_number,
    merged_target,
    merged_visible,
)
from crm.core.models import Approval, Attachment, AuditEntry, TimelineEntry
from crm.core.versioning import version_check
from crm.customers.models import Contact, Customer, PoolMove
from crm.customers.services import (
    EDITABLE_FIELDS,
    _display_snapshot,
    _locked,
    _require,
    _timeline,
    customer_search_fields_refresh,
)

# The fields a merge may take from the other record. Owner and status stay the survivor's:
# they change only through a transfer and the lifecycle action (with their own rules).
MERGE_FIELDS = [f for f in EDITABLE_FIELDS if f not in ("owner", "status")]

# Reverse relations of Customer (Customer._meta.related_objects) and how each is handled.
MOVES = {
    "contacts": "moved (the survivor keeps its primary contact)",
    "opportunities": "moved (owner unchanged, so the pipeline totals per owner stay right)",
    "followups": "moved, then last/next follow-up recomputed",
    "pool_moves": "moved",
    "leads": "moved (Lead.converted_customer)",
    "merged_from": "earlier tombstones re-pointed to the survivor",
}


def customer_merge_clean(keep: Any) -> dict[str, str]:
    """`keep` as {field: "self"|"other"}; 422 naming unknown fields or values."""
    return merge_keep_clean(keep, MERGE_FIELDS)


def _move_related(survivor: Customer, other: Customer) -> dict[str, int]:
    """Point every row of `other` at `survivor`; counts per relation, for the audit."""
    from crm.activities.models import FollowUp
    from crm.leads.models import Lead
    from crm.sales.models import Opportunity

    moved: dict[str, int] = {}
    # One primary contact: the survivor's, if it has one.
    if Contact.objects.filter(customer=survivor, is_primary=True).exists():
        Contact.objects.filter(customer=other, is_primary=True).update(is_primary=False)
    moved["contacts"] = Contact.objects.filter(customer=other).update(customer=survivor)
    moved["opportunities"] = Opportunity.objects.filter(customer=other).update(customer=survivor)
    moved["followups"] = FollowUp.objects.filter(customer=other).update(customer=survivor)
    moved["pool_moves"] = PoolMove.objects.filter(customer=other).update(customer=survivor)
    moved["leads"] = Lead.objects.filter(converted_customer=other).update(
        converted_customer=survivor
    )
    moved["merged_from"] = Customer.objects.filter(merged_into=other).update(merged_into=survivor)
    # Generic relations: files, timeline lines, approvals.
    ct = ContentType.objects.get_for_model(Customer)
    moved["attachments"] = Attachment.objects.filter(content_type=ct, object_id=other.pk).update(
        object_id=survivor.pk
    )
    moved["timeline"] = TimelineEntry.objects.filter(customer_id=other.pk).update(
        customer_id=survivor.pk
    )
    TimelineEntry.objects.filter(object_type="customer", object_id=other.pk).update(
        object_id=survivor.pk
    )
    moved["approvals"] = Approval.objects.filter(customer_id=other.pk).update(
        customer_id=survivor.pk
    )
    Approval.objects.filter(object_type="customer", object_id=other.pk).update(
        object_id=survivor.pk
    )
    return moved


def _derived_refresh(survivor: Customer, other: Customer) -> None:
    """The survivor's derived times from the rows it now has (follow-ups, wins, activity)."""
    from crm.activities.services import followups_customer_times_refresh
    from crm.customers.clocks import customer_clocks_settle

    followups_customer_times_refresh(survivor.pk)
    updates: dict[str, Any] = {}
    for name in ("last_won_at", "last_activity_at"):
        theirs, ours = getattr(other, name), getattr(survivor, name)
        if theirs and (ours is None or theirs > ours):
            updates[name] = theirs
    if updates:
        Customer.objects.filter(pk=survivor.pk).update(**updates)
    customer_clocks_settle(customer_id=survivor.pk)


@transaction.atomic
def customer_merge(
    *, actor: Any, customer: Customer, from_id: Any, keep: Any, version: Any
) -> Customer:
    """Merge customer `from_id` into `customer` (the survivor), in one transaction.

    Needs edit on both within the actor's scope (404 outside it); `version` is the
    survivor's (409 when stale); 422 for the same id, a merged or deleted source, or an
    unknown field in `keep`. Audited on both records; a timeline line on the survivor.
    """
    _require(actor, "edit")
    choices = customer_merge_clean(keep)
    other_id = merge_other_id(
        from_id,
        customer.pk,
        choose=_("Choose the customer to merge."),
        itself=_("A customer cannot be merged into itself."),
    )
    # Lock in id order, so two merges of the same pair cannot deadlock.
    first, second = sorted([customer.pk, other_id])
    locked = {first: _locked(actor, first), second: _locked(actor, second)}
    survivor, other = locked[customer.pk], locked[other_id]
    if survivor.merged_into_id or survivor.deleted_at is not None:
        raise ConflictError(_("This customer was merged or deleted; reload the page."))
    version_check(locked=survivor, version=version, label=_("this customer"))
    if other.merged_into_id or other.deleted_at is not None:
        raise ValidationFailed(
            fields={"from_id": [_("That customer was already merged or deleted.")]}
        )

    before = _display_snapshot(survivor)
    for field, choice in choices.items():
        if choice == "other":
            setattr(survivor, field, getattr(other, field))
    changes = diff(before, _display_snapshot(survivor))
    moved = _move_related(survivor, other)

    now = timezone.now()
    survivor.version += 1
    survivor.updated_by = actor
    customer_search_fields_refresh(survivor, save=False)
    survivor.save()
    other.merged_into = survivor
    other.merged_at = now
    other.deleted_at = now
    other.deleted_by = actor
    other.version += 1
    other.save(
        update_fields=[
            "merged_into",
            "merged_at",
            "deleted_at",
            "deleted_by",
            "version",
            "updated_at",
        ]
    )
    customer_search_fields_refresh(survivor)
    _derived_refresh(survivor, other)

    merge_line = {"field": "merged_from", "before": "", "after": other.number}
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=survivor,
        changes=[merge_line, *changes, {"field": "keep", "before": "", "after": choices}]
        + [{"field": f"moved.{k}", "before": "", "after": v} for k, v in moved.items() if v],
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=other,
        changes=[{"field": "merged_into", "before": "", "after": survivor.number}],
    )
    _timeline(actor, survivor, AuditEntry.Action.UPDATE, [merge_line, *changes])
    survivor.refresh_from_db()
    return survivor


def customer_merged_target(customer_id: Any) -> Customer | None:
    """The live survivor a merged tombstone leads to (following a chain), or None."""
    return merged_target(Customer, customer_id)


def _customer_get(*, user: Any, record_id: Any, include_deleted: bool) -> Customer:
    from crm.customers.selectors import customer_get

    return customer_get(user=user, customer_id=record_id, include_deleted=include_deleted)


def customer_merged_visible(*, user: Any, customer_id: Any) -> Customer | None:
    """The survivor of a merged customer `user` may see (the tombstone within their scope),
    for the redirects of the old detail URL and the API; None otherwise."""
    return merged_visible(model=Customer, get=_customer_get, user=user, record_id=customer_id)


def customer_merged_by_number(*, user: Any, number: str) -> Customer | None:
    """The survivor of the merged customer numbered `number`, if `user` may see both."""
    return merged_by_number(model=Customer, get=_customer_get, user=user, number=number)
