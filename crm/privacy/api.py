"""Personal data in the API (issue 8 §6): reveal a masked phone/email of one record.

POST /api/v1/customers/{id}/reveal, /contacts/{id}/reveal, /leads/{id}/reveal with
{"field": "phone"|"email"} -> {"field", "value"}; logged, rate limited (429).
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router
from pydantic import AfterValidator, Field, StrictBool
from pydantic_core import PydanticCustomError

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


# --- data-subject requests ------------------------------------------------------------------

Kind = Literal["customer", "contact", "lead"]


def _must_be_true(value: bool) -> bool:
    # Literal[True] let 1 through (1 == True in Python); only the JSON `true` confirms.
    if value is not True:
        raise PydanticCustomError("confirm_required", "Must be true to confirm")
    return value


class AnonymiseIn(InputSchema):
    confirm: Annotated[StrictBool, AfterValidator(_must_be_true)] = Field(
        description="Must be true: the change cannot be undone."
    )


class AnonymisedOut(OutSchema):
    kind: str
    id: int
    name: str = Field(description="The marker now in place of the name (已匿名化-<id>).")


@router.post(
    "/privacy/{kind}/{record_id}/export",
    response={200: None},
    summary="Export everything held about a person",
    description=(
        "Administrators only (settings/configure, else 403). `kind` customer (individual "
        "only: an enterprise is 422), contact or lead. `format` json (default) or xlsx. "
        "Audited (action personal_export)."
    ),
)
def personal_data_export_api(
    request: HttpRequest, kind: Kind, record_id: ParamInt, format: Literal["json", "xlsx"] = "json"
):
    from crm.privacy.subjects import personal_data

    data = personal_data(actor=request.auth, kind=kind, record_id=id_checked(record_id))
    return personal_data_file(kind, record_id, data, format)


def personal_data_file(kind: str, record_id: int, data: dict, format: str) -> HttpResponse:
    """The export as a download (shared with the web view)."""
    from crm.privacy.subjects import personal_data_json, personal_data_xlsx

    if format == "xlsx":
        body = personal_data_xlsx(data)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body, content_type = personal_data_json(data), "application/json; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="personal-data-{kind}-{record_id}.{format}"'
    )
    response["Cache-Control"] = "no-store"
    return response


@router.post(
    "/privacy/{kind}/{record_id}/anonymise",
    response={200: AnonymisedOut},
    summary="Anonymise a person",
    description=(
        "Administrators only (403). Replaces the person's data everywhere it is held (record, "
        "search keys, audit values, timeline, follow-up texts); history rows stay. An "
        "enterprise customer is not a person: 422 (anonymise its contacts). Audited (action "
        "anonymise)."
    ),
)
def personal_data_anonymise_api(
    request: HttpRequest, kind: Kind, record_id: ParamInt, payload: AnonymiseIn
):
    from crm.privacy.subjects import personal_data_anonymise

    record = personal_data_anonymise(actor=request.auth, kind=kind, record_id=id_checked(record_id))
    return {"kind": kind, "id": record.pk, "name": record.name}
