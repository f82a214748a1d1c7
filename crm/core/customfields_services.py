"""Writes of custom field definitions (Settings → Custom fields, the custom-fields API).

Administrators only (`settings.configure`, like the dictionaries). Every change is audited and
bumps the configuration stamp, so every process sees it at its next request. A number or date
field gets its own index for range filters, built after the commit (CONCURRENTLY on
PostgreSQL: a big table stays writable while it builds).
"""

from __future__ import annotations

import hashlib
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from crm.core.audit import audit_record, diff
from crm.core.configstate import config_changed
from crm.core.customfields import (
    CHOICE_TYPES,
    RANGE_TYPES,
    TYPES,
    Type,
    custom_modules,
)
from crm.core.dictionaries import dictionary_item_save
from crm.core.errors import ConflictError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry, CustomField, DictionaryItem
from crm.core.scope import user_can
from crm.core.text import typed_text

logger = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


class CustomFieldKeyTaken(ConflictError):
    """409: the module already has a field with this key (retired ones count: their values
    are still stored under it)."""

    code = "custom_field_key_taken"


def _require_configure(actor: Any) -> None:
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()


def _snapshot(field: CustomField) -> dict[str, Any]:
    return {
        "module": field.module,
        "key": field.key,
        "label": field.label,
        "label_en": field.label_en,
        "type": field.type,
        "required": field.required,
        "help": field.help,
        "position": field.position,
        "is_active": field.is_active,
        "show_in_list": field.show_in_list,
        "min_value": field.min_value,
        "max_value": field.max_value,
    }


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def _bound(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise InvalidOperation
    number = Decimal(str(value).replace(",", "").strip())
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise InvalidOperation
    return number.quantize(Decimal("0.01"))


def custom_field_clean(*, data: dict[str, Any], field: CustomField | None = None) -> dict[str, Any]:
    """Validate a definition (all of it on create, the keys sent on edit); every problem at
    once. Key and type are fixed once created: stored values use both."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    creating = field is None

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if creating:
        module = typed_text(data.get("module"))
        if module not in custom_modules():
            fail("module", _("Choose a module from the list."))
        cleaned["module"] = module
        key = typed_text(data.get("key"))
        if not key:
            fail("key", _("Enter a key."))
        elif not KEY_PATTERN.match(key):
            fail(
                "key",
                _(
                    "Use up to 20 lower-case letters, digits and underscores, starting with "
                    "a letter."
                ),
            )
        cleaned["key"] = key
        kind = typed_text(data.get("type"))
        if kind not in TYPES:
            fail("type", _("Choose a type from the list."))
        cleaned["type"] = kind
    else:
        for name in ("module", "key", "type"):
            if name in data and typed_text(data[name]) != getattr(field, name):
                fail(name, _("This cannot be changed once the field is created."))
        kind = field.type
    if creating or "label" in data:
        label = typed_text(data.get("label"))
        if not label:
            fail("label", _("Enter the Chinese label."))
        elif len(label) > 60:
            fail("label", _("At most %(limit)d characters.") % {"limit": 60})
        cleaned["label"] = label
    if creating or "label_en" in data:
        label_en = typed_text(data.get("label_en"))
        if len(label_en) > 60:
            fail("label_en", _("At most %(limit)d characters.") % {"limit": 60})
        cleaned["label_en"] = label_en
    if creating or "help" in data:
        help_text = typed_text(data.get("help"))
        if len(help_text) > 200:
            fail("help", _("At most %(limit)d characters.") % {"limit": 200})
        cleaned["help"] = help_text
    for name in ("required", "is_active", "show_in_list"):
        if name in data:
            cleaned[name] = _bool(data[name])
    if "position" in data and data["position"] not in (None, ""):
        try:
            if isinstance(data["position"], bool):
                raise ValueError
            position = int(str(data["position"]).strip())
            if not 0 <= position <= 1_000_000:
                raise ValueError
            cleaned["position"] = position
        except (TypeError, ValueError):
            fail("position", _("Enter a whole number from 0 to 1000000."))
    for name in ("min_value", "max_value"):
        if creating or name in data:
            try:
                cleaned[name] = _bound(data.get(name))
            except (InvalidOperation, ValueError):
                fail(name, _("Enter a number, e.g. 0 or 1000.50."))
                continue
            if cleaned[name] is not None and kind not in (Type.INTEGER, Type.DECIMAL):
                fail(name, _("Only integer and decimal fields have bounds."))
    low = cleaned.get("min_value", getattr(field, "min_value", None))
    high = cleaned.get("max_value", getattr(field, "max_value", None))
    if low is not None and high is not None and low > high and "max_value" not in errors:
        fail("max_value", _("The maximum must not be less than the minimum."))
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _options_clean(options: Any) -> list[dict[str, Any]]:
    if not isinstance(options, (list, tuple)):
        raise ValidationFailed(fields={"options": [_("Send the options as a list.")]})
    rows = []
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            raise ValidationFailed(
                fields={f"options.{i}": [_("Each option needs a code and a label.")]}
            )
        rows.append(option)
    return rows


def _options_apply(*, actor: Any, field: CustomField, options: list[dict[str, Any]]) -> None:
    """Make the options sent the field's active options: new codes added, labels updated,
    codes not sent retired (records keep them and still show their label)."""
    kind = field.dictionary_kind
    existing = {i.code: i for i in DictionaryItem.objects.filter(kind=kind)}
    sent: set[str] = set()
    errors: dict[str, list[str]] = {}
    for i, option in enumerate(options):
        code = typed_text(option.get("code"))
        item = existing.get(code)
        data = {
            "code": code,
            "label": option.get("label"),
            "label_en": option.get("label_en", item.label_en if item else ""),
            "position": option.get("position", i * 10),
            "is_active": True,
        }
        try:
            dictionary_item_save(actor=actor, kind=kind, data=data, item=item)
        except ValidationFailed as exc:
            for name, messages in exc.fields.items():
                errors[f"options.{i}.{name}"] = messages
        sent.add(code)
    if errors:
        raise ValidationFailed(fields=errors)
    for code, item in existing.items():
        if code not in sent and item.is_active:
            from crm.core.dictionaries import dictionary_item_deactivate

            dictionary_item_deactivate(actor=actor, item=item)


@transaction.atomic
def custom_field_save(
    *, actor: Any, data: dict[str, Any], field: CustomField | None = None
) -> CustomField:
    """Define a custom field, or change one (key, module and type stay as created).

    A key already used in the module -> 409 (CustomFieldKeyTaken, naming `key`). `options`
    (choice types): [{code, label, label_en?}] become the field's dictionary.
    """
    _require_configure(actor)
    if field is not None:
        field = CustomField.objects.select_for_update().get(pk=field.pk)
    cleaned = custom_field_clean(data=data, field=field)
    if field is None:
        if CustomField.objects.filter(module=cleaned["module"], key=cleaned["key"]).exists():
            raise CustomFieldKeyTaken(
                _("This key is already used by a field of this module."),
                fields={"key": [_("This key is already used by a field of this module.")]},
            )
        if "position" not in cleaned:
            last = CustomField.objects.filter(module=cleaned["module"]).aggregate(
                m=Max("position")
            )["m"]
            cleaned["position"] = 0 if last is None else last + 10
        before: dict[str, Any] = {}
        field = CustomField(**cleaned)
    else:
        before = _snapshot(field)
        for name, value in cleaned.items():
            setattr(field, name, value)
    field.save()
    if "options" in data and data["options"] is not None:
        if field.type not in CHOICE_TYPES:
            raise ValidationFailed(fields={"options": [_("Only choice fields have options.")]})
        _options_apply(actor=actor, field=field, options=_options_clean(data["options"]))
    changes = diff(before, _snapshot(field))
    if changes or not before:
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE if before else AuditEntry.Action.CREATE,
            instance=field,
            object_repr=f"{field.module}: {field.label}",
            changes=changes,
        )
    config_changed()
    if field.type in RANGE_TYPES and not before:
        saved = field
        transaction.on_commit(lambda: custom_field_index_ensure(saved))
    return field


@transaction.atomic
def custom_field_retire(*, actor: Any, field: CustomField) -> CustomField:
    """Hide a field from forms, lists and the API; its values stay stored (reactivating it
    shows them again)."""
    return custom_field_save(actor=actor, field=field, data={"is_active": False})


@transaction.atomic
def custom_fields_reorder(*, actor: Any, module: str, ids: list[int]) -> None:
    """Positions 0, 10, 20 ... in the order given (Settings' up/down buttons)."""
    _require_configure(actor)
    fields = {f.pk: f for f in CustomField.objects.select_for_update().filter(module=module)}
    for position, pk in enumerate(i for i in ids if i in fields):
        field = fields[pk]
        if field.position != position * 10:
            custom_field_save(actor=actor, field=field, data={"position": position * 10})


# --- indexes for range filters --------------------------------------------------------------


def custom_index_name(table: str, key: str) -> str:
    digest = hashlib.sha1(f"{table}.{key}".encode()).hexdigest()[:8]
    return f"cf_{table[:30]}_{key[:16]}_{digest}"


def custom_index_expression(kind: str, key: str) -> str:
    """The expression crm.core.customfields_filters compares, as PostgreSQL sees it: the
    planner uses the index only for the same expression."""
    text = f"(custom ->> '{key}')"
    if kind == Type.INTEGER:
        return f"({text}::bigint)"
    if kind == Type.DECIMAL:
        return f"({text}::numeric)"
    return f"({text})"  # dates and datetimes compare as ISO text


def custom_field_index_ensure(field: Any) -> str | None:
    """Build the btree expression index of a number or date field, if missing.

    PostgreSQL: CREATE INDEX CONCURRENTLY, outside any transaction (it refuses to run in
    one), so a table of a million rows stays writable while the index builds. SQLite: no
    index; its JSON path is a bound parameter, which an expression index cannot match, and
    SQLite installs are small. Returns the index name, or None when none is built.
    """
    if field.type not in RANGE_TYPES or connection.vendor != "postgresql":
        return None
    model = custom_modules().get(field.module)
    if model is None or not KEY_PATTERN.match(field.key):
        return None
    table = model._meta.db_table
    name = custom_index_name(table, field.key)
    sql = (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
        f"({custom_index_expression(field.type, field.key)})"
    )
    if connection.in_atomic_block:
        # Tests run inside a transaction: build it the plain way there.
        sql = sql.replace(" CONCURRENTLY", "")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    except Exception:  # an index is a speed-up: a failure must not fail the definition
        logger.exception("custom field index %s failed", name)
        return None
    return name
