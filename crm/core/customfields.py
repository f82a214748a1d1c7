"""Custom fields (SYS-1, issue 8 §1): one mechanism every module declares in a few lines.

A module calls `custom_fields_register("customers", Customer)` in its AppConfig.ready(); its
model has `custom = models.JSONField(default=dict, blank=True)`. An administrator defines the
fields in Settings (crm.core.models.CustomField); values are stored in `custom` in their JSON
form (see `custom_value_clean`), validated here with the same messages the built-in fields
give, under the error name `custom.<key>`.

Definitions are read through crm.core.configstate, like the dictionaries: parsed once per
process, as plain frozen values, and reloaded everywhere after a change.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from crm.core.configstate import config_section, config_section_register
from crm.core.dictionaries import dictionary_is_valid, dictionary_items, dictionary_label
from crm.core.errors import ValidationFailed
from crm.core.models import CustomField
from crm.core.text import typed_text
from crm.core.validators import email_normalize, phone_normalize

Type = CustomField.Type
TYPES = tuple(Type.values)
CHOICE_TYPES = (Type.CHOICE, Type.MULTICHOICE)
# Range filters (from/to) and a btree expression index per field; the others filter by equality
# (membership for multichoice) through the GIN index of the `custom` column.
RANGE_TYPES = (Type.INTEGER, Type.DECIMAL, Type.DATE, Type.DATETIME)
TEXT_LIMITS = {Type.TEXT: 200, Type.TEXTAREA: 5000, Type.URL: 500}
INTEGER_LIMIT = 2**53 - 1  # exact in JSON readers (JavaScript numbers) too
DECIMAL_LIMIT = Decimal("1e12")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # fixed width, UTC: compares as text in date order


# --- modules --------------------------------------------------------------------------------

_modules: dict[str, type[models.Model]] = {}


def custom_fields_register(module: str, model: type[models.Model]) -> None:
    """Declare that `module`'s records (`model`, with a `custom` JSONField) take custom fields.

    Called from the module's AppConfig.ready(): Settings lists the module, its forms, lists,
    API and exports then pick up whatever fields an administrator defines for it.
    """
    model._meta.get_field("custom")  # fails at start-up, not at the first save
    _modules[module] = model


def custom_modules() -> dict[str, type[models.Model]]:
    """Registered modules in registration order: {module: model}."""
    return dict(_modules)


def custom_module_label(module: str) -> str:
    model = _modules.get(module)
    return str(model._meta.verbose_name_plural) if model is not None else module


def custom_module_of(model: type[models.Model] | None) -> str | None:
    for module, registered in _modules.items():
        if registered is model:
            return module
    return None


# --- definitions, as every process reads them ------------------------------------------------


@dataclass(frozen=True)
class FieldDef:
    """One custom field as readers see it: a plain value shared by the whole process."""

    id: int
    module: str
    key: str
    label: str
    label_en: str
    type: str
    required: bool
    help: str
    position: int
    is_active: bool
    show_in_list: bool
    min_value: Decimal | None
    max_value: Decimal | None

    @property
    def pk(self) -> int:
        return self.id

    @property
    def name(self) -> str:
        """The field's name in errors, forms and audit entries."""
        return f"custom.{self.key}"

    @property
    def dictionary_kind(self) -> str:
        return f"cf_{self.module}_{self.key}"

    @property
    def display_label(self) -> str:
        english = (get_language() or "zh-hans").lower().startswith("en")
        return self.label_en if english and self.label_en else self.label

    def options(self, *, include_inactive: bool = False) -> list[tuple[str, str]]:
        """(code, label in the interface language) of a choice field's dictionary."""
        if self.type not in CHOICE_TYPES:
            return []
        items = dictionary_items(self.dictionary_kind, include_inactive=include_inactive)
        return [(i.code, i.display_label) for i in items]

    def __str__(self) -> str:
        return self.display_label


_FIELDS = [
    "id",
    "module",
    "key",
    "label",
    "label_en",
    "type",
    "required",
    "help",
    "position",
    "is_active",
    "show_in_list",
    "min_value",
    "max_value",
]


