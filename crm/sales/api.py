"""The sales API routes (issue 6 §6): reads through selectors, writes through services.

Without the opportunities module's view permission every route answers 403; records outside
the caller's scope (or on a customer the caller cannot see) are 404.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from crm.core.api import PageParams, ParamInt, errors, id_checked, page_envelope
from crm.core.customfields import custom_values_api
from crm.core.customfields_filters import custom_filters_parse
from crm.core.customfields_schemas import CUSTOM_FILTERS_DESCRIPTION
from crm.core.dictionaries import dictionary_label
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.masking import contact_details_shown
from crm.core.pagination import page_total, paginate
from crm.core.scope import user_can
from crm.sales.models import Opportunity
from crm.sales.schemas import (
    ForecastOut,
    LoseIn,
    MilestoneIn,
    MilestoneOut,
    MilestonesOut,
    OpportunityIn,
    OpportunityListParams,
    OpportunityOut,
    OpportunityPageOut,
    OpportunityPatch,
    PipelineRowOut,
    ReopenIn,
    StageHistoryOut,
    StageMoveIn,
    StageOut,
    WinIn,
)
from crm.sales.selectors import (
    FORECAST_GROUPS,
    LIST_FIELDS,
    OpportunityFilters,
    milestones_of,
    opportunities_deleted_visible_to,
    opportunity_forecast,
    opportunity_get,
    opportunity_list,
    pipeline_summary,
    stage_history,
    stage_of,
)
from crm.sales.services import (
    milestone_create,
    opportunity_close_lost,
    opportunity_close_won,
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
    opportunity_reopen,
    opportunity_restore,
    opportunity_update,
)
from crm.sales.stages import stages_all

MODULE = "opportunities"
router = Router(tags=["opportunities"])


def _require_view(user: Any) -> None:
    if not user_can(user, MODULE, "view"):
        raise PermissionDeniedError()


def _money(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"


def opportunity_out(opportunity: Opportunity, *, shown: bool = True) -> dict[str, Any]:
    """The API's view of an opportunity; customer and owner fetched with it (select_related),
    the stage from the cached pipeline."""
    stage = stage_of(opportunity.stage_id)
    return {
        "id": opportunity.pk,
        "number": opportunity.number,
        "name": opportunity.name,
        "customer_id": opportunity.customer_id,
        "customer_name": opportunity.customer.name,
        "contact_id": opportunity.contact_id,
        "owner_id": opportunity.owner_id,
        "owner_name": opportunity.owner.display_name,
        "stage_id": opportunity.stage_id,
        "stage_name": stage.display_name if stage else "",
        "status": opportunity.status,
        "amount": _money(opportunity.amount),
        "probability": opportunity.probability,
        "probability_manual": opportunity.probability_manual,
        "weighted_amount": _money(opportunity.weighted_amount),
        "expected_close_date": opportunity.expected_close_date,
        "description": opportunity.description,
        "competitors": opportunity.competitors,
        "source": opportunity.source,
        "contract_no": opportunity.contract_no,
        "actual_amount": _money(opportunity.actual_amount),
        "closed_on": opportunity.closed_on,
        "lost_reason": opportunity.lost_reason,
        "lost_note": opportunity.lost_note,
        "stage_entered_at": opportunity.stage_entered_at,
        # Phone/email custom fields follow the customers' rule (contact_details_shown).
        "custom": custom_values_api(MODULE, opportunity.custom, can_view_contact=shown),
        "version": opportunity.version,
        "created_at": opportunity.created_at,
        "updated_at": opportunity.updated_at,
        "deleted_at": opportunity.deleted_at,
    }


def _read(user: Any, opportunity_id: int, *, include_deleted: bool = False) -> Opportunity:
    return opportunity_get(
        user=user, opportunity_id=id_checked(opportunity_id), include_deleted=include_deleted
    )


def _answer(user: Any, opportunity_id: int) -> dict[str, Any]:
    """Re-read through the selector after a write: the answer is what the caller may see."""
    return opportunity_out(
        _read(user, opportunity_id, include_deleted=True), shown=contact_details_shown(user)
    )


# --- stages -----------------------------------------------------------------------------------


@router.get(
    "/stages",
    response={200: list[StageOut]},
    summary="The pipeline's stages in order",
    description="Active stages by position (kind open, won or lost), names in the request's "
    "language.",
)
def stage_list_api(request: HttpRequest):
    return [
        {
            "id": s.id,
            "name": s.display_name,
            "position": s.position,
            "probability": s.probability,
            "kind": s.kind,
            "is_active": s.is_active,
            "entry_criteria": s.entry_criteria,
        }
        for s in stages_all(include_retired=False)
    ]


# --- opportunities ----------------------------------------------------------------------------


@router.get(
    "/opportunities",
    response={200: OpportunityPageOut},
    summary="List opportunities in the caller's data scope",
    description="Filtered, searched, sorted and paginated; follow `next`."
    + CUSTOM_FILTERS_DESCRIPTION,
)
def opportunity_list_api(request: HttpRequest, filters: Query[OpportunityListParams]):
    user = request.auth
    _require_view(user)
    selected = OpportunityFilters(
        q=filters.q.strip(),
        stage_id=filters.stage_id,
        status=filters.status or "",
        owner_id=filters.owner_id,
        customer_id=filters.customer_id,
        expected_close_from=filters.expected_close_from,
        expected_close_to=filters.expected_close_to,
        sort=filters.sort,
        custom=custom_filters_parse(MODULE, request.GET),
    )
    rows = (
        opportunity_list(user=user, filters=selected)
        .defer(None)
        .only(*LIST_FIELDS, "description", "competitors", "lost_note")
    )
    page = paginate(rows, page=filters.page, size=filters.page_size)
    shown = contact_details_shown(user)
    items = [opportunity_out(o, shown=shown) for o in page.items]
    return page_envelope(request, page, items, total=page_total(rows, page))


@router.get(
    "/recycle-bin/opportunities",
    response={200: OpportunityPageOut},
    summary="Deleted opportunities in the caller's data scope, most recently deleted first",
    description="Restorable with POST /opportunities/{id}/restore until the purge sweep.",
)
def opportunity_recycle_bin_api(request: HttpRequest, params: Query[PageParams]):
    user = request.auth
    if not user_can(user, MODULE, "delete"):
        raise PermissionDeniedError()
    rows = (
        opportunities_deleted_visible_to(user)
        .select_related("customer", "owner")
        .order_by("-deleted_at", "-id")
    )
    page = paginate(rows, page=params.page, size=params.page_size)
    shown = contact_details_shown(user)
    items = [opportunity_out(o, shown=shown) for o in page.items]
    return page_envelope(request, page, items, total=page_total(rows, page))


@router.post(
    "/opportunities",
    response={201: OpportunityOut, **errors(409)},
    summary="Create an opportunity of a customer",
    description="Numbered SJ+yyyymm+sequence; starts at the first open stage.",
)
def opportunity_create_api(request: HttpRequest, payload: OpportunityIn):
    user = request.auth
    data = payload.model_dump(exclude_unset=True)
    data.setdefault("custom", payload.custom)  # a create checks every custom field
    opportunity = opportunity_create(actor=user, data=data)
    return Status(201, _answer(user, opportunity.pk))


@router.get(
    "/opportunities/{opportunity_id}", response={200: OpportunityOut}, summary="One opportunity"
)
def opportunity_detail_api(request: HttpRequest, opportunity_id: ParamInt):
    user = request.auth
    _require_view(user)
    return opportunity_out(_read(user, opportunity_id), shown=contact_details_shown(user))


@router.patch(
    "/opportunities/{opportunity_id}",
    response={200: OpportunityOut, **errors(409)},
    summary="Change some fields of an opportunity",
    description="A stale `version` gets 409. Changing `owner_id` needs the transfer permission.",
)
def opportunity_update_api(
    request: HttpRequest, opportunity_id: ParamInt, payload: OpportunityPatch
):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id, include_deleted=True)
    data = payload.model_dump(exclude_unset=True, exclude={"version"})
    opportunity_update(actor=user, opportunity=opportunity, data=data, version=payload.version)
    return _answer(user, opportunity.pk)


@router.delete(
    "/opportunities/{opportunity_id}",
    response={204: None, **errors(409)},
    summary="Move an opportunity to the recycle bin",
    description="With `?version=` checked like an edit (409 when stale).",
)
def opportunity_delete_api(
    request: HttpRequest, opportunity_id: ParamInt, version: ParamInt | None = None
):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id, include_deleted=True)
    opportunity_delete(actor=user, opportunity=opportunity, version=version)
    return Status(204, None)


@router.post(
    "/opportunities/{opportunity_id}/restore",
    response={200: OpportunityOut, **errors(409)},
    summary="Restore an opportunity from the recycle bin",
)
def opportunity_restore_api(
    request: HttpRequest, opportunity_id: ParamInt, version: ParamInt | None = None
):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id, include_deleted=True)
    opportunity_restore(actor=user, opportunity=opportunity, version=version)
    return _answer(user, opportunity.pk)


@router.post(
    "/opportunities/{opportunity_id}/stage",
    response={200: OpportunityOut, **errors(409)},
    summary="Move an opportunity to another stage",
    description="An open opportunity moves only to open stages (a won or lost stage this way "
    "is 422 naming `stage_id`: use /win or /lose); a won one only between won stages.",
)
def opportunity_stage_api(request: HttpRequest, opportunity_id: ParamInt, payload: StageMoveIn):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id, include_deleted=True)
    opportunity_move_stage(
        actor=user, opportunity=opportunity, stage=payload.stage_id, version=payload.version
    )
    return _answer(user, opportunity.pk)


@router.post(
    "/opportunities/{opportunity_id}/win",
    response={200: OpportunityOut, **errors(409)},
    summary="Close an opportunity as won",
    description="Contract number and actual amount required; lands on the first won stage. "
    "The customer's lifecycle status becomes 成交 when it was earlier.",
)
def opportunity_win_api(request: HttpRequest, opportunity_id: ParamInt, payload: WinIn):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id, include_deleted=True)
    opportunity_close_won(
        actor=user,
        opportunity=opportunity,
        contract_no=payload.contract_no,
        actual_amount=payload.actual_amount,
        closed_on=payload.closed_on,
        version=payload.version,
    )
    return _answer(user, opportunity.pk)


@router.post(
    "/opportunities/{opportunity_id}/lose",
    response={200: OpportunityOut, **errors(409)},
    summary="Close an opportunity as lost",
    description="`lost_reason` (a code of the list opportunity_lost_reason) required.",
)
def opportunity_lose_api(request: HttpRequest, opportunity_id: ParamInt, payload: LoseIn):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id, include_deleted=True)
    opportunity_close_lost(
        actor=user,
        opportunity=opportunity,
        lost_reason=payload.lost_reason,
        lost_note=payload.lost_note,
        version=payload.version,
    )
    return _answer(user, opportunity.pk)


@router.post(
    "/opportunities/{opportunity_id}/reopen",
    response={200: OpportunityOut, **errors(409)},
    summary="Reopen a won or lost opportunity",
    description="Back to the open stage it was last in (or the first open stage).",
)
def opportunity_reopen_api(request: HttpRequest, opportunity_id: ParamInt, payload: ReopenIn):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id, include_deleted=True)
    opportunity_reopen(actor=user, opportunity=opportunity, version=payload.version)
    return _answer(user, opportunity.pk)


@router.get(
    "/opportunities/{opportunity_id}/stage-history",
    response={200: StageHistoryOut},
    summary="The opportunity's stage changes, newest first",
)
def opportunity_stage_history_api(request: HttpRequest, opportunity_id: ParamInt):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id)
    return {
        "items": [
            {
                "from_stage_id": c.from_stage_id,
                "to_stage_id": c.to_stage_id,
                "actor_id": c.actor_id,
                "changed_at": c.changed_at,
                "seconds_in_previous": c.seconds_in_previous,
            }
            for c in stage_history(opportunity).select_related(None)[:500]
        ]
    }


def milestone_out(milestone: Any) -> dict[str, Any]:
    return {
        "id": milestone.pk,
        "kind": milestone.kind,
        "kind_label": dictionary_label("milestone", milestone.kind),
        "occurred_on": milestone.occurred_on,
        "note": milestone.note,
        "created_by_id": milestone.created_by_id,
        "created_at": milestone.created_at,
    }


@router.get(
    "/opportunities/{opportunity_id}/milestones",
    response={200: MilestonesOut},
    summary="The opportunity's milestones, latest first",
)
def milestone_list_api(request: HttpRequest, opportunity_id: ParamInt):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id)
    return {
        "items": [milestone_out(m) for m in milestones_of(opportunity).select_related(None)[:500]]
    }


@router.post(
    "/opportunities/{opportunity_id}/milestones",
    response={201: MilestoneOut, **errors(409)},
    summary="Mark a milestone (OPP-5)",
    description="`kind` from the list milestone; `occurred_on` not in the future.",
)
def milestone_create_api(request: HttpRequest, opportunity_id: ParamInt, payload: MilestoneIn):
    user = request.auth
    _require_view(user)
    opportunity = _read(user, opportunity_id)
    milestone = milestone_create(
        actor=user,
        opportunity=opportunity,
        kind=payload.kind,
        occurred_on=payload.occurred_on,
        note=payload.note,
    )
    return Status(201, milestone_out(milestone))


# --- pipeline and forecast --------------------------------------------------------------------


@router.get(
    "/pipeline",
    response={200: list[PipelineRowOut]},
    summary="Open opportunities per open stage, in the caller's scope",
    description="Count, amount and weighted amount (amount × probability) per open stage; "
    "totals of the opportunities owned by the users in the caller's scope.",
)
def pipeline_api(request: HttpRequest, owner_id: ParamInt | None = None):
    user = request.auth
    _require_view(user)
    return [
        {**row, "amount": _money(row["amount"]), "weighted_amount": _money(row["weighted_amount"])}
        for row in pipeline_summary(user=user, owner_id=owner_id)
    ]


@router.get(
    "/forecast",
    response={200: ForecastOut},
    summary="Forecast of the open opportunities: by expected-close month or by owner",
    description="`amount` is the best case (every open opportunity won), `weighted_amount` "
    "the sum of amount × probability.",
)
def forecast_api(request: HttpRequest, group: str = "month", owner_id: ParamInt | None = None):
    user = request.auth
    _require_view(user)
    if group not in FORECAST_GROUPS:
        raise ValidationFailed(fields={"group": [_("Choose month or owner.")]})
    rows = opportunity_forecast(user=user, group=group, owner_id=owner_id)
    return {
        "group": group,
        "items": [
            {
                **row,
                "amount": _money(row["amount"]),
                "weighted_amount": _money(row["weighted_amount"]),
            }
            for row in rows
        ],
    }
