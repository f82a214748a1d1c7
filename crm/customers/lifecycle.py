"""The customer lifecycle (CUS-8, issue 7 §5): 潜在 potential → 意向 intent → 成交 deal →
老客户 loyal → 流失 lost, changed only through `customer_lifecycle_change`.

Which transitions wait for a team leader's approval is the setting `lifecycle_approval`
("from:to" pairs; default deal → lost and loyal → lost). Such a change creates an approval
request of kind "customer_lifecycle" (crm.core.approvals) instead of applying; the approver
chosen by rule (the owner's supervisor, else holders of customers.approve in the owner's
department) applies it by approving. A user who is themselves the approver by rule (a
manager changing their team's customer) changes it at once. Lost needs a reason from the
list `loss_reason`. Every applied change is audited (with the requester and the approver when
it was approved) and is a line on the customer's timeline.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.approvals import (
    ApplyFailed,
    approval_kind_register,
    approval_pending_for,
    approval_request,
    approvers_by_rule,
)
from crm.core.audit import audit_record
from crm.core.config import setting_get
from crm.core.dictionaries import dictionary_is_valid, dictionary_label
from crm.core.errors import ConflictError, PermissionDeniedError, ValidationFailed
from crm.core.models import Approval, AuditEntry
from crm.core.scope import NOTHING, scope_filter, user_can
from crm.core.text import typed_text
from crm.core.versioning import version_check
from crm.customers.models import Customer

MODULE = "customers"
KIND = "customer_lifecycle"
OBJECT_TYPE = "customer"
LOST = "lost"
STATUS_LIST = "customer_status"
REASON_LIST = "loss_reason"
NOTE_MAX = 2000


def lifecycle_needs_approval(before: str, after: str) -> bool:
    return f"{before}:{after}" in (setting_get("lifecycle_approval") or [])


def lifecycle_pending(customer: Customer) -> Approval | None:
    """The status change waiting for approval on this customer, if any."""
    return approval_pending_for(kind=KIND, object_type=OBJECT_TYPE, object_id=customer.pk)


def _clean(*, customer: Customer, status: Any, reason: Any, note: Any) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    status = typed_text(status)
    reason = typed_text(reason)
    note = typed_text(note)
    if not status:
        errors["status"] = [_("Choose the new status.")]
    elif not dictionary_is_valid(STATUS_LIST, status):
        errors["status"] = [
            _("“%(value)s” is not in the list; choose one of the offered values.")
            % {"value": status[:40]}
        ]
    elif status == customer.status:
        errors["status"] = [
            _("The customer is already %(status)s.")
            % {"status": dictionary_label(STATUS_LIST, status)}
        ]
    if status == LOST:
        if not reason:
            errors["reason"] = [_("Say why the customer was lost.")]
        elif not dictionary_is_valid(REASON_LIST, reason):
            errors["reason"] = [
                _("“%(value)s” is not in the list; choose one of the offered values.")
                % {"value": reason[:40]}
            ]
    else:
        reason = ""
    if len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(limit)d characters.") % {"limit": NOTE_MAX}]
    if errors:
        raise ValidationFailed(fields=errors)
    return status, reason, note


def _apply(
    *,
    actor: Any,
    locked: Customer,
    status: str,
    reason: str,
    note: str,
    approval: Approval | None = None,
) -> Customer:
    """Write the change on a locked customer: status, loss reason and note, the time; audit
    (with both people when approved) and the timeline line."""
    from crm.customers.services import _timeline

    before = {
        "status": dictionary_label(STATUS_LIST, locked.status),
        "lost_reason": dictionary_label(REASON_LIST, locked.lost_reason)
        if locked.lost_reason
        else "",
        "lost_note": locked.lost_note,
    }
    locked.status = status
    locked.lost_reason = reason if status == LOST else ""
    locked.lost_note = note if status == LOST else ""
    locked.status_changed_at = timezone.now()
    locked.version += 1
    locked.updated_by = actor
    locked.save(
        update_fields=[
            "status",
            "lost_reason",
            "lost_note",
            "status_changed_at",
            "version",
            "updated_by",
            "updated_at",
        ]
    )
    after = {
        "status": dictionary_label(STATUS_LIST, status),
        "lost_reason": dictionary_label(REASON_LIST, reason) if reason else "",
        "lost_note": locked.lost_note,
    }
    changes = [
        {"field": name, "before": before[name], "after": after[name]}
        for name in after
        if before[name] != after[name]
    ]
    if approval is not None:
        with translation.override(settings.LANGUAGE_CODE):
            changes.append(
                {
                    "field": "approval",
                    "before": None,
                    "after": _("#%(id)s requested by %(who)s, approved by %(by)s")
                    % {
                        "id": approval.pk,
                        "who": approval.requested_by.display_name,
                        "by": actor.display_name,
                    },
                }
            )
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=locked, changes=changes)
    # The timeline has the approval's own lines (asked, approved): not said twice.
    _timeline(
        actor,
        locked,
        AuditEntry.Action.UPDATE,
        [c for c in changes if c["field"] != "approval"],
    )
    return locked


@transaction.atomic
def customer_lifecycle_change(
    *,
    actor: Any,
    customer: Customer,
    status: Any,
    reason: Any = "",
    note: Any = "",
    version: Any,
) -> tuple[Customer, Approval | None]:
    """Change the customer's lifecycle status, or ask for approval when the transition needs
    it. Returns (customer, None) when applied, (customer, approval) when it waits.

    403 without customers.edit; 404 outside the actor's scope; 409 for a stale version, a
    customer in the recycle bin or a request already pending; 422 for a bad status, a loss
    without a reason, or nobody to approve.
    """
    from crm.customers.services import _locked

    if not user_can(actor, MODULE, "edit"):
        raise PermissionDeniedError()
    locked = _locked(actor, customer.pk)
    if locked.deleted_at is not None:
        raise ConflictError(_("This customer is in the recycle bin; restore it first."))
    version_check(locked=locked, version=version, label=_("this customer"))
    new_status, new_reason, new_note = _clean(
        customer=locked, status=status, reason=reason, note=note
    )
    pending = lifecycle_pending(locked)
    if pending is not None:
        raise ConflictError(
            _(
                "A status change requested by %(who)s is waiting for approval; it must be "
                "decided or withdrawn first."
            )
            % {"who": pending.requested_by.display_name},
            extra={"approval_id": pending.pk},
        )
    if lifecycle_needs_approval(locked.status, new_status):
        deciders = approvers_by_rule(owner=locked.owner, module=MODULE)
        if actor.pk not in {u.pk for u in deciders}:
            approval = approval_request(
                actor=actor,
                kind=KIND,
                obj=locked,
                payload={
                    "from": locked.status,
                    "to": new_status,
                    "reason": new_reason,
                    "note": new_note,
                    "customer": locked.name,
                    "number": locked.number,
                },
                note=new_note,
            )
            return locked, approval
    return (
        _apply(actor=actor, locked=locked, status=new_status, reason=new_reason, note=new_note),
        None,
    )


# --- the approval kind ------------------------------------------------------------------


def _lifecycle_approvers(customer: Customer, requester: Any) -> list[Any]:
    owner = customer.owner
    return approvers_by_rule(owner=owner, module=MODULE, exclude=requester)


def _lifecycle_apply(approval: Approval, actor: Any) -> Customer:
    """Apply an approved status change; refused (409 apply_failed) when the customer is gone
    or its status is no longer the one the request started from."""
    locked = Customer.objects.select_for_update(of=("self",)).filter(pk=approval.object_id).first()
    payload = approval.payload or {}
    if locked is None or locked.deleted_at is not None:
        raise ApplyFailed(_("The customer was deleted after the request was made."))
    if locked.status != payload.get("from"):
        raise ApplyFailed(
            _(
                "The customer's status changed to %(status)s after the request was made; "
                "reject this request, and ask again if the change is still wanted."
            )
            % {"status": dictionary_label(STATUS_LIST, locked.status)}
        )
    status = str(payload.get("to", ""))
    if not dictionary_is_valid(STATUS_LIST, status):
        raise ApplyFailed(_("The requested status is no longer in the list."))
    return _apply(
        actor=actor,
        locked=locked,
        status=status,
        reason=str(payload.get("reason", "")),
        note=str(payload.get("note", "")),
        approval=approval,
    )


def _lifecycle_describe(approval: Approval) -> str:
    payload = approval.payload or {}
    text = _("%(customer)s: %(before)s → %(after)s") % {
        "customer": payload.get("customer") or _("customer"),
        "before": dictionary_label(STATUS_LIST, payload.get("from")),
        "after": dictionary_label(STATUS_LIST, payload.get("to")),
    }
    if payload.get("reason"):
        text += _(" (reason: %(reason)s)") % {
            "reason": dictionary_label(REASON_LIST, payload.get("reason"))
        }
    return text


def _lifecycle_url(approval: Approval) -> str:
    return reverse("customers:detail", args=[approval.object_id])


def _lifecycle_visible(user: Any) -> Q | None:
    scope = scope_filter(user, MODULE)
    if scope == NOTHING:
        return None
    if not scope:
        return Q(object_type=OBJECT_TYPE)
    return Q(
        object_type=OBJECT_TYPE,
        object_id__in=Customer.objects.filter(scope).values("pk"),
    )


def _lifecycle_owner(approval: Approval) -> int | None:
    return Customer.objects.filter(pk=approval.object_id).values_list("owner_id", flat=True).first()


def lifecycle_kind_register() -> None:
    """Called from CustomersConfig.ready()."""
    approval_kind_register(
        KIND,
        label=gettext_lazy("Customer status change"),
        object_type=OBJECT_TYPE,
        approvers=_lifecycle_approvers,
        apply=_lifecycle_apply,
        describe=_lifecycle_describe,
        url=_lifecycle_url,
        visible=_lifecycle_visible,
        customer_id=lambda customer: customer.pk,
        timeline_owner=_lifecycle_owner,
    )
