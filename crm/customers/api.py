"""Customers API (CUS-1..7): every read through selectors (scope), every write through services.

Phone numbers and email addresses are masked for callers without the customers/view_contact
permission, in every answer (SYS-5).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from crm.core.api import PageParams, ParamInt, errors, id_checked, page_envelope
from crm.core.audit import audit_history
from crm.core.customfields import custom_values_api
from crm.core.customfields_filters import custom_filters_parse
from crm.core.customfields_schemas import CUSTOM_FILTERS_DESCRIPTION
from crm.core.dictionaries import dictionary_labels
from crm.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.masking import contact_details_shown, mask_email, mask_phone
from crm.core.merge import merged_api_redirect
from crm.core.pagination import page_total, paginate
from crm.core.scope import user_can
from crm.core.timeline import timeline_for_customer, timeline_kinds_clean
from crm.customers.merge import customer_merge, customer_merged_visible
from crm.customers.models import Contact, Customer, CustomerType
from crm.customers.schemas import (
    ContactIn,
    ContactOut,
    ContactPageOut,
    ContactPatch,
    CustomerBulkIn,
    CustomerBulkOut,
    CustomerIn,
    CustomerListParams,
    CustomerMergeIn,
    CustomerOut,
    CustomerPageOut,
    CustomerPatch,
    HistoryPageOut,
    TimelinePageOut,
    TimelineParams,
)
from crm.customers.selectors import (
    CustomerFilters,
    contact_get,
    contacts_by_customer,
    customer_get,
    customer_list,
    customers_deleted_visible_to,
)
from crm.customers.services import (
    BULK_ACTIONS,
    contact_create,
    contact_delete,
    contact_update,
    customer_create,
    customer_delete,
    customer_restore,
    customer_update,
    customers_bulk_delete,
    customers_bulk_grade_set,
    customers_bulk_summary,
    customers_bulk_transfer,
)

MODULE = "customers"
TYPE_LABELS = dict(CustomerType.choices)
# The columns a list answer shows: everything but the search columns; of the owner, the name.
ANSWER_FIELDS = (
    *(
        f.name
        for f in Customer._meta.concrete_fields
        if f.name
        not in (
            "search_blob",
            "search_document",
            "search_vector",
            "name_key",
            "email_key",
            "phone_digits",
            "pinyin",
        )
    ),
    "owner__username",
    "owner__full_name",
    "owner__first_name",
    "owner__last_name",
)
router = Router(tags=["customers"])


# --- representation -------------------------------------------------------------------------


def _can_view_contact(user: Any) -> bool:
    """In clear only with view_contact and reveal on demand off (POST .../reveal otherwise)."""
    return contact_details_shown(user)


def _require_view(user: Any) -> None:
    """Without the view permission the module is closed (403); with it, records outside the
    caller's scope are simply not found (404)."""
    if not user_can(user, MODULE, "view"):
        raise PermissionDeniedError()


def contact_out(contact: Contact | Any, *, can_view_contact: bool) -> dict[str, Any]:
    """A contact: a model instance, or a row of contacts_by_customer() (same attribute names)."""
    return {
        "id": contact.id,
        "name": contact.name,
        "title": contact.title,
        "phone": contact.phone if can_view_contact else mask_phone(contact.phone),
        "email": contact.email if can_view_contact else mask_email(contact.email),
        "notes": contact.notes,
        "is_primary": contact.is_primary,
        "custom": custom_values_api("contacts", contact.custom, can_view_contact=can_view_contact),
    }


