"""Settings → Stages (OPP-2): the administrator's pipeline. Needs `settings.configure`."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.accounts.settings_views import configure_required
from crm.core.errors import ConflictError, ValidationFailed
from crm.sales.forms import StageForm
from crm.sales.models import Opportunity, Stage
from crm.sales.services import (
    stage_create,
    stage_delete,
    stage_reactivate,
    stage_retire,
    stage_update,
    stages_reorder,
)
from crm.web.views_support import render_page


def _errors_text(exc: Any) -> str:
    return " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)


@configure_required
def stages_view(request: HttpRequest) -> HttpResponse:
    from django.db.models import Count, Q

    stages = list(
        Stage.objects.annotate(
            live=Count("opportunities", filter=Q(opportunities__deleted_at__isnull=True))
        ).order_by("position", "id")
    )
    return render_page(
        request,
        "sales/settings/stages.html",
        {"stages": stages, "section": "stages"},
    )


def _form_page(request: HttpRequest, stage: Stage | None) -> HttpResponse:
    form = StageForm(request.POST if request.method == "POST" else None, stage=stage)
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        form.is_valid()
        try:
            if stage is None:
                saved = stage_create(actor=request.user, data=form.cleaned_data)
            else:
                saved = stage_update(actor=request.user, stage=stage, data=form.cleaned_data)
        except ValidationFailed as exc:
            errors = form.attach_errors(exc.fields)
            status = 422
        else:
            messages.success(request, _("Stage %(name)s saved.") % {"name": saved.name})
            return redirect("stages:list")
    in_use = stage is not None and Opportunity.objects.filter(stage=stage).exists()
    context = {
        "form": form,
        "stage": stage,
        "section": "stages",
        "errors": errors,
        "in_use": in_use,
    }
    return render_page(request, "sales/settings/stage_form.html", context, status=status)


@configure_required
@require_http_methods(["GET", "POST"])
def stage_create_view(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@configure_required
@require_http_methods(["GET", "POST"])
def stage_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, get_object_or_404(Stage, pk=pk))


@configure_required
@require_POST
def stages_reorder_view(request: HttpRequest) -> HttpResponse:
    """The drag-and-drop order: a JSON body {"ordered_ids": [...]} from the page's script, or
    form fields ordered_ids=... (one per stage, in order)."""
    ids: Any = request.POST.getlist("ordered_ids")
    if not ids and request.content_type == "application/json":
        try:
            ids = json.loads(request.body or b"{}").get("ordered_ids", [])
        except (ValueError, AttributeError):
            ids = []
    try:
        stages_reorder(actor=request.user, ordered_ids=ids if isinstance(ids, list) else [])
    except ValidationFailed as exc:
        if request.content_type == "application/json":
            return JsonResponse(
                {"error": "validation_failed", "message": _errors_text(exc)}, status=422
            )
        messages.error(request, _errors_text(exc))
        return redirect("stages:list")
    if request.content_type == "application/json":
        return JsonResponse({"ok": True, "message": _("The new order is saved.")})
    messages.success(request, _("The new order is saved."))
    return redirect("stages:list")


def _action(request: HttpRequest, pk: int, func: Any, message: str) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=pk)
    try:
        func(actor=request.user, stage=stage)
    except (ValidationFailed, ConflictError) as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, message % {"name": stage.name})
    return redirect("stages:list")


@configure_required
@require_POST
def stage_retire_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, stage_retire, _("%(name)s is retired: offered for nothing new."))


@configure_required
@require_POST
def stage_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, stage_reactivate, _("%(name)s is active again."))


@configure_required
@require_POST
def stage_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, stage_delete, _("%(name)s has been deleted."))
