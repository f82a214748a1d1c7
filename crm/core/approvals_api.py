"""The approvals API (issue 7 §7): reads through crm.core.approvals' selectors, writes
through its services.

A caller sees the approvals they requested, may decide, or whose object they may see; any
other one is 404. Deciding needs to be one of the request's approvers (403 otherwise); a
request no longer pending is 409; an approved change that can no longer apply is 409
`apply_failed` and the request stays pending.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from crm.core.api import (
    InputSchema,
    OutSchema,
    PageParams,
    ParamInt,
    Text,
    errors,
    id_checked,
    page_envelope,
)
from crm.core.approvals import (
    approval_approve,
    approval_get,
    approval_reject,
    approval_withdraw,
    approvals_visible_to,
)
from crm.core.models import Approval
from crm.core.pagination import paginate

router = Router(tags=["approvals"])

StateCode = Literal["pending", "approved", "rejected", "withdrawn"]


class ApprovalOut(OutSchema):
    id: int
    kind: str = Field(description="What is asked, e.g. customer_lifecycle.")
    object_type: str = Field(description="The kind of record it is about, e.g. customer.")
    object_id: int
    requested_by_id: int
    approver_ids: list[int] = Field(description="Who may decide, chosen by the kind's rule.")
    state: StateCode
    payload: dict[str, Any] = Field(
        description="The requested change, e.g. {from, to, reason} for a status change."
    )
    comment: str = Field(description="The decider's comment.")
    decided_by_id: int | None
    decided_at: dt.datetime | None
    created_at: dt.datetime


class ApprovalPageOut(OutSchema):
    items: list[ApprovalOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None


class ApprovalListParams(PageParams):
    state: StateCode | None = Field(default=None, description="Only approvals in this state.")
    mine: Literal["1", "0", "true", "false"] | None = Field(
        default=None, description="1 (or true): only those waiting for the caller's decision."
    )


class DecisionIn(InputSchema):
    comment: Text = Field(default="", max_length=2000)


def approval_out(approval: Approval) -> dict[str, Any]:
    """An approval with its approvers prefetched (one query for a whole page)."""
    return {
        "id": approval.pk,
        "kind": approval.kind,
        "object_type": approval.object_type,
        "object_id": approval.object_id,
        "requested_by_id": approval.requested_by_id,
        "approver_ids": sorted(u.pk for u in approval.approvers.all()),
        "state": approval.state,
        "payload": approval.payload if isinstance(approval.payload, dict) else {},
        "comment": approval.comment,
        "decided_by_id": approval.decided_by_id,
        "decided_at": approval.decided_at,
        "created_at": approval.created_at,
    }


def approvals_filtered(user: Any, *, state: str | None, mine: bool):
    """The caller's visible approvals, newest first, filtered like the list."""
    rows = approvals_visible_to(user)
    if state:
        rows = rows.filter(state=state)
    if mine:
        through = Approval.approvers.through
        rows = rows.filter(pk__in=through.objects.filter(user_id=user.pk).values("approval_id"))
    return rows.order_by("-created_at", "-id")


def _answer(user: Any, approval_id: int) -> dict[str, Any]:
    return approval_out(approval_get(user=user, approval_id=approval_id))


@router.get(
    "/approvals",
    response={200: ApprovalPageOut},
    summary="Approvals the caller requested, may decide, or whose record they may see",
    description=(
        "Newest first. `state=pending&mine=1`: the requests waiting for the caller's decision."
    ),
)
def approval_list_api(request: HttpRequest, params: Query[ApprovalListParams]):
    user = request.auth
    rows = approvals_filtered(
        user, state=params.state, mine=params.mine in ("1", "true")
    ).prefetch_related("approvers")
    page = paginate(rows, page=params.page, size=params.page_size)
    return page_envelope(request, page, [approval_out(a) for a in page.items])


@router.get("/approvals/{approval_id}", response={200: ApprovalOut}, summary="One approval")
def approval_detail_api(request: HttpRequest, approval_id: ParamInt):
    return _answer(request.auth, id_checked(approval_id))


@router.post(
    "/approvals/{approval_id}/approve",
    response={200: ApprovalOut, **errors(409)},
    summary="Approve a request and apply its change",
    description=(
        "Only an approver of the request (403 otherwise). 409 when it is no longer pending, "
        "or `apply_failed` when the change can no longer be applied (the record changed "
        "meanwhile): then the request stays pending."
    ),
)
def approval_approve_api(request: HttpRequest, approval_id: ParamInt, payload: DecisionIn):
    user = request.auth
    approval = approval_get(user=user, approval_id=id_checked(approval_id))
    approval_approve(actor=user, approval=approval, comment=payload.comment)
    return _answer(user, approval.pk)


@router.post(
    "/approvals/{approval_id}/reject",
    response={200: ApprovalOut, **errors(409)},
    summary="Reject a request",
    description="Only an approver; `comment` (why) is required. 409 when no longer pending.",
)
def approval_reject_api(request: HttpRequest, approval_id: ParamInt, payload: DecisionIn):
    user = request.auth
    approval = approval_get(user=user, approval_id=id_checked(approval_id))
    approval_reject(actor=user, approval=approval, comment=payload.comment)
    return _answer(user, approval.pk)


@router.post(
    "/approvals/{approval_id}/withdraw",
    response={200: ApprovalOut, **errors(409)},
    summary="Withdraw one's own pending request",
    description="Only the requester (403 otherwise). 409 when no longer pending.",
)
def approval_withdraw_api(request: HttpRequest, approval_id: ParamInt):
    user = request.auth
    approval = approval_get(user=user, approval_id=id_checked(approval_id))
    approval_withdraw(actor=user, approval=approval)
    return _answer(user, approval.pk)
