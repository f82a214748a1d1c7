"""Settings → Web forms (LEAD-1): the administrator's public lead forms and their limits.
Needs `settings.configure`, like every settings page."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.accounts.settings_views import configure_required
from crm.core.config import settings_update
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.errors import ConflictError, ValidationFailed
from crm.leads.models import WebForm
from crm.leads.webform_forms import WebFormForm, WebFormLimitsForm
from crm.leads.webforms import field_label as lead_field_label
from crm.leads.webforms import (
    web_form_create,
    web_form_delete,
    web_form_update,
)
from crm.web.views_support import render_page

SECTION = "web_forms"


def _errors_text(exc: Any) -> str:
    return " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)


def _list_page(
    request: HttpRequest, limits: WebFormLimitsForm | None = None, status: int = 200
) -> HttpResponse:
    # "Leads captured" is the form's own counter (kept by web_form_submit): no count over the
    # leads table, however many leads the forms brought in.
    forms_ = list(WebForm.objects.select_related("assignment_rule").order_by("name", "id"))
    for item in forms_:
        item.source_label = dictionary_label("source", item.source)
        item.field_labels = [lead_field_label(n) for n in item.fields]
    context = {
        "web_forms": forms_,
        "limits_form": limits or WebFormLimitsForm(),
        "section": SECTION,
    }
    return render_page(request, "leads/webforms/list.html", context, status=status)


@configure_required
def webforms_view(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@configure_required
@require_POST
def webform_limits_view(request: HttpRequest) -> HttpResponse:
    form = WebFormLimitsForm(request.POST)
    form.is_valid()
    try:
        settings_update(actor=request.user, key="web_form_limits", value=form.service_data())
    except ValidationFailed as exc:
        for message in form.attach_errors(exc.fields):
            form.add_error(None, message)
        return _list_page(request, form, status=422)
    messages.success(request, _("The web forms' limits are saved."))
    return redirect("webforms:list")


def _embed(request: HttpRequest, web_form: WebForm) -> dict[str, str]:
    page = request.build_absolute_uri(reverse("webform_public", args=[web_form.key]))
    endpoint = request.build_absolute_uri(f"/api/v1/public/forms/{web_form.key}/submit")
    regions = dictionary_choices("region")
    examples = {
        "company": "示例科技有限公司",
        "name": "张三",
        "title": "采购经理",
        "phone": "13800000000",
        "email": "zhang@example.com",
        "region": regions[0][0] if regions else "",
        "requirement": "想了解产品报价",
        "budget": "100000",
    }
    sample = {n: examples[n] for n in web_form.fields if n in examples}
    body = json.dumps(sample, ensure_ascii=False)
    return {
        "page": page,
        "endpoint": endpoint,
        "iframe": (
            f'<iframe src="{page}" title="{escape(web_form.name)}" width="100%" height="640" '
            f'style="border:0" loading="lazy"></iframe>'
        ),
        "curl": (
            f"curl -X POST '{endpoint}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'"
        ),
    }


def _form_page(request: HttpRequest, web_form: WebForm | None) -> HttpResponse:
    form = WebFormForm(request.POST if request.method == "POST" else None, web_form=web_form)
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        form.is_valid()
        try:
            if web_form is None:
                saved = web_form_create(actor=request.user, data=form.service_data())
            else:
                saved = web_form_update(actor=request.user, form=web_form, data=form.service_data())
        except ValidationFailed as exc:
            errors = form.attach_errors(exc.fields)
            status = 422
        else:
            messages.success(request, _("Web form %(name)s saved.") % {"name": saved.name})
            return redirect("webforms:edit", pk=saved.pk)
    context = {
        "form": form,
        "web_form": web_form,
        "rows": form.rows(),
        "errors": errors,
        "section": SECTION,
        "embed": _embed(request, web_form) if web_form is not None else None,
        "lead_count": web_form.submissions if web_form else 0,
    }
    return render_page(request, "leads/webforms/form.html", context, status=status)


@configure_required
@require_http_methods(["GET", "POST"])
def webform_create_view(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@configure_required
@require_http_methods(["GET", "POST"])
def webform_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, get_object_or_404(WebForm, pk=pk))


def _set_active(request: HttpRequest, pk: int, active: bool) -> HttpResponse:
    web_form = get_object_or_404(WebForm, pk=pk)
    try:
        web_form_update(actor=request.user, form=web_form, data={"is_active": active})
    except (ValidationFailed, ConflictError) as exc:
        messages.error(request, _errors_text(exc))
    else:
        message = (
            _("%(name)s is active again: its page and endpoint take submissions.")
            if active
            else _("%(name)s is deactivated: its page and endpoint answer “not found”.")
        )
        messages.success(request, message % {"name": web_form.name})
    return redirect("webforms:list")


@configure_required
@require_POST
def webform_deactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, False)


@configure_required
@require_POST
def webform_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, True)


@configure_required
@require_POST
def webform_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    web_form = get_object_or_404(WebForm, pk=pk)
    web_form_delete(actor=request.user, form=web_form)
    messages.success(
        request,
        _("%(name)s has been deleted; the leads it captured stay.") % {"name": web_form.name},
    )
    return redirect("webforms:list")
