"""Lead actions API (issue 7 §7, LEAD-4): assign, bulk assign, convert, qualify, disqualify,
requalify.

Every read through the leads selectors (scope: a lead outside it is 404), every write through
assignment.py / conversion.py.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from crm.core.api import (
    Amount,
    Flag,
    Id,
    InputSchema,
    IsoDate,
    ParamInt,
    Text,
    errors,
    id_checked,
)
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.scope import user_can
from crm.leads.assignment import assign_summary, lead_assign, leads_assign_bulk
from crm.leads.conversion import lead_convert, lead_disqualify, lead_qualify, lead_requalify

MODULE = "leads"
router = Router(tags=["leads"])


def _require(user: Any, action: str) -> None:
    """Without the module's view the answer is 403; without the action's permission, 403."""
    if not (user_can(user, MODULE, "view") and user_can(user, MODULE, action)):
        raise PermissionDeniedError()


def _lead(user: Any, lead_id: int):
    from crm.leads.selectors import lead_get

    return lead_get(user=user, lead_id=id_checked(lead_id))


def _answer(user: Any, lead_id: int) -> dict[str, Any]:
    from crm.leads.api import lead_out

    return lead_out(_lead(user, lead_id))


class AssignIn(InputSchema):
    owner_id: Id = Field(description="An active user whose role lets them work on leads.")


class BulkAssignIn(InputSchema):
    lead_ids: list[Id] = Field(min_length=1, max_length=500)
    owner_id: Id | None = Field(
        default=None, description="Omitted or null: each lead by the assignment rules."
    )


class BulkAssignOut(Schema):
    assigned: int
    skipped: int
    assigned_ids: list[int]
    skipped_ids: list[int]
    message: str


class ConvertOpportunityIn(InputSchema):
    name: Text
    amount: Amount | None = None
    expected_close_date: IsoDate | None = None


class ConvertIn(InputSchema):
    customer_id: Id | None = Field(
        default=None, description="Link to this existing customer (within your data scope)."
    )
    customer: dict[str, Any] | None = Field(
        default=None,
        description="Fields of a new customer (as POST /customers; `contacts` optional): "
        "defaults come from the lead (name = company, its person as the contact, source, "
        "grade, phone, email, requirement, budget); `industry` is required.",
    )
    opportunity: ConvertOpportunityIn | None = Field(
        default=None, description="Also create an opportunity at the first stage."
    )
    confirm_duplicates: Flag = Field(
        default=False,
        description="Save the new customer despite same-phone/email warnings (409 "
        "duplicate_warning).",
    )


class ConvertOut(Schema):
    customer_id: int
    contact_id: int
    opportunity_id: int | None


class DisqualifyIn(InputSchema):
    reason: Text = Field(
        description="A code of GET /dictionaries/lead_disqualify_reason (无需求 no_need, 无预算 "
        "no_budget, 联系不上 unreachable, 竞品客户 competitor_customer, 重复线索 duplicate, "
        "其他 other)."
    )
    note: Text | None = ""


def _lead_out_schema():
    from crm.leads.schemas import LeadOut

    return LeadOut


@router.post(
    "/leads/assign",
    response={200: BulkAssignOut},
    summary="Assign several leads, to one user or each by the rules",
    description=(
        "Needs `leads.assign`. With `owner_id` every selected lead goes to that user; without "
        "it each lead without an active owner gets the owner the ordered assignment rules "
        "choose (leads someone is working are not reshuffled). At most 500 ids; all or "
        "nothing, one audit entry per lead, one notice per new owner. Leads outside your "
        "scope, unknown, deleted or converted ones, those no rule matches and those already "
        "owned by that user (or, by the rules, by anyone active) are left alone and counted "
        "in `skipped`."
    ),
)
def leads_assign_bulk_api(request: HttpRequest, payload: BulkAssignIn):
    user = request.auth
    _require(user, "assign")
    result = leads_assign_bulk(actor=user, lead_ids=payload.lead_ids, owner=payload.owner_id)
    return {
        **result.counts(),
        "assigned_ids": result.assigned,
        "skipped_ids": result.skipped,
        "message": assign_summary(result),
    }


@router.post(
    "/leads/{lead_id}/assign",
    response={200: _lead_out_schema(), **errors(409)},
    summary="Assign a lead",
    description=(
        "Needs `leads.assign`. The owner must be an active user whose role lets them work on "
        "leads (422 otherwise); they are notified. 409 for a converted lead."
    ),
)
def lead_assign_api(request: HttpRequest, lead_id: ParamInt, payload: AssignIn):
    user = request.auth
    _require(user, "assign")
    lead = _lead(user, lead_id)
    lead_assign(actor=user, lead=lead, owner=payload.owner_id)
    return _answer(user, lead.pk)


@router.post(
    "/leads/{lead_id}/convert",
    response={200: ConvertOut, **errors(409)},
    summary="Convert a lead into a customer, its contact and optionally an opportunity",
    description=(
        "One transaction. With `customer_id`: the lead's person joins that customer as a "
        "contact (or a contact with the same phone/email is reused). Otherwise a new customer "
        "from the lead and `customer`, under the archive's rules: 422 with the customer's "
        "field names, 409 `duplicate` (same name or credit code) or `duplicate_warning` (same "
        "phone or email, until `confirm_duplicates`). `opportunity` starts at the first stage "
        "(its field errors as `opportunity.<field>`). 409 when the lead is converted or "
        "disqualified."
    ),
)
def lead_convert_api(request: HttpRequest, lead_id: ParamInt, payload: ConvertIn):
    user = request.auth
    _require(user, "edit")
    lead = _lead(user, lead_id)
    if payload.customer_id is not None and payload.customer:
        raise ValidationFailed(
            fields={"customer_id": [_("Send customer_id or customer, not both.")]}
        )
    opportunity = None
    if payload.opportunity is not None:
        opportunity = payload.opportunity.model_dump()
    customer, contact, opp = lead_convert(
        actor=user,
        lead=lead,
        customer_id=payload.customer_id,
        customer=payload.customer,
        opportunity=opportunity,
        confirm_duplicates=payload.confirm_duplicates,
    )
    return {
        "customer_id": customer.pk,
        "contact_id": contact.pk,
        "opportunity_id": opp.pk if opp is not None else None,
    }


@router.post(
    "/leads/{lead_id}/qualify",
    response={200: _lead_out_schema(), **errors(409)},
    summary="Qualify a lead",
    description=(
        "A new or contacted lead becomes `qualified` (it stays open; its first-contact clock "
        "runs on until a follow-up). 409 when it is already qualified, converted or "
        "disqualified (requalify a disqualified lead first)."
    ),
)
def lead_qualify_api(request: HttpRequest, lead_id: ParamInt):
    user = request.auth
    _require(user, "edit")
    lead = _lead(user, lead_id)
    lead_qualify(actor=user, lead=lead)
    return _answer(user, lead.pk)


@router.post(
    "/leads/{lead_id}/disqualify",
    response={200: _lead_out_schema(), **errors(409)},
    summary="Disqualify a lead with a reason",
    description="422 without a reason from the list; 409 when already converted or disqualified.",
)
def lead_disqualify_api(request: HttpRequest, lead_id: ParamInt, payload: DisqualifyIn):
    user = request.auth
    _require(user, "edit")
    lead = _lead(user, lead_id)
    lead_disqualify(actor=user, lead=lead, reason=payload.reason, note=payload.note or "")
    return _answer(user, lead.pk)


@router.post(
    "/leads/{lead_id}/requalify",
    response={200: _lead_out_schema(), **errors(409)},
    summary="Undo a disqualification",
    description="The lead goes back to the status it had. 409 when it is not disqualified.",
)
def lead_requalify_api(request: HttpRequest, lead_id: ParamInt):
    user = request.auth
    _require(user, "edit")
    lead = _lead(user, lead_id)
    lead_requalify(actor=user, lead=lead)
    return _answer(user, lead.pk)
