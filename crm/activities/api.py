"""The follow-ups API (FUP-1, FUP-2; issue 6 §6): reads through selectors, writes through
services. 403 without the followups view permission; 404 outside the caller's scope, and for a
follow-up (or a new one's customer) on a customer the caller cannot see."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from crm.activities.models import FollowUp
from crm.activities.schemas import (
    FollowUpIn,
    FollowUpListParams,
    FollowUpOut,
    FollowUpPageOut,
    FollowUpPatch,
    OverduePageOut,
    OverdueParams,
)
from crm.activities.selectors import (
    FollowUpFilters,
    attachment_ids_by_followup,
    followup_get,
    followup_list,
)
from crm.activities.services import (
    followup_create,
    followup_delete,
    followup_restore,
    followup_update,
)
from crm.core.api import ParamInt, errors, id_checked, page_envelope
from crm.core.customfields import custom_values_api
from crm.core.customfields_filters import custom_filters_parse
from crm.core.customfields_schemas import CUSTOM_FILTERS_DESCRIPTION
from crm.core.dictionaries import dictionary_labels
from crm.core.errors import PermissionDeniedError
from crm.core.masking import contact_details_shown
from crm.core.pagination import page_total, paginate
from crm.core.scope import user_can

MODULE = "followups"
router = Router(tags=["followups"])


def _require_view(user: Any) -> None:
    if not user_can(user, MODULE, "view"):
        raise PermissionDeniedError()


def followup_out(
    followup: FollowUp,
    *,
    labels: dict[tuple[str, str], str] | None = None,
    attachment_ids: list[int] | None = None,
    shown: bool = True,
) -> dict[str, Any]:
    """The API's view of a follow-up (customer and author selected with it)."""
    if labels is None:
        labels = dictionary_labels()
    if attachment_ids is None:
        attachment_ids = attachment_ids_by_followup([followup.pk]).get(followup.pk, [])
    return {
        "id": followup.pk,
        "customer_id": followup.customer_id,
        "customer_name": followup.customer.name if followup.customer_id else "",
        "lead_id": followup.lead_id,
        "opportunity_id": followup.opportunity_id,
        "contact_id": followup.contact_id,
        "author_id": followup.author_id,
        "author_name": followup.author.display_name,
        "method": followup.method,
        "method_label": labels.get(("followup_method", followup.method), followup.method),
        "occurred_at": followup.occurred_at,
        "summary": followup.summary,
        "feedback": followup.feedback,
        "next_action": followup.next_action,
        "due_on": followup.due_on,
        "next_at": followup.next_at,
        "next_method": followup.next_method,
        "next_goal": followup.next_goal,
        "next_done_at": followup.next_done_at,
        "next_done_by_id": followup.next_done_by_id,
        "attachment_ids": attachment_ids,
        # Phone/email custom fields follow the customers' rule (contact_details_shown).
        "custom": custom_values_api(MODULE, followup.custom, can_view_contact=shown),
        "version": followup.version,
        "created_at": followup.created_at,
        "updated_at": followup.updated_at,
        "deleted_at": followup.deleted_at,
    }


def _read(user: Any, followup_id: int, *, include_deleted: bool = False) -> FollowUp:
    return followup_get(
        user=user, followup_id=id_checked(followup_id), include_deleted=include_deleted
    )


def _answer(user: Any, followup_id: int, *, include_deleted: bool = False) -> dict[str, Any]:
    """Re-read through the selector after a write: the answer is what the caller may see."""
    return followup_out(
        _read(user, followup_id, include_deleted=include_deleted),
        shown=contact_details_shown(user),
    )


@router.get(
    "/followups",
    response={200: FollowUpPageOut},
    summary="List follow-ups in the caller's data scope",
    description=(
        "Newest first (by when they happened); with `planned`, the open plans due today, "
        "overdue or this week, by planned time. Dates are days in the company's time zone. "
        "Follow `next` for the next page." + CUSTOM_FILTERS_DESCRIPTION
    ),
)
def followup_list_api(request: HttpRequest, filters: Query[FollowUpListParams]):
    user = request.auth
    _require_view(user)
    selected = FollowUpFilters(
        customer_id=filters.customer_id,
        lead_id=filters.lead_id,
        opportunity_id=filters.opportunity_id,
        author_id=filters.author_id,
        occurred_from=filters.occurred_from,
        occurred_to=filters.occurred_to,
        planned=filters.planned or "",
        custom=custom_filters_parse(MODULE, request.GET),
    )
    rows = followup_list(user=user, filters=selected)
    page = paginate(rows, page=filters.page, size=filters.page_size)
    labels = dictionary_labels()
    files = attachment_ids_by_followup([f.pk for f in page.items])
    shown = contact_details_shown(user)
    items = [
        followup_out(f, labels=labels, attachment_ids=files.get(f.pk, []), shown=shown)
        for f in page.items
    ]
    return page_envelope(request, page, items, total=page_total(rows, page))


