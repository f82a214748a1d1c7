"""Custom fields in templates: a module's form section, record card, list cells, filters.

Each is one line in a module's template, e.g. `{% custom_detail_card "customers" customer %}`.
"""

from __future__ import annotations

from typing import Any

from django import template

from crm.core.customfields import (
    RANGE_TYPES,
    FieldDef,
    Type,
    custom_fields_active,
    custom_fields_in_list,
    custom_users_names,
    custom_value_display,
)
from crm.core.customfields_forms import custom_form_bound_fields
from crm.core.masking import mask_email, mask_phone

register = template.Library()


def _contact_shown(context: Any, given: Any) -> bool:
    """Phone and email fields in clear? As the caller says, else the customers' rule
    (crm.core.masking.contact_details_shown) for the page's user, read once per request."""
    if given is not None:
        return bool(given)
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None:
        return True
    shown = getattr(request, "_custom_contact_shown", None)
    if shown is None:
        from crm.core.masking import contact_details_shown

        shown = contact_details_shown(user)
        request._custom_contact_shown = shown
    return shown


def _shown(field: FieldDef, value: Any, users: dict[int, str], can_view_contact: bool) -> str:
    text = custom_value_display(field, value, users=users)
    if not can_view_contact and text:
        if field.type == Type.PHONE:
            return mask_phone(text)
        if field.type == Type.EMAIL:
            return mask_email(text)
    return text


@register.inclusion_tag("customfields/_form_section.html")
def custom_form_section(form: Any) -> dict[str, Any]:
    return {"fields": custom_form_bound_fields(form)}


@register.inclusion_tag("customfields/_detail_card.html", takes_context=True)
def custom_detail_card(
    context: Any, module: str, record: Any, can_view_contact: Any = None
) -> dict[str, Any]:
    """The record page's "Custom fields" card: every active field, "—" when empty."""
    can_view_contact = _contact_shown(context, can_view_contact)
    custom = getattr(record, "custom", None) or {}
    fields = custom_fields_active(module)
    users = custom_users_names(custom.get(f.key) for f in fields if f.type == Type.USER)
    rows = []
    for f in fields:
        value = custom.get(f.key)
        url = value if f.type == Type.URL and isinstance(value, str) else ""
        rows.append(
            {
                "key": f.key,
                "label": f.display_label,
                "value": _shown(f, value, users, can_view_contact),
                "url": url if url.startswith(("http://", "https://")) else "",
                "multiline": f.type == Type.TEXTAREA,
            }
        )
    return {"rows": rows}


@register.simple_tag(takes_context=True)
def custom_cell(
    context: Any,
    field: FieldDef,
    record: Any,
    users: dict[int, str] | None = None,
    can_view_contact: Any = None,
) -> str:
    """One list cell of a custom column (users: custom_list_users(), read once per page)."""
    custom = getattr(record, "custom", None) or {}
    shown = _contact_shown(context, can_view_contact)
    return _shown(field, custom.get(field.key), users or {}, shown)


@register.simple_tag
def custom_list_columns(module: str) -> list[FieldDef]:
    """The module's custom fields shown as list columns (show_in_list)."""
    return custom_fields_in_list(module)


@register.simple_tag
def custom_list_users(module: str, rows: Any) -> dict[int, str]:
    """{id: name} of the users named in a page's user columns: one query for the page."""
    fields = [f for f in custom_fields_in_list(module) if f.type == Type.USER]
    if not fields:
        return {}
    ids = [(getattr(r, "custom", None) or {}).get(f.key) for r in rows for f in fields]
    return custom_users_names(ids)


