"""Leads API (issue 7 §7): every read through selectors (scope), every write through services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from crm.core.api import PageParams, ParamInt, errors, id_checked, page_envelope
from crm.core.customfields import custom_values_api
from crm.core.customfields_filters import custom_filters_parse
from crm.core.customfields_schemas import CUSTOM_FILTERS_DESCRIPTION
from crm.core.dictionaries import dictionary_labels
from crm.core.errors import NotFoundError, PermissionDeniedError
from crm.core.masking import mask_email, mask_phone, reveal_on_demand
from crm.core.merge import merged_api_redirect
from crm.core.pagination import page_total, paginate
from crm.core.scope import user_can
from crm.leads.models import Lead, LeadStatus
from crm.leads.schemas import (
    LeadIn,
    LeadListParams,
    LeadMergeIn,
    LeadOut,
    LeadPageOut,
    LeadPatch,
)
from crm.leads.selectors import (
    LeadFilters,
    lead_get,
    lead_list,
    leads_deleted_visible_to,
)
from crm.leads.services import lead_create, lead_delete, lead_restore, lead_update

MODULE = "leads"
STATUS_LABELS = dict(LeadStatus.choices)
# The columns a list answer shows: everything but the search keys; of the owner, the name.
ANSWER_FIELDS = (
    *(
        f.name
        for f in Lead._meta.concrete_fields
        if f.name
        not in (
            "search_blob",
            "company_key",
            "email_key",
            "phone_digits",
            "pinyin",
            "disqualify_note",
        )
    ),
    "owner__username",
    "owner__full_name",
    "owner__first_name",
    "owner__last_name",
)
router = Router(tags=["leads"])


def _require_view(user: Any) -> None:
    """Without the view permission the module is closed (403); with it, leads outside the
    caller's scope are simply not found (404)."""
    if not user_can(user, MODULE, "view"):
        raise PermissionDeniedError()


def lead_out(
    lead: Lead, *, labels: dict[tuple[str, str], str] | None = None, shown: bool | None = None
) -> dict[str, Any]:
    """The API's view of a lead (owner selected with it); a page passes its `labels`.

    Phone and email are masked while reveal on demand is on (`shown` False; a page decides
    once): POST /leads/{id}/reveal gives one value, logged (crm.privacy).
    """
    if labels is None:
        labels = dictionary_labels()
    if shown is None:
        shown = not reveal_on_demand()
    return {
        "id": lead.pk,
        "number": lead.number,
        "company": lead.company,
        "name": lead.name,
        "title": lead.title,
        "phone": lead.phone if shown else mask_phone(lead.phone),
        "email": lead.email if shown else mask_email(lead.email),
        "source": lead.source,
        "source_label": labels.get(("source", lead.source), lead.source or ""),
        "grade": lead.grade,
        "status": lead.status,
        "status_label": str(STATUS_LABELS.get(lead.status, lead.status)),
        "owner_id": lead.owner_id,
        "owner_name": lead.owner.display_name if lead.owner_id else "",
        "region": lead.region,
        "region_label": labels.get(("region", lead.region), lead.region or ""),
        "requirement": lead.requirement,
        "budget": None if lead.budget is None else f"{lead.budget:.2f}",
        "notes": lead.notes,
        "first_contact_due_at": lead.first_contact_due_at,
        "first_contacted_at": lead.first_contacted_at,
        "sla_state": lead.sla_state,
        "last_followup_at": lead.last_followup_at,
        "converted_customer_id": lead.converted_customer_id,
        "converted_opportunity_id": lead.converted_opportunity_id,
        "disqualify_reason": lead.disqualify_reason,
        "custom": custom_values_api(MODULE, lead.custom, can_view_contact=shown),
        "version": lead.version,
        "created_at": lead.created_at,
        "updated_at": lead.updated_at,
        "deleted_at": lead.deleted_at,
    }


def _read(user: Any, lead_id: int, *, include_deleted: bool = False) -> Lead:
    return lead_get(user=user, lead_id=id_checked(lead_id), include_deleted=include_deleted)


def _answer(user: Any, lead_id: int, *, include_deleted: bool = False) -> dict[str, Any]:
    """Re-read through the selector after a write: the answer is what the caller may see."""
    return lead_out(_read(user, lead_id, include_deleted=include_deleted))


def _page_out(request: HttpRequest, rows: Any, params: PageParams) -> dict[str, Any]:
    page = paginate(rows, page=params.page, size=params.page_size)
    labels = dictionary_labels()
    shown = not reveal_on_demand()
    items = [lead_out(lead, labels=labels, shown=shown) for lead in page.items]
    return page_envelope(request, page, items, total=page_total(rows, page))


@router.get(
    "/leads",
    response={200: LeadPageOut},
    summary="List leads in the caller's data scope",
    description=(
        "Filtered (`owner_id=none`: unassigned), searched, sorted and paginated without a full "
        "count; follow `next`. Unassigned leads are listed to users who may assign leads."
        + CUSTOM_FILTERS_DESCRIPTION
    ),
)
def lead_list_api(request: HttpRequest, filters: Query[LeadListParams]):
    user = request.auth
    _require_view(user)
    owner = filters.owner_id
    selected = LeadFilters(
        status=filters.status or "",
        grade=filters.grade or "",
        owner_id=owner if owner in (None, "none") else int(owner),
        source=filters.source.strip(),
        sla_state=filters.sla_state or "",
        q=filters.q.strip(),
        sort=filters.sort,
        custom=custom_filters_parse(MODULE, request.GET),
    )
    rows = lead_list(user=user, filters=selected).defer(None).only(*ANSWER_FIELDS)
    return _page_out(request, rows, filters)


