"""POST /api/v1/customers/{id}/lifecycle (issue 7 §7): the customer's status, changed at once
or handed to an approver (crm.customers.lifecycle)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field

from crm.core.api import InputSchema, OutSchema, ParamInt, Text, Version, errors
from crm.customers.api import _customer_answer, _customer_read, _require_view
from crm.customers.lifecycle import customer_lifecycle_change
from crm.customers.schemas import CustomerOut

router = Router(tags=["customers"])


class LifecycleIn(InputSchema):
    status: Text = Field(description="A code from GET /dictionaries/customer_status.")
    reason: Text = Field(
        default="",
        max_length=40,
        description="Required for `lost`: a code from GET /dictionaries/loss_reason.",
    )
    note: Text = Field(default="", max_length=2000)
    version: Version


class ApprovalWaitingOut(OutSchema):
    approval_id: int = Field(description="The request waiting for approval (GET /approvals/{id}).")


@router.post(
    "/customers/{customer_id}/lifecycle",
    response={200: CustomerOut, 202: ApprovalWaitingOut, **errors(409)},
    summary="Change the customer's lifecycle status",
    description=(
        "潜在 potential → 意向 intent → 成交 deal → 老客户 loyal → 流失 lost; `lost` needs a "
        "`reason`. 200 with the customer when applied. Transitions listed in the setting "
        "`lifecycle_approval` (default deal → lost, loyal → lost) wait for the owner's "
        "supervisor (or a holder of customers.approve in the owner's department): 202 "
        "`{approval_id}`. 409 for a stale `version` or a request already pending, 422 for a bad "
        "status or reason, or when nobody can approve."
    ),
)
def customer_lifecycle_api(request: HttpRequest, customer_id: ParamInt, payload: LifecycleIn):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id)
    customer, approval = customer_lifecycle_change(
        actor=user,
        customer=customer,
        status=payload.status,
        reason=payload.reason,
        note=payload.note,
        version=payload.version,
    )
    if approval is not None:
        return Status(202, {"approval_id": approval.pk})
    return _customer_answer(user, customer.pk)
