"""The custom-fields API (issue 8 §7): read the definitions, administrators manage them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from crm.core.api import ParamBool, ParamInt, Text, errors, id_checked
from crm.core.customfields import CHOICE_TYPES, custom_modules, plain_number
from crm.core.customfields_schemas import CustomFieldIn, CustomFieldOut, CustomFieldPatch
from crm.core.customfields_services import custom_field_retire, custom_field_save
from crm.core.dictionaries import dictionary_items
from crm.core.errors import NotFoundError, ValidationFailed
from crm.core.models import CustomField

router = Router(tags=["custom fields"])


class CustomFieldParams(Schema):
    module: Text = Field(
        max_length=30, description="customers, contacts, leads, opportunities, followups"
    )
    include_retired: ParamBool = Field(default=False, description="Also list retired fields.")


def custom_field_out(field: CustomField) -> dict[str, Any]:
    options = []
    if field.type in CHOICE_TYPES:
        options = [
            {
                "code": i.code,
                "label": i.display_label,
                "label_zh": i.label,
                "label_en": i.label_en,
                "active": i.is_active,
            }
            for i in dictionary_items(field.dictionary_kind, include_inactive=True)
        ]
    return {
        "id": field.pk,
        "module": field.module,
        "key": field.key,
        "label": field.label,
        "label_en": field.label_en,
        "type": field.type,
        "required": field.required,
        "options": options,
        "help": field.help,
        "position": field.position,
        "active": field.is_active,
        "show_in_list": field.show_in_list,
        "min_value": None if field.min_value is None else plain_number(field.min_value),
        "max_value": None if field.max_value is None else plain_number(field.max_value),
    }


def _module_checked(module: str) -> str:
    if module not in custom_modules():
        raise ValidationFailed(
            fields={
                "module": [
                    _("Choose one of: %(modules)s.") % {"modules": ", ".join(custom_modules())}
                ]
            }
        )
    return module


def _field(field_id: int) -> CustomField:
    field = CustomField.objects.filter(pk=id_checked(field_id)).first()
    if field is None:
        raise NotFoundError()
    return field


def _service_data(payload: Any, *, exclude_unset: bool) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=exclude_unset)
    if "active" in data:
        data["is_active"] = data.pop("active")
    if data.get("options") is None:
        data.pop("options", None)
    if data.get("position") is None:
        data.pop("position", None)
    return data


@router.get(
    "/custom-fields",
    response={200: list[CustomFieldOut]},
    summary="The custom fields of a module",
    description=(
        "Active fields in form order (with `include_retired=true` the retired ones too). "
        "Every signed-in user may read them: they describe the `custom` member of the "
        "module's records."
    ),
)
def custom_field_list_api(request: HttpRequest, params: Query[CustomFieldParams]):
    module = _module_checked(params.module.strip())
    fields = CustomField.objects.filter(module=module).order_by("position", "id")
    if not params.include_retired:
        fields = fields.filter(is_active=True)
    return [custom_field_out(f) for f in fields]


@router.post(
    "/custom-fields",
    response={201: CustomFieldOut, **errors(409)},
    summary="Define a custom field (administrators)",
    description=(
        "A key already used in the module (retired fields included): 409 "
        "`custom_field_key_taken`. Choice fields take their `options` here or later."
    ),
)
def custom_field_create_api(request: HttpRequest, payload: CustomFieldIn):
    field = custom_field_save(actor=request.auth, data=_service_data(payload, exclude_unset=False))
    return Status(201, custom_field_out(field))


@router.patch(
    "/custom-fields/{field_id}",
    response={200: CustomFieldOut},
    summary="Change a custom field (administrators)",
    description="Module, key and type are fixed: sending another value is a 422.",
)
def custom_field_update_api(request: HttpRequest, field_id: ParamInt, payload: CustomFieldPatch):
    field = custom_field_save(
        actor=request.auth,
        field=_field(field_id),
        data=_service_data(payload, exclude_unset=True),
    )
    return custom_field_out(field)


@router.delete(
    "/custom-fields/{field_id}",
    response={204: None},
    summary="Retire a custom field (administrators)",
    description=(
        "Retires the field (`active` becomes false): it disappears from forms, lists and the "
        "records' `custom`, and every stored value is KEPT. PATCH `active: true` brings it "
        "back with its values. Nothing is deleted."
    ),
)
def custom_field_delete_api(request: HttpRequest, field_id: ParamInt):
    custom_field_retire(actor=request.auth, field=_field(field_id))
    return Status(204, None)
