"""The public page of a web form, `/f/<key>/` (LEAD-1; issue 7 §2).

Open to anyone: no login, no session, no CSRF cookie (the signed `_t` token of the page takes
the CSRF token's place: a submission must come from a page this server drew, at least the
minimum fill time earlier). Only this page may be framed (it is embedded on the company's
site), under a strict content security policy of its own: no script at all, styles and forms
from this server only. It shows nothing but the form's own fields and thank-you text.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crm.core.dictionaries import dictionary_choices
from crm.core.errors import NotFoundError, ValidationFailed
from crm.core.net import client_address
from crm.leads.models import WebForm
from crm.leads.webforms import (
    HONEYPOT,
    MAX_BODY_BYTES,
    TEXT_LIMITS,
    TOKEN,
    SubmissionLimited,
    SubmissionRefused,
    field_label,
    retry_after_seconds,
    web_form_public_get,
    web_form_submit,
    web_form_thank_you,
    web_form_token,
)

# The page's own policy: nothing but this server's stylesheet and its own form; framed by
# any site (the company's, wherever it is hosted).
PUBLIC_CSP = {
    "default-src": [CSP.NONE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "frame-ancestors": ["*"],
}
INPUT_TYPES = {"phone": "tel", "email": "email", "budget": "text"}


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except (TypeError, ValueError):
        return 0


def _fields(form: WebForm, values: dict[str, Any], errors: dict[str, list[str]]) -> list[dict]:
    rows = []
    for name in form.fields:
        rows.append(
            {
                "name": name,
                "label": field_label(name),
                "required": name in form.required,
                "type": INPUT_TYPES.get(name, "text"),
                "value": values.get(name) or "",
                "errors": errors.get(name, []),
                "maxlength": TEXT_LIMITS.get(name, 254 if name == "email" else 40),
                "choices": dictionary_choices("region") if name == "region" else None,
                "multiline": name == "requirement",
            }
        )
    return rows


def _page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)
    return response


def _refused(request: HttpRequest, form: WebForm | None, status: int) -> HttpResponse:
    return _page(
        request,
        "leads/webforms/public_refused.html",
        {"form": form, "limited": status == 429, "status": status},
        status=status,
    )


@csrf_exempt
@xframe_options_exempt
@csp_override(PUBLIC_CSP)
@require_http_methods(["GET", "POST"])
def webform_public_view(request: HttpRequest, key: str) -> HttpResponse:
    try:
        form = web_form_public_get(key)
    except NotFoundError:
        return _page(request, "leads/webforms/public_missing.html", {}, status=404)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    token = ""
    status = 200
    if request.method == "POST":
        if declared_length(request) > MAX_BODY_BYTES:
            return _refused(request, form, 400)
        data = {name: request.POST.get(name) for name in request.POST}
        try:
            web_form_submit(form=form, data=data, ip=client_address(request))
        except SubmissionRefused:
            return _refused(request, form, 400)
        except SubmissionLimited:
            response = _refused(request, form, 429)
            response["Retry-After"] = str(retry_after_seconds())
            return response
        except NotFoundError:
            return _page(request, "leads/webforms/public_missing.html", {}, status=404)
        except ValidationFailed as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.fields.items()}
            values = {name: str(data.get(name) or "") for name in form.fields}
            # The page keeps the token it was drawn with: the fill time runs from then.
            token = str(data.get(TOKEN) or "")
            status = 422
        else:
            return _page(
                request,
                "leads/webforms/public_done.html",
                {"form": form, "thank_you": web_form_thank_you(form)},
            )
    other = [m for k, msgs in errors.items() if k not in form.fields for m in msgs]
    context = {
        "form": form,
        "fields": _fields(form, values, errors),
        "other_errors": other,
        "token": token or web_form_token(form=form, at=timezone.now()),
        "token_name": TOKEN,
        "honeypot": HONEYPOT,
    }
    return _page(request, "leads/webforms/public.html", context, status=status)