def customer_out(
    customer: Customer,
    *,
    can_view_contact: bool,
    labels: dict[tuple[str, str], str] | None = None,
    contacts: list[Any] | None = None,
) -> dict[str, Any]:
    """The API's view of a customer; contacts must be prefetched (constant query count).

    Formatting only: the caller decides `can_view_contact` once per answer, and a list passes
    the page's `labels` (dictionary_labels(), read once) and each row's `contacts` (one query
    for the page, contacts_by_customer); a single customer reads its prefetched contacts.
    """
    if labels is None:
        labels = dictionary_labels()
    if contacts is None:
        contacts = list(customer.contacts.all())
    owner = customer.owner
    return {
        "id": customer.pk,
        "number": customer.number,
        "type": customer.type,
        "type_label": str(TYPE_LABELS.get(customer.type, customer.type)),
        "name": customer.name,
        "industry": customer.industry,
        "industry_label": labels.get(("industry", customer.industry), customer.industry),
        "source": customer.source,
        "source_label": labels.get(("source", customer.source), customer.source or ""),
        "grade": customer.grade,
        "status": customer.status,
        "status_label": labels.get(("customer_status", customer.status), customer.status),
        "owner_id": customer.owner_id,
        "owner_name": owner.display_name if owner is not None else "",
        "in_pool": owner is None,
        "pool_entered_at": customer.pool_entered_at,
        "last_activity_at": customer.last_activity_at,
        "followup_overdue_since": customer.followup_overdue_since,
        "dormant_since": customer.dormant_since,
        "phone": customer.phone if can_view_contact else mask_phone(customer.phone),
        "email": customer.email if can_view_contact else mask_email(customer.email),
        "credit_code": customer.credit_code,
        "address": customer.address,
        "background": customer.background,
        "remarks": customer.remarks,
        "first_contact_date": customer.first_contact_date,
        "requirement": customer.requirement,
        "budget": None if customer.budget is None else f"{customer.budget:.2f}",
        "decision_chain": customer.decision_chain,
        "competitors": customer.competitors,
        "last_followup_at": customer.last_followup_at,
        "next_followup_at": customer.next_followup_at,
        "custom": custom_values_api(MODULE, customer.custom, can_view_contact=can_view_contact),
        "contacts": [contact_out(c, can_view_contact=can_view_contact) for c in contacts],
        "version": customer.version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "deleted_at": customer.deleted_at,
    }


def _customers_out(user: Any, customers: list[Customer]) -> list[dict[str, Any]]:
    """A page of customers: permission, labels and contacts read once for the whole page."""
    can_view, labels = _can_view_contact(user), dictionary_labels()
    contacts = contacts_by_customer([c.pk for c in customers])
    return [
        customer_out(c, can_view_contact=can_view, labels=labels, contacts=contacts.get(c.pk, []))
        for c in customers
    ]


MASKED_CHANGES = {
    "phone": mask_phone,
    "contact.phone": mask_phone,
    "email": mask_email,
    "contact.email": mask_email,
}


def _change_out(change: dict[str, Any], *, can_view_contact: bool) -> dict[str, Any]:
    out = {
        "field": str(change.get("field", "")),
        "before": change.get("before"),
        "after": change.get("after"),
        "contact": change.get("contact"),
    }
    mask = MASKED_CHANGES.get(out["field"])
    if mask is not None and not can_view_contact:
        for side in ("before", "after"):
            if isinstance(out[side], str):
                out[side] = mask(out[side])
    return out


def _customer_read(user: Any, customer_id: int, *, include_deleted: bool = False) -> Customer:
    return customer_get(
        user=user, customer_id=id_checked(customer_id), include_deleted=include_deleted
    )


def _customer_answer(user: Any, customer_id: int) -> dict[str, Any]:
    """Re-read through the selector after a write, so the answer is what the caller may see."""
    return customer_out(_customer_read(user, customer_id), can_view_contact=_can_view_contact(user))


# --- customers ------------------------------------------------------------------------------


@router.get(
    "/customers",
    response={200: CustomerPageOut},
    summary="List customers in the caller's data scope",
    description=(
        "Filtered, searched, sorted and paginated; follow `next` for the next page. "
        "`total_approx` says how many customers match without counting the whole table: "
        'exact up to 10,000 (`exact: true`), otherwise `{"count": 10000, "exact": false}`.'
        + CUSTOM_FILTERS_DESCRIPTION
    ),
)
def customer_list_api(request: HttpRequest, filters: Query[CustomerListParams]):
    user = request.auth
    _require_view(user)
    selected = CustomerFilters(
        q=filters.q.strip(),
        type=filters.type or "",
        industry=filters.industry.strip(),
        grade=filters.grade or "",
        source=filters.source.strip(),
        status=filters.status.strip(),
        owner_id=filters.owner_id,
        created_from=filters.created_from,
        created_to=filters.created_to,
        overdue=bool(filters.overdue),
        dormant=bool(filters.dormant),
        sort=filters.sort,
        custom=custom_filters_parse(MODULE, request.GET),
    )
    rows = (
        customer_list(user=user, filters=selected)
        # The API answers with whole customers (the web list shows a summary): the long text
        # columns come back, the search columns stay out; all contacts in one query below.
        .prefetch_related(None)
        .defer(None)  # only() alone would keep the selector's deferred long texts deferred
        .only(*ANSWER_FIELDS)
    )
    page = paginate(rows, page=filters.page, size=filters.page_size)
    return page_envelope(
        request, page, _customers_out(user, page.items), total=page_total(rows, page)
    )