@register.inclusion_tag("customfields/_filters.html", takes_context=True)
def custom_filter_controls(context: Any, module: str) -> dict[str, Any]:
    """Filter inputs for the list columns among the custom fields (the API and exports take
    every active field; the page offers those shown in the list, to stay short)."""
    request = context.get("request")
    params = request.GET if request is not None else {}
    controls = []
    for f in custom_fields_in_list(module):
        item: dict[str, Any] = {"key": f.key, "label": f.display_label}
        if f.type in RANGE_TYPES:
            item["range"] = True
            item["input_type"] = {"date": "date", "datetime": "date"}.get(f.type, "text")
            item["from"] = str(params.get(f"cf_{f.key}_from", ""))[:40]
            item["to"] = str(params.get(f"cf_{f.key}_to", ""))[:40]
        elif f.type in (Type.CHOICE, Type.MULTICHOICE):
            item["choices"] = f.options()
        elif f.type == Type.BOOL:
            from django.utils.translation import gettext as _

            item["choices"] = [("true", _("Yes")), ("false", _("No"))]
        elif f.type == Type.TEXTAREA:
            continue  # long texts are searched, not matched whole
        elif f.type == Type.USER:
            from crm.core.customfields_forms import _active_users

            item["choices"] = [(str(pk), name) for pk, name in _active_users()]
        item["value"] = str(params.get(f"cf_{f.key}", ""))[:200]
        controls.append(item)
    return {"fields": controls}


@register.simple_tag
def custom_bound_fields(form: Any) -> list[Any]:
    """The form's custom fields, to lay out inside a module's own grid."""
    return custom_form_bound_fields(form)


@register.simple_tag(takes_context=True)
def custom_filled(
    context: Any, module: str, record: Any, can_view_contact: Any = None, list_only: Any = False
) -> list[dict[str, str]]:
    """[{label, value}] of the record's custom fields that have a value (compact cards; with
    `list_only`, only the fields shown in lists)."""
    can_view_contact = _contact_shown(context, can_view_contact)
    custom = getattr(record, "custom", None) or {}
    chosen = custom_fields_in_list(module) if list_only else custom_fields_active(module)
    fields = [f for f in chosen if custom.get(f.key) not in (None, "", [])]
    users = custom_users_names(custom.get(f.key) for f in fields if f.type == Type.USER)
    return [
        {
            "key": f.key,
            "label": f.display_label,
            "value": _shown(f, custom.get(f.key), users, bool(can_view_contact)),
        }
        for f in fields
    ]


@register.simple_tag
def custom_row_controls(module: str, row: Any) -> list[dict[str, Any]]:
    """The custom fields of one row of a repeated section (the contacts of the customer
    create form): what each control needs, with the row's typed values and errors."""
    from django.utils.translation import gettext as _

    values = (row or {}).get("custom") or {}
    errors = (row or {}).get("errors") or {}
    controls = []
    for f in custom_fields_active(module):
        value = values.get(f.key, [] if f.type == Type.MULTICHOICE else "")
        item: dict[str, Any] = {
            "key": f.key,
            "label": f.display_label,
            "help": f.help,
            "required": f.required,
            "value": value,
            "errors": errors.get(f"custom.{f.key}", []),
            "control": "input",
            "input_type": "text",
            "options": [],
        }
        if f.type == Type.TEXTAREA:
            item["control"] = "textarea"
        elif f.type in (Type.CHOICE, Type.BOOL, Type.USER):
            item["control"] = "select"
            if f.type == Type.CHOICE:
                item["options"] = f.options()
            elif f.type == Type.BOOL:
                item["options"] = [("true", _("Yes")), ("false", _("No"))]
            else:
                from crm.core.customfields_forms import _active_users

                item["options"] = [(str(pk), name) for pk, name in _active_users()]
        elif f.type == Type.MULTICHOICE:
            item["control"] = "checkboxes"
            item["options"] = f.options()
        else:
            item["input_type"] = {
                Type.DATE: "date",
                Type.DATETIME: "datetime-local",
                Type.PHONE: "tel",
                Type.EMAIL: "email",
                Type.URL: "url",
            }.get(f.type, "text")
        controls.append(item)
    return controls
