"""Personal data in the API (issue 8 §6): reveal a masked phone/email of one record.

POST /api/v1/customers/{id}/reveal, /contacts/{id}/reveal, /leads/{id}/reveal with
{"field": "phone"|"email"} -> {"field", "value"}; logged, rate limited (429).
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Router
from pydantic import Field

from crm.core.api import InputSchema, OutSchema, ParamInt, errors, id_checked
from crm.privacy.services import contact_reveal

router = Router(tags=["personal data"])


class RevealIn(InputSchema):
    field: Literal["phone", "email"] = Field(description="Which value to reveal.")


class RevealOut(OutSchema):
    field: str
    value: str = Field(description="The value in clear (empty when the record has none).")


REVEAL_DESCRIPTION = (
    "Needs customers/view_contact (403) and the record in the caller's data scope (404). "
    "Every call is logged (audit action `reveal`: who, when, record, field, address) and "
    "counted: over Settings → System rules' hourly limit, 429 and the administrators are told."
)


def _reveal(request: HttpRequest, kind: str, record_id: int, payload: RevealIn) -> dict[str, str]:
    value = contact_reveal(
        actor=request.auth, kind=kind, record_id=id_checked(record_id), field=payload.field
    )
    return {"field": payload.field, "value": value}


@router.post(
    "/customers/{customer_id}/reveal",
    response={200: RevealOut, **errors(429)},
    summary="Reveal a customer's phone or email",
    description=REVEAL_DESCRIPTION,
)
def customer_reveal_api(request: HttpRequest, customer_id: ParamInt, payload: RevealIn):
    return _reveal(request, "customer", customer_id, payload)


@router.post(
    "/contacts/{contact_id}/reveal",
    response={200: RevealOut, **errors(429)},
    summary="Reveal a contact's phone or email",
    description=REVEAL_DESCRIPTION,
)
def contact_reveal_api(request: HttpRequest, contact_id: ParamInt, payload: RevealIn):
    return _reveal(request, "contact", contact_id, payload)


@router.post(
    "/leads/{lead_id}/reveal",
    response={200: RevealOut, **errors(429)},
    summary="Reveal a lead's phone or email",
    description=REVEAL_DESCRIPTION,
)
def lead_reveal_api(request: HttpRequest, lead_id: ParamInt, payload: RevealIn):
    return _reveal(request, "lead", lead_id, payload)