def _load() -> dict[str, tuple[FieldDef, ...]]:
    by_module: dict[str, list[FieldDef]] = {}
    for row in CustomField.objects.order_by("module", "position", "id").values_list(*_FIELDS):
        field = FieldDef(*row)
        by_module.setdefault(field.module, []).append(field)
    return {module: tuple(fields) for module, fields in by_module.items()}


config_section_register("custom_fields", _load)


def custom_fields_all(module: str) -> list[FieldDef]:
    """Every field of the module, retired ones included, in position order."""
    return list(config_section("custom_fields").get(module, ()))


def custom_fields_active(module: str) -> list[FieldDef]:
    """The module's active fields in position order (one dict lookup per call)."""
    return [f for f in config_section("custom_fields").get(module, ()) if f.is_active]


def custom_fields_in_list(module: str) -> list[FieldDef]:
    return [f for f in custom_fields_active(module) if f.show_in_list]


def custom_field_get(module: str, key: str) -> FieldDef | None:
    for field in config_section("custom_fields").get(module, ()):
        if field.key == key:
            return field
    return None


# --- values ---------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _invalid_choice(code: Any) -> ValidationError:
    return ValidationError(
        _("“%(value)s” is not in the list; choose one of the offered values.")
        % {"value": str(code)[:80]},
        code="invalid_choice",
    )


def _number_bounds(field: FieldDef, number: Decimal) -> None:
    if field.min_value is not None and number < field.min_value:
        raise ValidationError(
            _("Enter a value of at least %(min)s.") % {"min": plain_number(field.min_value)},
            code="min_value",
        )
    if field.max_value is not None and number > field.max_value:
        raise ValidationError(
            _("Enter a value of at most %(max)s.") % {"max": plain_number(field.max_value)},
            code="max_value",
        )


def plain_number(value: Decimal) -> str:
    return str(value.quantize(Decimal(1))) if value == value.to_integral() else str(value)


def _clean_integer(field: FieldDef, raw: Any) -> int:
    invalid = ValidationError(_("Enter a whole number, e.g. 120."), code="invalid_integer")
    if isinstance(raw, bool):
        raise invalid
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, float) and raw.is_integer():
        number = int(raw)
    elif isinstance(raw, str) and re.fullmatch(r"[+-]?\d{1,16}", raw.strip().replace(",", "")):
        number = int(raw.strip().replace(",", ""))
    else:
        raise invalid
    if abs(number) > INTEGER_LIMIT:
        raise invalid
    _number_bounds(field, Decimal(number))
    return number


def _clean_decimal(field: FieldDef, raw: Any) -> str:
    invalid = ValidationError(
        _("Enter a number with at most 2 decimal places, e.g. 1250.50."), code="invalid_decimal"
    )
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise invalid
    text = str(raw).replace(",", "").replace("¥", "").strip()
    if not re.fullmatch(r"[+-]?(\d{1,13}(\.\d*)?|\.\d+)", text):
        raise invalid
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise invalid from None
    if not number.is_finite() or abs(number) >= DECIMAL_LIMIT:
        raise invalid
    if number != number.quantize(Decimal("0.01")):
        raise invalid
    _number_bounds(field, number)
    return str(number.quantize(Decimal("0.01")))


def _clean_date(raw: Any) -> str:
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    invalid = ValidationError(_("Enter a date as YYYY-MM-DD."), code="invalid_date")
    if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", raw.strip()):
        raise invalid
    try:
        parsed = parse_date(raw.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise invalid
    return parsed.isoformat()


def _clean_datetime(raw: Any) -> str:
    invalid = ValidationError(
        _("Enter a date and time as YYYY-MM-DD HH:MM."), code="invalid_datetime"
    )
    if isinstance(raw, dt.datetime):
        parsed = raw
    elif isinstance(raw, str):
        text = raw.strip().replace("/", "-")
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise invalid
    else:
        raise invalid
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)  # typed in the office's time zone
    if not 1900 <= parsed.year <= 2999:
        raise invalid
    return parsed.astimezone(dt.UTC).strftime(DATETIME_FORMAT)


