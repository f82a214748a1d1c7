"""`POST /api/v1/public/forms/{key}/submit`: a web form's public JSON endpoint (issue 7 §2, §7).

No authentication and no CSRF token (nobody's session is used: it acts for no user); JSON or
form-encoded. It answers only whether the submission was taken, never any other data.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from crm.core.api import errors
from crm.core.net import client_address
from crm.leads.public_views import declared_length
from crm.leads.webforms import (
    FORM_FIELDS,
    HONEYPOT,
    MAX_BODY_BYTES,
    TOKEN,
    SubmissionLimited,
    SubmissionRefused,
    retry_after_seconds,
    web_form_public_get,
    web_form_submit,
    web_form_thank_you,
)

router = Router(tags=["public web forms"])


class SubmittedOut(Schema):
    ok: bool
    message: str


_BODY_SCHEMA = {
    "type": "object",
    "properties": {
        **{name: {"type": "string"} for name in FORM_FIELDS},
        HONEYPOT: {"type": "string", "description": "Honeypot: leave it out or empty."},
        TOKEN: {
            "type": "string",
            "description": "The signed token of the form's page (optional here; checked when "
            "sent).",
        },
    },
    "additionalProperties": True,
}


def _body(request: HttpRequest) -> dict[str, Any]:
    """The submitted fields, from JSON or a form; anything else is refused (400)."""
    if declared_length(request) > MAX_BODY_BYTES:
        raise SubmissionRefused()
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise SubmissionRefused() from None
        if not isinstance(data, dict):
            raise SubmissionRefused()
        return data
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request.FILES:
            raise SubmissionRefused()
        return {name: request.POST.get(name) for name in request.POST}
    raise SubmissionRefused()


@router.post(
    "/public/forms/{key}/submit",
    auth=None,
    response={201: SubmittedOut, **errors(400, 404, 413, 422, 429)},
    summary="Submit a web form (public)",
    description=(
        "Creates a lead with the form's fields and the form's source and grade. No "
        "authentication and no CSRF token. Send the fields the form asks (JSON object or "
        "form-encoded). Unknown or inactive key: 404. A submission taken for spam: 400, one "
        "over the rate limits: 429, neither saying which check failed. Field errors: 422."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _BODY_SCHEMA},
                "application/x-www-form-urlencoded": {"schema": _BODY_SCHEMA},
            },
        }
    },
)
def web_form_submit_api(request: HttpRequest, key: str):
    form = web_form_public_get(key)
    data = _body(request)
    try:
        web_form_submit(form=form, data=data, ip=client_address(request), token_required=False)
    except SubmissionLimited as exc:
        response = JsonResponse(exc.as_dict(), status=exc.status)
        response["Retry-After"] = str(retry_after_seconds())
        return response
    return Status(201, {"ok": True, "message": web_form_thank_you(form) or _("Thank you.")})
