"""Settings → Lead assignment (LEAD-4): the administrator's ordered rules. Needs
`settings.configure`."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.accounts.settings_views import configure_required
from crm.core.dictionaries import dictionary_labels
from crm.core.errors import ConflictError, NotFoundError, ValidationFailed
from crm.leads.assignment import (
    rule_create,
    rule_delete,
    rule_is_fallback,
    rule_move,
    rule_set_active,
    rule_update,
    rules_reorder,
)
from crm.leads.forms_assign import RuleForm
from crm.leads.models import AssignmentRule
from crm.web.views_support import render_page


def _errors_text(exc: Any) -> str:
    return " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)


@configure_required
def rules_view(request: HttpRequest) -> HttpResponse:
    rules = list(
        AssignmentRule.objects.select_related("user", "department", "last_user").order_by(
            "position", "id"
        )
    )
    labels = dictionary_labels()
    for rule in rules:
        rule.fallback = rule_is_fallback(rule)
        rule.source_label = labels.get(("source", rule.match_source), rule.match_source)
        rule.region_label = labels.get(("region", rule.match_region), rule.match_region)
    return render_page(
        request, "leads/settings/rules.html", {"rules": rules, "section": "lead_rules"}
    )


def _form_page(request: HttpRequest, rule: AssignmentRule | None) -> HttpResponse:
    form = RuleForm(request.POST if request.method == "POST" else None, rule=rule)
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        form.is_valid()
        try:
            data = form.data_for_service()
            if rule is None:
                saved = rule_create(actor=request.user, data=data)
            else:
                saved = rule_update(actor=request.user, rule=rule, data=data)
        except ValidationFailed as exc:
            errors = form.attach_errors(exc.fields)
            status = 422
        else:
            messages.success(request, _("Rule %(name)s saved.") % {"name": saved.name})
            return redirect("lead_rules:list")
    context = {"form": form, "rule": rule, "section": "lead_rules", "errors": errors}
    return render_page(request, "leads/settings/rule_form.html", context, status=status)


@configure_required
@require_http_methods(["GET", "POST"])
def rule_create_view(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@configure_required
@require_http_methods(["GET", "POST"])
def rule_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, get_object_or_404(AssignmentRule, pk=pk))


@configure_required
@require_POST
def rules_reorder_view(request: HttpRequest) -> HttpResponse:
    """The drag-and-drop order: a JSON body {"ordered_ids": [...]} from the page's script, or
    form fields ordered_ids=... (one per rule, in order)."""
    ids: Any = request.POST.getlist("ordered_ids")
    is_json = request.content_type == "application/json"
    if not ids and is_json:
        try:
            ids = json.loads(request.body or b"{}").get("ordered_ids", [])
        except (ValueError, AttributeError):
            ids = []
    try:
        rules_reorder(actor=request.user, ordered_ids=ids if isinstance(ids, list) else [])
    except ValidationFailed as exc:
        if is_json:
            return JsonResponse(
                {"error": "validation_failed", "message": _errors_text(exc)}, status=422
            )
        messages.error(request, _errors_text(exc))
        return redirect("lead_rules:list")
    if is_json:
        return JsonResponse({"ok": True, "message": _("The new order is saved.")})
    messages.success(request, _("The new order is saved."))
    return redirect("lead_rules:list")


def _action(request: HttpRequest, pk: int, func: Any, message: str, **kwargs: Any) -> HttpResponse:
    rule = get_object_or_404(AssignmentRule, pk=pk)
    try:
        func(actor=request.user, rule=rule, **kwargs)
    except (ValidationFailed, ConflictError, NotFoundError) as exc:
        messages.error(request, _errors_text(exc))
    else:
        if message:
            messages.success(request, message % {"name": rule.name})
    return redirect("lead_rules:list")


@configure_required
@require_POST
def rule_up_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, rule_move, "", step=-1)


@configure_required
@require_POST
def rule_down_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, rule_move, "", step=1)


@configure_required
@require_POST
def rule_activate_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, rule_set_active, _("%(name)s is active."), active=True)


@configure_required
@require_POST
def rule_deactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(
        request, pk, rule_set_active, _("%(name)s is off: no lead is assigned by it."), active=False
    )


@configure_required
@require_POST
def rule_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, rule_delete, _("%(name)s has been deleted."))