@router.get(
    "/recycle-bin/customers",
    response={200: CustomerPageOut},
    summary="Deleted customers in the caller's data scope, most recently deleted first",
    description=(
        "What `POST /customers/{id}/restore` can bring back before the purge sweep removes it "
        "(after the configured retention, 30 days by default). Needs the delete permission."
    ),
)
def customer_recycle_bin_api(request: HttpRequest, params: Query[PageParams]):
    user = request.auth
    if not user_can(user, MODULE, "delete"):
        raise PermissionDeniedError()
    rows = (
        customers_deleted_visible_to(user)
        .select_related("owner")
        .only(*ANSWER_FIELDS)
        .order_by("-deleted_at", "-id")
    )
    page = paginate(rows, page=params.page, size=params.page_size)
    return page_envelope(
        request, page, _customers_out(user, page.items), total=page_total(rows, page)
    )


@router.post(
    "/customers",
    response={201: CustomerOut, **errors(409)},
    summary="Create a customer with its contacts",
    description=(
        "Numbered KH+yyyymm+sequence. A duplicate name or credit code is refused (409 "
        "`duplicate`, with the existing record when the caller may see it, else its owner's "
        "name); the same phone or email gives 409 `duplicate_warning` until the request is "
        "repeated with `confirm_duplicates: true`."
    ),
)
def customer_create_api(request: HttpRequest, payload: CustomerIn):
    user = request.auth
    data = payload.model_dump(exclude={"contacts", "confirm_duplicates"})
    contacts = [c.model_dump() for c in payload.contacts]
    customer = customer_create(
        actor=user, data=data, contacts=contacts, confirm_duplicates=payload.confirm_duplicates
    )
    return Status(201, _customer_answer(user, customer.pk))


@router.post(
    "/customers/bulk",
    response={200: CustomerBulkOut},
    summary="One action on several customers: transfer, change grade or delete",
    description=(
        "`transfer` needs the transfer permission and `owner_id` (an active user within your "
        "data scope whose role gives access to customers); `grade` needs the edit permission "
        "and `grade`; `delete` (to the recycle bin) needs the delete permission. At most 500 "
        "ids. All or nothing, in one transaction, one audit entry per customer changed. Ids "
        "outside your data scope, deleted or unknown ones, and customers already in the "
        "requested state are left alone and listed in `skipped`."
    ),
)
def customer_bulk_api(request: HttpRequest, payload: CustomerBulkIn):
    user = request.auth
    _require_view(user)
    # The action's own permission first: without it the answer is 403, whatever the body.
    if not user_can(user, MODULE, BULK_ACTIONS[payload.action]):
        raise PermissionDeniedError()
    if payload.action == "transfer":
        if payload.owner_id is None:
            raise ValidationFailed(fields={"owner_id": [_("Choose the new owner.")]})
        result = customers_bulk_transfer(actor=user, ids=payload.ids, to_user=payload.owner_id)
    elif payload.action == "grade":
        if payload.grade is None:
            raise ValidationFailed(fields={"grade": [_("Choose a grade.")]})
        result = customers_bulk_grade_set(actor=user, ids=payload.ids, grade=payload.grade)
    else:
        result = customers_bulk_delete(actor=user, ids=payload.ids)
    return {
        "action": payload.action,
        "changed": result.changed,
        "skipped": result.skipped,
        "message": customers_bulk_summary(action=payload.action, result=result),
    }


@router.get(
    "/customers/{customer_id}",
    response={200: CustomerOut},
    summary="One customer",
)
def customer_detail_api(request: HttpRequest, customer_id: ParamInt):
    user = request.auth
    _require_view(user)
    try:
        return _customer_answer(user, customer_id)
    except NotFoundError:
        # A customer merged into another (CUS-6) answers 308 to the survivor, when the
        # caller may see the tombstone: old links and stored ids keep working.
        target = customer_merged_visible(user=user, customer_id=customer_id)
        if target is None:
            raise
        return merged_api_redirect(f"/api/v1/customers/{target.pk}")


