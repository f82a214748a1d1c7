"""The public pool's API (issue 7 §7): the pool list, claim, release.

A pool customer is answered as GET /customers/{id} answers a customer, with every phone
number and email address masked (nobody's scope covers a customer without an owner); a claim
answers with the customer as its new owner reads it.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from crm.core.api import (
    InputSchema,
    IsoDate,
    PageParams,
    ParamInt,
    Text,
    errors,
    id_checked,
    page_envelope,
)
from crm.core.dictionaries import dictionary_labels
from crm.core.errors import PermissionDeniedError
from crm.core.masking import contact_details_shown
from crm.core.pagination import paginate
from crm.core.scope import user_can
from crm.customers.api import ANSWER_FIELDS, customer_out
from crm.customers.models import Customer
from crm.customers.pool import PoolFilters, customer_claim, customer_release, pool_list
from crm.customers.schemas import (
    CustomerOut,
    CustomerPageOut,
    CustomerTypeCode,
    GradeCode,
    _empty_is_none,
)
from crm.customers.selectors import contacts_by_customer

router = Router(tags=["pool"])


class PoolListParams(PageParams):
    """The customer list's filters that mean something in the pool (no owner, no sort: the
    pool is listed newest arrivals first), and the days in the pool."""

    q: Text = Field(
        default="",
        max_length=100,
        description="Name fragment, number, phone digits, contact name or pinyin initials.",
    )
    type: Annotated[CustomerTypeCode | None, _empty_is_none] = None
    industry: Text = ""
    grade: Annotated[GradeCode | None, _empty_is_none] = None
    source: Text = ""
    status: Text = ""
    entered_from: Annotated[IsoDate | None, _empty_is_none] = Field(
        default=None, description="In the pool since this day or later (YYYY-MM-DD)."
    )
    entered_to: Annotated[IsoDate | None, _empty_is_none] = Field(
        default=None, description="In the pool since this day or earlier (YYYY-MM-DD)."
    )


class ReleaseIn(InputSchema):
    reason: Text = Field(default="", max_length=500, description="Why; required.")


def _owned_answer(user: Any, customer_id: int) -> dict[str, Any]:
    """The customer as GET /customers/{id} answers it, read after the write (the caller may
    own it now, or no longer)."""
    customer = (
        Customer.objects.prefetch_related("contacts").select_related("owner").get(pk=customer_id)
    )
    return customer_out(customer, can_view_contact=contact_details_shown(user))


@router.get(
    "/pool",
    response={200: CustomerPageOut},
    summary="Customers in the public pool, newest arrivals first",
    description=(
        "Customers without an owner (released, or returned by the pool rules), for users with "
        "the pool's view permission. Filters as `GET /customers` (`q`, `type`, `industry`, "
        "`grade`, `source`, `status`) plus `entered_from`/`entered_to` (days in the pool). "
        "Phone numbers and emails, the customer's and its contacts', are masked until the "
        "customer is claimed. Pages without a total."
    ),
)
def pool_list_api(request: HttpRequest, filters: Query[PoolListParams]):
    user = request.auth
    if not user_can(user, "pool", "view"):
        raise PermissionDeniedError()
    selected = PoolFilters(
        q=filters.q.strip(),
        type=filters.type or "",
        industry=filters.industry.strip(),
        grade=filters.grade or "",
        source=filters.source.strip(),
        status=filters.status.strip(),
        entered_from=filters.entered_from,
        entered_to=filters.entered_to,
    )
    rows = (
        pool_list(user=user, filters=selected)
        .prefetch_related(None)
        .defer(None)
        .only(*ANSWER_FIELDS)
    )
    page = paginate(rows, page=filters.page, size=filters.page_size)
    labels = dictionary_labels()
    contacts = contacts_by_customer([c.pk for c in page.items])
    items = [
        customer_out(c, can_view_contact=False, labels=labels, contacts=contacts.get(c.pk, []))
        for c in page.items
    ]
    return page_envelope(request, page, items)


@router.post(
    "/pool/{customer_id}/claim",
    response={200: CustomerOut, **errors(409)},
    summary="Claim a customer from the public pool",
    description=(
        "Needs the pool's claim permission; the caller becomes the owner and gets the customer "
        "as `GET /customers/{id}` answers it. 409 with `reason`: `limit` (the caller owns "
        "the claim limit of live customers already, Settings → Public pool), `cooldown` (the "
        "caller released or lost this customer within the cool-down days), `claimed` "
        "(someone else claimed it first); `message` says which in words. 404 when it is not "
        "a live customer."
    ),
)
def pool_claim_api(request: HttpRequest, customer_id: ParamInt):
    user = request.auth
    if not user_can(user, "pool", "claim"):
        raise PermissionDeniedError()
    customer = customer_claim(actor=user, customer=id_checked(customer_id))
    return _owned_answer(user, customer.pk)


@router.post(
    "/customers/{customer_id}/release",
    response={200: CustomerOut, **errors(409)},
    summary="Release a customer to the public pool",
    description=(
        "`reason` is required (422 without). The owner may release their customer (with the "
        "edit permission), and so may someone whose transfer permission's data scope covers "
        "the owner. 409 when it is in the pool already. Answers with the customer as it is "
        "now: no owner, `in_pool: true`."
    ),
    tags=["customers"],
)
def customer_release_api(request: HttpRequest, customer_id: ParamInt, payload: ReleaseIn):
    user = request.auth
    if not (user_can(user, "customers", "edit") or user_can(user, "customers", "transfer")):
        raise PermissionDeniedError()
    customer = customer_release(actor=user, customer=id_checked(customer_id), reason=payload.reason)
    return _owned_answer(user, customer.pk)
