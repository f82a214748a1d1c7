"""Custom fields in a module's create/edit form: generated fields appended to the form.

A module's form calls, in its __init__, `custom_form_fields_add(self, module=..., current=...)`
and, in its service_data, `data["custom"] = custom_form_values(self)`. The generated fields are
named `custom.<key>`, the service's error names, so the form's usual attach_errors puts each
message at its field; the template includes "customfields/_form_section.html".

Like the module's other form fields they only collect text: every rule is the service's
(crm.core.customfields.custom_values_clean), with the same messages as the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.core.customfields import FieldDef, Type, custom_fields_active, custom_users_names

PREFIX = "custom."


class _Codes(forms.MultipleChoiceField):
    """Checkboxes of a multiple choice; the service checks the codes (with its messages)."""

    def validate(self, value: Any) -> None:
        return None


def _date_lang() -> str:
    return "zh-CN" if (get_language() or "zh").startswith("zh") else "en"


def _active_users() -> list[tuple[Any, str]]:
    from django.contrib.auth import get_user_model

    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .only("id", "username", "full_name", "first_name", "last_name")
    )
    return [(u.pk, u.display_name) for u in users.order_by("username")]


def _initial(field: FieldDef, value: Any) -> Any:
    if value is None:
        return [] if field.type == Type.MULTICHOICE else ""
    if field.type == Type.BOOL:
        return "true" if value is True else "false"
    if field.type == Type.DATETIME:
        moment = parse_datetime(str(value))
        return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M") if moment else value
    return value


def _form_field(field: FieldDef, current: Any, users: list[tuple[Any, str]] | None) -> Any:
    kind = field.type
    attrs: dict[str, Any] = {"id": f"id_custom_{field.key}"}
    if kind == Type.TEXTAREA:
        widget: forms.Widget = forms.Textarea(attrs={**attrs, "rows": 3})
    elif kind in (Type.CHOICE, Type.BOOL, Type.USER):
        if kind == Type.CHOICE:
            choices = field.options()
            if current and current not in {c for c, _l in choices}:
                # A retired option stays selectable on the record that has it.
                from crm.core.dictionaries import dictionary_label

                choices.append((current, dictionary_label(field.dictionary_kind, current)))
        elif kind == Type.BOOL:
            choices = [("true", _("Yes")), ("false", _("No"))]
        else:
            choices = list(users or [])
            if current and current not in {pk for pk, _n in choices}:
                choices.append((current, custom_users_names([current]).get(current, current)))
        widget = forms.Select(attrs=attrs, choices=[("", _("— not set —")), *choices])
    elif kind == Type.MULTICHOICE:
        choices = field.options()
        known = {c for c, _l in choices}
        for code in current or []:
            if code not in known:
                from crm.core.dictionaries import dictionary_label

                choices.append((code, dictionary_label(field.dictionary_kind, code)))
        result = _Codes(
            label=field.display_label,
            required=False,
            choices=choices,
            widget=forms.CheckboxSelectMultiple(attrs=attrs),
        )
        return result
    elif kind == Type.DATE:
        widget = forms.DateInput(
            attrs={**attrs, "type": "date", "lang": _date_lang(), "placeholder": "YYYY-MM-DD"}
        )
    elif kind == Type.DATETIME:
        widget = forms.DateTimeInput(attrs={**attrs, "type": "datetime-local"})
    elif kind in (Type.INTEGER, Type.DECIMAL):
        mode = "numeric" if kind == Type.INTEGER else "decimal"
        widget = forms.TextInput(attrs={**attrs, "inputmode": mode})
    elif kind == Type.PHONE:
        widget = forms.TextInput(attrs={**attrs, "type": "tel", "inputmode": "tel"})
    elif kind == Type.EMAIL:
        widget = forms.EmailInput(attrs=attrs)
    elif kind == Type.URL:
        widget = forms.URLInput(attrs={**attrs, "placeholder": "https://"})
    else:
        widget = forms.TextInput(attrs={**attrs, "maxlength": 200})
    return forms.CharField(label=field.display_label, required=False, widget=widget)


def custom_form_fields_add(
    form: forms.Form, *, module: str, current: dict[str, Any] | None = None
) -> list[str]:
    """Append a field per active custom field of `module` to `form` (in position order).

    `current`: the record's stored values (an edit), the unbound form's initial values.
    Returns the names added; `form.custom_fields` keeps (name, FieldDef) pairs for templates.
    """
    current = current or {}
    defs = custom_fields_active(module)
    users = _active_users() if any(f.type == Type.USER for f in defs) else None
    added: list[tuple[str, FieldDef]] = []
    for field in defs:
        name = PREFIX + field.key
        form_field = _form_field(field, current.get(field.key), users)
        if form.prefix:  # several forms on one page (a customer's contacts): unique ids
            form_field.widget.attrs["id"] = f"id_{form.prefix}-custom_{field.key}"
        form_field.help_text = field.help
        form_field.required_mark = field.required
        if field.required:
            form_field.widget.attrs.setdefault("aria-required", "true")
        form.fields[name] = form_field
        if not form.is_bound:
            form.initial[name] = _initial(field, current.get(field.key))
        added.append((name, field))
    form.custom_fields = added
    return [name for name, _f in added]


def custom_form_values(form: forms.Form) -> dict[str, Any]:
    """The `custom` dict for the service: every active field of the form, empty ones as ''
    (a whole form: emptying a field clears it, and required fields are checked)."""
    values: dict[str, Any] = {}
    for name, field in getattr(form, "custom_fields", []):
        raw = form.cleaned_data.get(name)
        values[field.key] = raw if raw is not None else ""
    return values


def custom_form_bound_fields(form: forms.Form) -> list[Any]:
    """The bound fields of the custom fields, for templates."""
    return [form[name] for name, _f in getattr(form, "custom_fields", [])]


def custom_form_initial(module: str, custom: dict[str, Any] | None) -> dict[str, Any]:
    """{"custom.<key>": the form's text for the stored value} of every active field: merged
    into a module's `initial_from`, so an edit sends only the custom fields the user changed
    (compared like the built-in ones) and a re-rendered form keeps the others."""
    custom = custom or {}
    return {PREFIX + f.key: _initial(f, custom.get(f.key)) for f in custom_fields_active(module)}


def custom_data_fold(data: dict[str, Any]) -> dict[str, Any]:
    """A form's service data with its flat `custom.<key>` entries folded into the `custom`
    dict the services take (no `custom` at all when none is left: nothing changed)."""
    out: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(name, str) and name.startswith(PREFIX):
            custom[name.removeprefix(PREFIX)] = "" if value is None else value
        else:
            out[name] = value
    if custom:
        out["custom"] = custom
    return out


def _as_set(value: Any) -> set[str]:
    if isinstance(value, (list, tuple)):
        return {str(i) for i in value}
    return {str(value)} if value not in (None, "") else set()


def custom_same(a: Any, b: Any) -> bool:
    """Whether two form values are the same (lists of codes compared as sets)."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return _as_set(a) == _as_set(b)
    return str(a if a is not None else "") == str(b if b is not None else "")