@router.post(
    "/followups",
    response={201: FollowUpOut},
    summary="Log a follow-up, optionally planning the next one",
    description=(
        "The customer (or the lead, `lead_id`) must be one the caller can see (404 "
        "otherwise). With `plan_id`, the "
        "earlier follow-up whose plan this one carries out is marked done. The customer's "
        "`last_followup_at` and `next_followup_at` follow."
    ),
)
def followup_create_api(request: HttpRequest, payload: FollowUpIn):
    user = request.auth
    _require_view(user)
    followup = followup_create(actor=user, data=payload.model_dump())
    return Status(201, _answer(user, followup.pk))


@router.get(
    "/followups/overdue",
    response={200: OverduePageOut},
    summary="Customers and leads overdue by their follow-up cadence, longest overdue first",
    description=(
        "As stored by the `followup_cadence` sweep and cleared at once by a follow-up. "
        "Customers within the caller's customers scope, leads within the leads scope; needs "
        "the follow-ups view permission. Paginated without a total; at most 10,000 rows deep "
        "(filter by `type` or `owner_id` beyond)."
    ),
)
def followups_overdue_api(request: HttpRequest, params: Query[OverdueParams]):
    from crm.activities.clocks import overdue_list

    user = request.auth
    _require_view(user)
    page = overdue_list(
        user=user,
        type=params.type or "",
        owner_id=params.owner_id,
        page=params.page,
        size=params.page_size,
    )
    items = [
        {
            "type": r.type,
            "id": r.id,
            "name": r.name,
            "number": r.number,
            "grade": r.grade,
            "owner_id": r.owner_id,
            "last_followup_at": r.last_followup_at,
            "due_since": r.due_since,
        }
        for r in page.items
    ]
    return page_envelope(request, page, items)


# Declared before /followups/{followup_id}, which would otherwise take "overdue" for an id.
@router.get("/followups/{followup_id}", response={200: FollowUpOut}, summary="One follow-up")
def followup_detail_api(request: HttpRequest, followup_id: ParamInt):
    user = request.auth
    _require_view(user)
    return _answer(user, followup_id)


@router.patch(
    "/followups/{followup_id}",
    response={200: FollowUpOut, **errors(409)},
    summary="Change some fields of a follow-up",
    description=(
        "Send `version` as last read (409 `conflict` if someone changed it since). The author "
        "may change a follow-up for 24 hours after logging it; after that only a user with the "
        "edit permission beyond their own records (a manager) may (403)."
    ),
)
def followup_update_api(request: HttpRequest, followup_id: ParamInt, payload: FollowUpPatch):
    user = request.auth
    _require_view(user)
    followup = _read(user, followup_id)
    data = payload.model_dump(exclude_unset=True, exclude={"version"})
    followup_update(actor=user, followup=followup, data=data, version=payload.version)
    return _answer(user, followup.pk)


@router.delete(
    "/followups/{followup_id}",
    response={204: None, **errors(409)},
    summary="Move a follow-up to the recycle bin",
    description=(
        "Restorable until the purge sweep. With `?version=` a stale copy gets 409; without it, "
        "deleting one already in the recycle bin answers 204 and changes nothing."
    ),
)
def followup_delete_api(
    request: HttpRequest, followup_id: ParamInt, version: ParamInt | None = None
):
    user = request.auth
    _require_view(user)
    followup = _read(user, followup_id, include_deleted=True)
    followup_delete(actor=user, followup=followup, version=version)
    return Status(204, None)


@router.post(
    "/followups/{followup_id}/restore",
    response={200: FollowUpOut, **errors(409)},
    summary="Restore a follow-up from the recycle bin",
    description="With `?version=` (as listed) a stale copy gets 409.",
)
def followup_restore_api(
    request: HttpRequest, followup_id: ParamInt, version: ParamInt | None = None
):
    user = request.auth
    _require_view(user)
    followup = _read(user, followup_id, include_deleted=True)
    followup_restore(actor=user, followup=followup, version=version)
    return _answer(user, followup.pk)