def _clean_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "1", "on"):
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("false", "0", "off"):
        return False
    raise ValidationError(_("Choose yes or no."), code="invalid_bool")


def _clean_user(raw: Any, current: Any) -> int:
    from django.contrib.auth import get_user_model

    invalid = ValidationError(_("Choose an active user."), code="invalid_user")
    if isinstance(raw, bool):
        raise invalid
    text = str(getattr(raw, "pk", raw)).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**63 - 1:
        raise invalid
    user_id = int(text)
    if user_id == current:
        return user_id  # kept after the user left: a record is not refused for its history
    if not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
        raise invalid
    return user_id


def _clean_url(raw: Any) -> str:
    invalid = ValidationError(
        _("Enter a valid URL, e.g. https://example.com/page."), code="invalid_url"
    )
    if not isinstance(raw, str):
        raise invalid
    text = typed_text(raw)
    if len(text) > TEXT_LIMITS[Type.URL]:
        raise invalid
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        raise invalid from None
    return text


def custom_value_clean(field: FieldDef, raw: Any, *, current: Any = None) -> Any:
    """One value in its stored JSON form, or None for empty; raises ValidationError.

    Accepts what forms send (text) and what the API sends (JSON values). Stored forms:
    text/textarea/phone/email/url str, integer int, decimal str "12.50", date "YYYY-MM-DD",
    datetime "YYYY-MM-DDTHH:MM:SSZ" (UTC), choice code, multichoice [codes], bool, user id.
    `current` is the stored value: a choice retired from its list, or a user who left, stays
    acceptable when sent back unchanged.
    """
    if _empty(raw) or (isinstance(raw, str) and not raw.strip()):
        return None
    kind = field.type
    if kind in (Type.TEXT, Type.TEXTAREA):
        if not isinstance(raw, (str, int, Decimal)) or isinstance(raw, bool):
            raise ValidationError(_("Enter text."), code="invalid_text")
        text = typed_text(raw)
        if kind == Type.TEXT:
            text = " ".join(text.split())
        limit = TEXT_LIMITS[kind]
        if len(text) > limit:
            raise ValidationError(
                _("At most %(limit)d characters.") % {"limit": limit}, code="max_length"
            )
        return text or None
    if kind == Type.INTEGER:
        return _clean_integer(field, raw)
    if kind == Type.DECIMAL:
        return _clean_decimal(field, raw)
    if kind == Type.DATE:
        return _clean_date(raw)
    if kind == Type.DATETIME:
        return _clean_datetime(raw)
    if kind == Type.BOOL:
        return _clean_bool(raw)
    if kind == Type.USER:
        return _clean_user(raw, current)
    if kind == Type.CHOICE:
        if not isinstance(raw, str):
            raise _invalid_choice(raw)
        code = raw.strip()
        if code != current and not dictionary_is_valid(field.dictionary_kind, code):
            raise _invalid_choice(code)
        return code
    if kind == Type.MULTICHOICE:
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            raise _invalid_choice(raw)
        kept = set(current) if isinstance(current, list) else set()
        codes: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise _invalid_choice(item)
            code = item.strip()
            if not code or code in codes:
                continue
            if code not in kept and not dictionary_is_valid(field.dictionary_kind, code):
                raise _invalid_choice(code)
            codes.append(code)
        return codes or None
    if kind in (Type.PHONE, Type.EMAIL):
        if not isinstance(raw, str):
            raise ValidationError(_("Enter text."), code="invalid_text")
        normalize = phone_normalize if kind == Type.PHONE else email_normalize
        return normalize(raw)
    if kind == Type.URL:
        return _clean_url(raw)
    raise ValidationError(_("Enter text."), code="invalid_text")  # pragma: no cover


