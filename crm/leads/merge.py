"""Merging two duplicate leads into one (CUS-6 for leads, issue 8 §4), the customers'
mechanism (crm.customers.merge) with the parts every module shares from crm.core.merge.

The survivor keeps its id, number, owner and status; field by field the caller chooses whose
value it keeps (`keep: {field: "self" | "other"}`). The other lead's follow-ups move to the
survivor, and its history (its audit trail) is shown on the survivor's page (crm.leads.views
reads the entries of the leads merged into it). The other one becomes a tombstone:
`merged_into` + `merged_at`, kept in the recycle-bin columns (`deleted_at`) so every list,
search and duplicate check skips it, never in the recycle bin itself and never purged, so its
old URL and number keep leading to the survivor. A converted lead is not merged: its customer
is (merge the customers).

`MOVES` names, for each relation to Lead, how it moves; crm/leads/tests/test_merge.py fails
when a new ForeignKey to Lead is added without being named here.
"""

from __future__ import annotations

from typing import Any

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
from crm.core.models import AuditEntry
from crm.core.versioning import version_check
from crm.leads.models import Lead, LeadStatus
from crm.leads.services import (
    EDITABLE_FIELDS,
    _display_snapshot,
    _locked,
    _require,
    _search_fields_set,
    lead_sla_refresh,
)

# The fields a merge may take from the other lead. The owner stays the survivor's: it
# changes only by assignment (with its own rules); the status only by the lead's flows.
MERGE_FIELDS = list(dict.fromkeys([*(f for f in EDITABLE_FIELDS if f != "owner"), "custom"]))

# Reverse relations of Lead (Lead._meta.related_objects) and how each is handled.
MOVES = {
    "followups": "moved, then the first-contact and last follow-up times recomputed",
    "merged_from": "earlier tombstones re-pointed to the survivor",
}


def _snapshot(lead: Lead) -> dict[str, Any]:
    return _display_snapshot(lead)


def _earliest(*values: Any) -> Any:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _latest(*values: Any) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@transaction.atomic
def lead_merge(*, actor: Any, lead: Lead, from_id: Any, keep: Any, version: Any) -> Lead:
    """Merge lead `from_id` into `lead` (the survivor), in one transaction.

    Needs edit on both within the actor's scope (404 outside it); `version` is the
    survivor's (409 when stale, or when the survivor was merged, deleted or converted); 422
    for the same id, a merged, deleted or converted source, or an unknown field in `keep`.
    Audited on both leads.
    """
    from crm.activities.models import FollowUp

    _require(actor, "edit")
    choices = merge_keep_clean(keep, MERGE_FIELDS)
    other_id = merge_other_id(
        from_id,
        lead.pk,
        choose=_("Choose the lead to merge."),
        itself=_("A lead cannot be merged into itself."),
    )
    # Lock in id order, so two merges of the same pair cannot deadlock.
    first, second = sorted([lead.pk, other_id])
    locked = {first: _locked(actor, first), second: _locked(actor, second)}
    survivor, other = locked[lead.pk], locked[other_id]
    if survivor.merged_into_id or survivor.deleted_at is not None:
        raise ConflictError(_("This lead was merged or deleted; reload the page."))
    version_check(locked=survivor, version=version, label=_("this lead"))
    if survivor.status == LeadStatus.CONVERTED:
        raise ConflictError(_("This lead was converted; change the customer instead."))
    if other.merged_into_id or other.deleted_at is not None:
        raise ValidationFailed(fields={"from_id": [_("That lead was already merged or deleted.")]})
    if other.status == LeadStatus.CONVERTED:
        raise ValidationFailed(
            fields={"from_id": [_("That lead was converted; merge the customers instead.")]}
        )

    before = _snapshot(survivor)
    status_before = survivor.status
    for field, choice in choices.items():
        if choice == "other":
            setattr(survivor, field, getattr(other, field))
    moved = {
        "followups": FollowUp.objects.filter(lead=other).update(lead=survivor),
        "merged_from": Lead.objects.filter(merged_into=other).update(merged_into=survivor),
    }
    # A lead already reached through its duplicate has had its first contact.
    survivor.first_contacted_at = _earliest(survivor.first_contacted_at, other.first_contacted_at)
    survivor.last_followup_at = _latest(survivor.last_followup_at, other.last_followup_at)
    if survivor.first_contacted_at and survivor.status == LeadStatus.NEW:
        survivor.status = LeadStatus.CONTACTED
    lead_sla_refresh(survivor)
    changes = diff(before, _snapshot(survivor))
    if survivor.status != status_before:
        changes.append({"field": "status", "before": status_before, "after": survivor.status})

    now = timezone.now()
    survivor.version += 1
    survivor.updated_by = actor
    _search_fields_set(survivor)
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

    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=survivor,
        changes=[
            {"field": "merged_from", "before": "", "after": other.number},
            *changes,
            {"field": "keep", "before": "", "after": choices},
        ]
        + [{"field": f"moved.{k}", "before": "", "after": v} for k, v in moved.items() if v],
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=other,
        changes=[{"field": "merged_into", "before": "", "after": survivor.number}],
    )
    survivor.refresh_from_db()
    return survivor


def lead_merged_target(lead_id: Any) -> Lead | None:
    """The live survivor a merged lead leads to (following a chain), or None."""
    return merged_target(Lead, lead_id)


def _lead_get(*, user: Any, record_id: Any, include_deleted: bool) -> Lead:
    from crm.leads.selectors import lead_get

    return lead_get(user=user, lead_id=record_id, include_deleted=include_deleted)


def lead_merged_visible(*, user: Any, lead_id: Any) -> Lead | None:
    """The survivor of a merged lead `user` may see (the tombstone within their scope), for
    the redirects of the old page and API URL; None otherwise."""
    return merged_visible(model=Lead, get=_lead_get, user=user, record_id=lead_id)


def lead_history_ids(lead: Lead) -> list[int]:
    """The leads whose history the survivor's page shows: itself and those merged into it."""
    return [lead.pk, *Lead.objects.filter(merged_into=lead).values_list("pk", flat=True)]


def lead_merged_by_number(*, user: Any, number: str) -> Lead | None:
    """The survivor of the merged lead numbered `number`, if `user` may see both."""
    return merged_by_number(model=Lead, get=_lead_get, user=user, number=number)