@router.get(
    "/recycle-bin/leads",
    response={200: LeadPageOut},
    summary="Deleted leads in the caller's data scope, most recently deleted first",
    description="What `POST /leads/{id}/restore` can bring back. Needs the delete permission.",
)
def lead_recycle_bin_api(request: HttpRequest, params: Query[PageParams]):
    user = request.auth
    if not user_can(user, MODULE, "delete"):
        raise PermissionDeniedError()
    rows = (
        leads_deleted_visible_to(user)
        .select_related("owner")
        .only(*ANSWER_FIELDS)
        .order_by("-deleted_at", "-id")
    )
    return _page_out(request, rows, params)


@router.post(
    "/leads",
    response={201: LeadOut, **errors(409)},
    summary="Create a lead",
    description=(
        "Numbered XS+yyyymm+sequence, status `new`, its first-contact deadline from the grade. "
        "A lead matching an existing customer or an open lead (company, phone, email) gives "
        "409 `duplicate_warning` listing them (a link only where the caller may see it) until "
        "the request is repeated with `confirm_duplicates: true`."
    ),
)
def lead_create_api(request: HttpRequest, payload: LeadIn):
    user = request.auth
    data = payload.model_dump(exclude={"confirm_duplicates"})
    lead = lead_create(actor=user, data=data, confirm_duplicates=payload.confirm_duplicates)
    return Status(201, _answer(user, lead.pk))


@router.get("/leads/{lead_id}", response={200: LeadOut}, summary="One lead")
def lead_detail_api(request: HttpRequest, lead_id: ParamInt):
    user = request.auth
    _require_view(user)
    try:
        return _answer(user, lead_id)
    except NotFoundError:
        # A lead merged into another answers 308 to the survivor, when the caller may see
        # the tombstone: old links and stored ids keep working.
        from crm.leads.merge import lead_merged_visible

        target = lead_merged_visible(user=user, lead_id=lead_id)
        if target is None:
            raise
        return merged_api_redirect(f"/api/v1/leads/{target.pk}")


@router.post(
    "/leads/{lead_id}/merge",
    response={200: LeadOut, **errors(409)},
    summary="Merge a duplicate lead into this one",
    description=(
        "`from_id`'s follow-ups and history move to this lead (the survivor); `keep` "
        "chooses, per field, whose value stays (`self` or `other`). The other lead becomes a "
        "tombstone: `GET /leads/{from_id}` then answers 308 to the survivor. Needs edit on "
        "both (404 outside the caller's scope); 409 when `version` is stale or this lead was "
        "converted; 422 for an unknown field, the same id, or an already merged or converted "
        "lead."
    ),
)
def lead_merge_api(request: HttpRequest, lead_id: ParamInt, payload: LeadMergeIn):
    from crm.leads.merge import lead_merge

    user = request.auth
    _require_view(user)
    lead = _read(user, lead_id)
    lead_merge(
        actor=user, lead=lead, from_id=payload.from_id, keep=payload.keep, version=payload.version
    )
    return _answer(user, lead.pk)


@router.patch(
    "/leads/{lead_id}",
    response={200: LeadOut, **errors(409)},
    summary="Change some fields of a lead",
    description=(
        "Send `version` as last read (409 `conflict` if someone changed it since). Changing "
        "`owner_id` needs leads.assign. A grade changed before the first contact moves the "
        "deadline. The status is not set here."
    ),
)
def lead_update_api(request: HttpRequest, lead_id: ParamInt, payload: LeadPatch):
    user = request.auth
    _require_view(user)
    lead = _read(user, lead_id)
    data = payload.model_dump(exclude_unset=True, exclude={"version", "confirm_duplicates"})
    lead_update(
        actor=user,
        lead=lead,
        data=data,
        version=payload.version,
        confirm_duplicates=payload.confirm_duplicates,
    )
    return _answer(user, lead.pk)


@router.delete(
    "/leads/{lead_id}",
    response={204: None, **errors(409)},
    summary="Move a lead to the recycle bin",
    description=(
        "Restorable. With `?version=` a stale copy gets 409; without it, deleting a lead "
        "already in the recycle bin answers 204 and changes nothing."
    ),
)
def lead_delete_api(request: HttpRequest, lead_id: ParamInt, version: ParamInt | None = None):
    user = request.auth
    _require_view(user)
    lead = _read(user, lead_id, include_deleted=True)
    lead_delete(actor=user, lead=lead, version=version)
    return Status(204, None)


@router.post(
    "/leads/{lead_id}/restore",
    response={200: LeadOut, **errors(409)},
    summary="Restore a lead from the recycle bin",
    description="With `?version=` (as listed) a stale copy gets 409.",
)
def lead_restore_api(request: HttpRequest, lead_id: ParamInt, version: ParamInt | None = None):
    user = request.auth
    _require_view(user)
    lead = _read(user, lead_id, include_deleted=True)
    lead_restore(actor=user, lead=lead, version=version)
    return _answer(user, lead.pk)