@router.post(
    "/customers/{customer_id}/merge",
    response={200: CustomerOut, **errors(409)},
    summary="Merge a duplicate customer into this one",
    description=(
        "`from_id`'s contacts, opportunities, follow-ups, files, approvals, pool moves and "
        "timeline move to this customer (the survivor); `keep` chooses, per field, whose "
        "value stays (`self` or `other`). The other customer becomes a tombstone: "
        "`GET /customers/{from_id}` then answers 308 to the survivor. Needs edit on both "
        "(404 outside the caller's scope); 409 when `version` is stale; 422 for an unknown "
        "field, the same id, or an already merged customer."
    ),
)
def customer_merge_api(request: HttpRequest, customer_id: ParamInt, payload: CustomerMergeIn):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id)
    customer_merge(
        actor=user,
        customer=customer,
        from_id=payload.from_id,
        keep=payload.keep,
        version=payload.version,
    )
    return _customer_answer(user, customer.pk)


@router.patch(
    "/customers/{customer_id}",
    response={200: CustomerOut, **errors(409)},
    summary="Change some fields of a customer",
    description=(
        "Send `version` as last read: if someone changed the customer since, nothing is "
        "saved and 409 `conflict` names who changed it and when. Changing `owner_id` needs "
        "the transfer permission."
    ),
)
def customer_update_api(request: HttpRequest, customer_id: ParamInt, payload: CustomerPatch):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id)
    data = payload.model_dump(exclude_unset=True, exclude={"version", "confirm_duplicates"})
    customer_update(
        actor=user,
        customer=customer,
        data=data,
        version=payload.version,
        confirm_duplicates=payload.confirm_duplicates,
    )
    return _customer_answer(user, customer.pk)


@router.delete(
    "/customers/{customer_id}",
    response={204: None, **errors(409)},
    summary="Move a customer to the recycle bin",
    description=(
        "Restorable until the purge sweep. With `?version=` the delete is checked like an "
        "edit: a stale copy gets 409 `conflict`, so of several deletes sent with the same "
        "version exactly one answers 204 (also when the customer is already in the recycle "
        "bin). Without `version`, deleting a customer already in the recycle bin answers 204 "
        "and changes nothing."
    ),
)
def customer_delete_api(
    request: HttpRequest, customer_id: ParamInt, version: ParamInt | None = None
):
    user = request.auth
    _require_view(user)
    # Deleted ones too: a repeated delete is answered by the version check (409) or is a
    # no-op (204), not by a 404 that would depend on which request came first.
    customer = _customer_read(user, customer_id, include_deleted=True)
    customer_delete(actor=user, customer=customer, version=version)
    return Status(204, None)


@router.post(
    "/customers/{customer_id}/restore",
    response={200: CustomerOut, **errors(409)},
    summary="Restore a customer from the recycle bin",
    description=(
        "409 `duplicate` when a live customer now has the same name or credit code (someone "
        "created the company again while this one was in the recycle bin). With `?version=` "
        "(as the recycle bin listed it) a stale copy gets 409 `conflict`, so of several "
        "restores sent with the same version exactly one succeeds. Without `version`, "
        "restoring a live customer answers 200 and changes nothing."
    ),
)
def customer_restore_api(
    request: HttpRequest, customer_id: ParamInt, version: ParamInt | None = None
):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id, include_deleted=True)
    customer_restore(actor=user, customer=customer, version=version)
    return _customer_answer(user, customer.pk)


@router.get(
    "/customers/{customer_id}/history",
    response={200: HistoryPageOut},
    summary="The customer's audit trail, newest first",
)
def customer_history_api(request: HttpRequest, customer_id: ParamInt, params: Query[PageParams]):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id)
    page = paginate(audit_history(customer), page=params.page, size=params.page_size)
    can_view = _can_view_contact(user)
    items = [
        {
            "id": entry.pk,
            "action": entry.action,
            "action_label": str(entry.get_action_display()),
            "actor_id": entry.actor_id,
            "actor_name": entry.actor.display_name if entry.actor else entry.actor_name,
            "created_at": entry.created_at,
            "changes": [
                _change_out(c, can_view_contact=can_view)
                for c in (entry.changes or [])
                if isinstance(c, dict)
            ],
            "request_id": entry.request_id,
        }
        for entry in page.items
    ]
    return page_envelope(request, page, items)