def custom_values_clean(
    *,
    module: str,
    values: Any,
    current: dict[str, Any] | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """The `custom` dict to store: `current` with the values sent applied.

    `partial=False` (a create, a whole form): every active field counts as sent, a missing key
    is empty and a required field must have a value. `partial=True` (an API PATCH): only the
    keys sent change, and only they are checked for required. Values of retired fields are
    kept untouched; sending one changed is refused. Raises ValidationFailed with every problem
    at once, named `custom.<key>` (an unknown key too).
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValidationFailed(
            fields={"custom": [_("Send the custom fields as an object of key: value.")]}
        )
    by_key = {f.key: f for f in custom_fields_all(module)}
    current = dict(current or {})
    result = dict(current)
    errors: dict[str, list[str]] = {}
    for key, raw in values.items():
        field = by_key.get(str(key))
        if field is None:
            errors[f"custom.{str(key)[:40]}"] = [
                _("There is no custom field with this key in this module.")
            ]
        elif not field.is_active and raw != current.get(field.key):
            errors[field.name] = [_("This field is retired; its value can no longer be changed.")]
    for field in by_key.values():
        if not field.is_active or (partial and field.key not in values):
            continue
        raw = values.get(field.key)
        try:
            value = custom_value_clean(field, raw, current=current.get(field.key))
        except ValidationError as exc:
            errors[field.name] = [str(m) for m in exc.messages]
            continue
        if value is None:
            if field.required:
                errors[field.name] = [_("This field is required.")]
            result.pop(field.key, None)
        else:
            result[field.key] = value
    if errors:
        raise ValidationFailed(fields=errors)
    return result


def custom_value_display(
    field: FieldDef, value: Any, *, users: dict[int, str] | None = None
) -> str:
    """A stored value as a person reads it: choice labels, a user's name, dates the way the
    interface language writes them, 是/否. `users` ({id: name}) saves a query per value on
    pages that show many (see `custom_users_names`)."""
    if _empty(value):
        return ""
    kind = field.type
    if kind == Type.CHOICE:
        return dictionary_label(field.dictionary_kind, str(value))
    if kind == Type.MULTICHOICE:
        codes = value if isinstance(value, list) else [value]
        return "、".join(dictionary_label(field.dictionary_kind, str(c)) for c in codes)
    if kind == Type.BOOL:
        return _("Yes") if value is True else _("No")
    if kind == Type.USER:
        if users is None:
            users = custom_users_names([value])
        return users.get(value, "") or f"#{value}"
    if kind == Type.DATE:
        parsed = parse_date(str(value))
        return formats.date_format(parsed, "DATE_FORMAT") if parsed else str(value)
    if kind == Type.DATETIME:
        moment = parse_datetime(str(value))
        if moment is None:
            return str(value)
        return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    return str(value)


def custom_users_names(ids: Any) -> dict[int, str]:
    """{user id: display name} for the user fields of many records, in one query."""
    from django.contrib.auth import get_user_model

    wanted = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if not wanted:
        return {}
    return {
        u.pk: u.display_name
        for u in get_user_model()
        .objects.filter(pk__in=wanted)
        .only("id", "username", "full_name", "first_name", "last_name")
    }


_YES = {"是", "对", "有", "y", "yes", "true", "1", "√", "✓"}
_NO = {"否", "不是", "无", "n", "no", "false", "0", "×", "✗"}
_SPLIT = re.compile(r"[,，、;；|\n]+")


def _choice_from_text(field: FieldDef, text: str) -> str:
    folded = text.strip().casefold()
    for item in dictionary_items(field.dictionary_kind):
        if folded in (item.code.casefold(), item.label.casefold(), item.label_en.casefold()):
            return item.code
    raise _invalid_choice(text)


def _user_from_text(text: str) -> int:
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    users = get_user_model().objects.filter(is_active=True)
    match = list(users.filter(username__iexact=text).values_list("pk", flat=True)[:2])
    if not match:
        match = list(users.filter(Q(full_name=text)).values_list("pk", flat=True)[:2])
    if len(match) != 1:
        raise ValidationError(
            _("Enter the username or the name of an active user."), code="invalid_user"
        )
    return match[0]


def custom_value_parse(field: FieldDef, text: Any) -> Any:
    """A value typed in a spreadsheet cell, in its stored JSON form (None for empty).

    Raises ValidationError with the form's message. More forgiving than the API: a choice by
    its label or code, several choices separated by commas or 、, 是/否/yes/no/true/false/1/0,
    a user by username or name. Required is checked by `custom_values_clean`.
    """
    if isinstance(text, (dt.date, dt.datetime, bool, int, float, Decimal)) and not isinstance(
        text, str
    ):
        if field.type == Type.BOOL and isinstance(text, (int, float)) and text in (0, 1):
            return bool(text)
        return custom_value_clean(field, text)
    text = typed_text(text)
    if not text:
        return None
    if field.type == Type.CHOICE:
        return _choice_from_text(field, text)
    if field.type == Type.MULTICHOICE:
        codes = [_choice_from_text(field, part) for part in _SPLIT.split(text) if part.strip()]
        return list(dict.fromkeys(codes)) or None
    if field.type == Type.BOOL:
        folded = text.casefold()
        if folded in _YES:
            return True
        if folded in _NO:
            return False
        raise ValidationError(_("Choose yes or no."), code="invalid_bool")
    if field.type == Type.USER:
        if text.isascii() and text.isdigit():
            try:
                return custom_value_clean(field, text)
            except ValidationError:
                pass
        return _user_from_text(text)
    return custom_value_clean(field, text)


def custom_audit_snapshot(module: str, custom: dict[str, Any] | None) -> dict[str, Any]:
    """{"custom.<key>": value as read} of every field with a value: appended to a module's
    display snapshot, the audit diff lists custom fields field by field, by their labels."""
    custom = custom or {}
    fields = [f for f in custom_fields_all(module) if not _empty(custom.get(f.key))]
    users = custom_users_names(custom[f.key] for f in fields if f.type == Type.USER)
    return {f.name: custom_value_display(f, custom[f.key], users=users) for f in fields}


def custom_field_label(model: type[models.Model] | None, name: str) -> str | None:
    """The label of `custom.<key>` for a model's audit history (None: not a custom field)."""
    if not name.startswith("custom."):
        return None
    module = custom_module_of(model)
    field = custom_field_get(module, name.removeprefix("custom.")) if module else None
    return field.display_label if field is not None else name.removeprefix("custom.")


def custom_values_api(
    module: str, custom: dict[str, Any] | None, *, can_view_contact: bool = True
) -> dict[str, Any]:
    """What the API returns as `custom`: the values of the active fields (retired fields are
    hidden; their values stay stored). Phone and email fields are masked, like the built-in
    ones, for a caller without the view_contact permission."""
    from crm.core.masking import mask_email, mask_phone

    custom = custom or {}
    out: dict[str, Any] = {}
    for f in custom_fields_active(module):
        if f.key not in custom:
            continue
        value = custom[f.key]
        if not can_view_contact and isinstance(value, str):
            if f.type == Type.PHONE:
                value = mask_phone(value)
            elif f.type == Type.EMAIL:
                value = mask_email(value)
        out[f.key] = value
    return out


def custom_clean_into(
    *,
    module: str,
    data: dict[str, Any],
    current: Any,
    cleaned: dict[str, Any],
    errors: dict[str, list[str]],
    prefix: str = "",
    only_if_sent: bool = False,
) -> None:
    """The step a module's clean function adds: `cleaned["custom"]` from `data["custom"]`,
    or its errors into `errors` (under `prefix`, e.g. "contacts.0.").

    A create (no `current`) checks every field, required ones included; an edit applies the
    keys sent onto the stored values (a whole form sends every active key).
    `only_if_sent`: a create that sends no `custom` at all (a record made by another
    record's action: a conversion, a carried plan, a web form) stores none and checks none.
    """
    if "custom" not in data and (current is not None or only_if_sent):
        return
    try:
        cleaned["custom"] = custom_values_clean(
            module=module,
            values=data.get("custom"),
            current=getattr(current, "custom", None),
            partial=current is not None,
        )
    except ValidationFailed as exc:
        for name, messages in exc.fields.items():
            errors.setdefault(prefix + name, []).extend(str(m) for m in messages)
