"""Custom field definitions for tests, made through the real service."""

from __future__ import annotations

from typing import Any

from crm.core.customfields_services import custom_field_save
from crm.core.models import CustomField

SIZES = [
    {"code": "s", "label": "少于50人", "label_en": "Under 50"},
    {"code": "m", "label": "50-200人", "label_en": "50-200"},
    {"code": "l", "label": "200-1000人", "label_en": "200-1000"},
]


def custom_field_make(
    module: str, key: str, type: str = "text", *, actor: Any = None, **data: Any
) -> CustomField:
    if actor is None:
        from crm.accounts.models import User

        actor = User.objects.filter(username="cf-admin").first() or _admin()
    body = {"module": module, "key": key, "type": type, "label": data.pop("label", key), **data}
    if type in ("choice", "multichoice") and "options" not in body:
        body["options"] = SIZES
    return custom_field_save(actor=actor, data=body)


def _admin():
    from crm.tests_support.factories import user_with_role

    return user_with_role("admin", username="cf-admin")