@router.get(
    "/customers/{customer_id}/timeline",
    response={200: TimelinePageOut},
    summary="The customer's timeline, newest first",
    description=(
        "One list of what happened with the customer (CUS-11): its creation and changes, "
        "transfers, contacts, follow-ups, opportunities and their stage changes, wins, losses "
        "and milestones, files. Only lines the caller's data scope covers in the line's module "
        "are listed (a colleague's opportunity on a shared customer stays hidden). `text` and "
        "`kind_label` are in the request's language; phone numbers and emails in `text` are "
        "masked without the view-contact permission. Filter with `kind` (repeated or "
        "comma-separated; a code no module registered is refused with 422). Pages by `page`, "
        "`next`/`previous` links, no total."
    ),
)
def customer_timeline_api(
    request: HttpRequest, customer_id: ParamInt, params: Query[TimelineParams]
):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id)
    kinds, unknown = timeline_kinds_clean(params.kind)
    if unknown:
        raise ValidationFailed(
            fields={
                "kind": [
                    _("Unknown kind: %(kinds)s.")
                    % {"kinds": ", ".join(k[:40] for k in unknown[:5])}
                ]
            }
        )
    page = timeline_for_customer(
        user=user, customer=customer, kinds=kinds, page=params.page, size=params.page_size
    )
    items = [
        {
            "id": item.id,
            "kind": item.kind,
            "kind_label": item.kind_label,
            "at": item.at,
            "actor_id": item.actor_id,
            "actor_name": item.actor_name,
            "text": item.text,
            "object_type": item.object_type,
            "object_id": item.object_id,
        }
        for item in page.items
    ]
    envelope = page_envelope(request, page, items)
    if page.has_previous:
        query = request.GET.copy()
        query["page"] = str(page.number - 1)
        query["page_size"] = str(page.size)
        envelope["previous"] = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    else:
        envelope["previous"] = None
    return envelope


# --- contacts (CUS-3) -----------------------------------------------------------------------


@router.get(
    "/customers/{customer_id}/contacts",
    response={200: ContactPageOut},
    summary="The customer's contacts, primary first",
    tags=["contacts"],
)
def contact_list_api(request: HttpRequest, customer_id: ParamInt, params: Query[PageParams]):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id)
    page = paginate(
        customer.contacts.order_by("-is_primary", "id"), page=params.page, size=params.page_size
    )
    can_view = _can_view_contact(user)
    items = [contact_out(c, can_view_contact=can_view) for c in page.items]
    return page_envelope(request, page, items)


@router.post(
    "/customers/{customer_id}/contacts",
    response={201: ContactOut, **errors(409)},
    summary="Add a contact",
    description="Marking it primary makes the previous primary contact an ordinary one.",
    tags=["contacts"],
)
def contact_create_api(request: HttpRequest, customer_id: ParamInt, payload: ContactIn):
    user = request.auth
    _require_view(user)
    customer = _customer_read(user, customer_id)
    contact = contact_create(actor=user, customer=customer, data=payload.model_dump())
    return Status(201, contact_out(contact, can_view_contact=_can_view_contact(user)))


@router.patch(
    "/contacts/{contact_id}",
    response={200: ContactOut},
    summary="Change some fields of a contact",
    tags=["contacts"],
)
def contact_update_api(request: HttpRequest, contact_id: ParamInt, payload: ContactPatch):
    user = request.auth
    _require_view(user)
    contact = contact_get(user=user, contact_id=id_checked(contact_id))
    contact = contact_update(
        actor=user, contact=contact, data=payload.model_dump(exclude_unset=True)
    )
    return contact_out(contact, can_view_contact=_can_view_contact(user))


@router.delete(
    "/contacts/{contact_id}",
    response={204: None},
    summary="Remove a contact",
    description="An enterprise customer keeps at least one contact (422 otherwise).",
    tags=["contacts"],
)
def contact_delete_api(request: HttpRequest, contact_id: ParamInt):
    user = request.auth
    _require_view(user)
    contact = contact_get(user=user, contact_id=id_checked(contact_id))
    contact_delete(actor=user, contact=contact)
    return Status(204, None)
