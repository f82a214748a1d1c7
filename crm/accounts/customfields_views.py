"""Settings → Custom fields (SYS-1, issue 8 §1): an administrator's page per module.

Administrators only (`settings.configure`). Every write goes through
crm.core.customfields_services (custom_field_save / custom_field_retire /
custom_fields_reorder), which validate, audit and bump the configuration stamp.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm.accounts.settings_views import configure_required
from crm.core.customfields import CHOICE_TYPES, custom_module_label, custom_modules, plain_number
from crm.core.customfields_services import (
    custom_field_retire,
    custom_field_save,
    custom_fields_reorder,
)
from crm.core.dictionaries import dictionary_items
from crm.core.errors import ConflictError, ValidationFailed
from crm.core.models import CustomField
from crm.web.views_support import render_page

BLANK_OPTION_ROWS = 4
OPTIONS_LIMIT = 200


def _module_or_404(module: str) -> str:
    if module not in custom_modules():
        raise Http404
    return module


def _modules_nav(active: str) -> list[dict[str, Any]]:
    return [
        {"code": code, "label": custom_module_label(code), "active": code == active}
        for code in custom_modules()
    ]


def _text(label: Any, widget: forms.Widget | None = None) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=widget)


class CustomFieldForm(forms.Form):
    """One field's definition; only collects text, every rule is custom_field_save's."""

    key = _text(gettext_lazy("Key"), forms.TextInput(attrs={"maxlength": 20}))
    label = _text(gettext_lazy("Label (Chinese)"), forms.TextInput(attrs={"maxlength": 60}))
    label_en = _text(gettext_lazy("Label (English)"), forms.TextInput(attrs={"maxlength": 60}))
    type = _text(gettext_lazy("Type"), forms.Select(choices=[("", "—"), *CustomField.Type.choices]))
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False)
    help = _text(gettext_lazy("Help text"), forms.TextInput(attrs={"maxlength": 200}))
    position = _text(gettext_lazy("Position"), forms.TextInput(attrs={"inputmode": "numeric"}))
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
    show_in_list = forms.BooleanField(label=gettext_lazy("Show in list"), required=False)
    min_value = _text(gettext_lazy("Minimum"), forms.TextInput(attrs={"inputmode": "decimal"}))
    max_value = _text(gettext_lazy("Maximum"), forms.TextInput(attrs={"inputmode": "decimal"}))

    def __init__(self, *args: Any, field: CustomField | None = None, **kwargs: Any) -> None:
        if field is not None:
            kwargs.setdefault(
                "initial",
                {
                    "key": field.key,
                    "label": field.label,
                    "label_en": field.label_en,
                    "type": field.type,
                    "required": field.required,
                    "help": field.help,
                    "position": field.position,
                    "is_active": field.is_active,
                    "show_in_list": field.show_in_list,
                    "min_value": "" if field.min_value is None else plain_number(field.min_value),
                    "max_value": "" if field.max_value is None else plain_number(field.max_value),
                },
            )
        super().__init__(*args, **kwargs)
        if field is not None:  # fixed once created: stored values use both
            for name in ("key", "type"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("Fixed once the field is created.")
        else:
            self.fields["key"].help_text = _(
                "Up to 20 lower-case letters, digits and underscores; the API and imports use it."
            )
        self.fields["min_value"].help_text = _("Integer and decimal fields only.")
        self.fields["show_in_list"].help_text = _(
            "A column on the module's list, and a filter in its filter panel."
        )
        self.fields["position"].help_text = _("Smaller comes first; empty: at the end.")
        for name in ("key", "label", "type"):
            self.fields[name].required_mark = True
            self.fields[name].widget.attrs.setdefault("aria-required", "true")

    def attach_errors(self, errors: dict[str, list[Any]]) -> list[str]:
        other: list[str] = []
        for name, msgs in errors.items():
            if name in self.fields and not self.fields[name].disabled:
                for message in msgs:
                    self.add_error(name, str(message))
            elif not name.startswith("options"):
                other.extend(str(m) for m in msgs)
        return other


def _option_rows(request: HttpRequest, field: CustomField | None) -> list[dict[str, Any]]:
    """The options' editable rows: those posted, or the field's active options + blanks."""
    if request.method == "POST":
        codes = request.POST.getlist("option_code")[:OPTIONS_LIMIT]
        labels = request.POST.getlist("option_label")
        labels_en = request.POST.getlist("option_label_en")
        rows = [
            {
                "code": code.strip(),
                "label": (labels[i] if i < len(labels) else "").strip(),
                "label_en": (labels_en[i] if i < len(labels_en) else "").strip(),
                "errors": {},
            }
            for i, code in enumerate(codes)
        ]
    else:
        rows = []
        if field is not None and field.type in CHOICE_TYPES:
            rows = [
                {"code": i.code, "label": i.label, "label_en": i.label_en, "errors": {}}
                for i in dictionary_items(field.dictionary_kind)
            ]
    filled = [r for r in rows if r["code"] or r["label"] or r["label_en"]]
    if request.method == "POST":
        rows = filled
    stored = _stored_codes(field)
    for row in rows:
        row["fixed"] = bool(row["code"]) and row["code"] in stored
    return rows + [
        {"code": "", "label": "", "label_en": "", "errors": {}, "fixed": False}
        for _i in range(BLANK_OPTION_ROWS)
    ]


def _stored_codes(field: CustomField | None) -> set[str]:
    if field is None or field.type not in CHOICE_TYPES:
        return set()
    return {i.code for i in dictionary_items(field.dictionary_kind, include_inactive=True)}


def _form_page(request: HttpRequest, module: str, field: CustomField | None) -> HttpResponse:
    form = CustomFieldForm(request.POST if request.method == "POST" else None, field=field)
    rows = _option_rows(request, field)
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        form.is_valid()
        data = {k: v for k, v in form.cleaned_data.items() if not form.fields[k].disabled}
        if field is None:
            data["module"] = module
        kind = field.type if field is not None else str(data.get("type") or "")
        sent = [r for r in rows if r["code"] or r["label"] or r["label_en"]]
        if kind in CHOICE_TYPES:
            data["options"] = [
                {"code": r["code"], "label": r["label"], "label_en": r["label_en"]} for r in sent
            ]
        try:
            if kind in CHOICE_TYPES and not sent:
                raise ValidationFailed(
                    fields={"options": [_("A choice field needs at least one option.")]}
                )
            saved = custom_field_save(actor=request.user, data=data, field=field)
        except (ValidationFailed, ConflictError) as exc:
            fields = getattr(exc, "fields", None) or {}
            errors = form.attach_errors(fields)
            for name, msgs in fields.items():
                parts = name.split(".")
                if name == "options":
                    form.options_errors = [str(m) for m in msgs]
                elif len(parts) == 3 and parts[0] == "options" and parts[1].isdigit():
                    index = int(parts[1])
                    if index < len(sent):
                        sent[index]["errors"][parts[2]] = [str(m) for m in msgs]
            if not fields:
                errors.append(str(exc))
            status = 422
        else:
            messages.success(request, _("Custom field %(label)s saved.") % {"label": saved.label})
            return redirect("custom_fields:module", module=module)
    context = {
        "form": form,
        "field": field,
        "module": module,
        "module_label": custom_module_label(module),
        "section": "custom_fields",
        "errors": errors,
        "options_errors": getattr(form, "options_errors", []),
        "option_rows": rows,
        "choice_types": list(CHOICE_TYPES),
    }
    return render_page(request, "customfields/settings/field_form.html", context, status=status)


@configure_required
def custom_fields_index(request: HttpRequest) -> HttpResponse:
    return redirect("custom_fields:module", module=next(iter(custom_modules())))


@configure_required
def custom_fields_module_view(request: HttpRequest, module: str) -> HttpResponse:
    module = _module_or_404(module)
    fields = list(CustomField.objects.filter(module=module).order_by("position", "id"))
    options = {}
    for f in fields:
        if f.type in CHOICE_TYPES:
            options[f.pk] = "、".join(i.display_label for i in dictionary_items(f.dictionary_kind))
    rows = [{"field": f, "options": options.get(f.pk, "")} for f in fields]
    context = {
        "section": "custom_fields",
        "module": module,
        "module_label": custom_module_label(module),
        "modules": _modules_nav(module),
        "rows": rows,
    }
    return render_page(request, "customfields/settings/fields.html", context)


@configure_required
@require_http_methods(["GET", "POST"])
def custom_field_create_view(request: HttpRequest, module: str) -> HttpResponse:
    return _form_page(request, _module_or_404(module), None)


@configure_required
@require_http_methods(["GET", "POST"])
def custom_field_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk)
    return _form_page(request, _module_or_404(field.module), field)


def _errors_text(exc: Any) -> str:
    fields = getattr(exc, "fields", None) or {}
    return " ".join(str(m) for msgs in fields.values() for m in msgs) or str(exc)


@configure_required
@require_POST
def custom_field_retire_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk)
    try:
        custom_field_retire(actor=request.user, field=field)
    except (ValidationFailed, ConflictError) as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(
            request,
            _("%(label)s is retired: hidden from forms, lists and the API; its values are kept.")
            % {"label": field.label},
        )
    return redirect("custom_fields:module", module=field.module)


@configure_required
@require_POST
def custom_field_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk)
    try:
        custom_field_save(actor=request.user, field=field, data={"is_active": True})
    except (ValidationFailed, ConflictError) as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, _("%(label)s is active again.") % {"label": field.label})
    return redirect("custom_fields:module", module=field.module)


def _ids(values: Any) -> list[int]:
    out: list[int] = []
    for value in values if isinstance(values, list) else []:
        text = str(value).strip()
        if text.isascii() and text.isdigit() and len(text) < 19:
            out.append(int(text))
    return out


@configure_required
@require_POST
def custom_fields_reorder_view(request: HttpRequest, module: str) -> HttpResponse:
    """The drag-and-drop order (JSON {"ordered_ids": [...]}), or the up/down buttons
    (ordered_ids=... in the current order, and move=<id>:up|down)."""
    module = _module_or_404(module)
    as_json = request.content_type == "application/json"
    if as_json:
        try:
            ids = _ids(json.loads(request.body or b"{}").get("ordered_ids", []))
        except (ValueError, AttributeError):
            ids = []
    else:
        ids = _ids(request.POST.getlist("ordered_ids"))
        move = request.POST.get("move", "")
        pk, _sep, direction = move.partition(":")
        if pk.isdigit() and int(pk) in ids and direction in ("up", "down"):
            i = ids.index(int(pk))
            j = i - 1 if direction == "up" else i + 1
            if 0 <= j < len(ids):
                ids[i], ids[j] = ids[j], ids[i]
    custom_fields_reorder(actor=request.user, module=module, ids=ids)
    if as_json:
        return JsonResponse({"ok": True, "message": _("The new order is saved.")})
    messages.success(request, _("The new order is saved."))
    return redirect("custom_fields:module", module=module)
