"""List filters on custom fields: one parser for the list page, the API list and exports.

Query parameters (the same on every list of a module that takes custom fields):

- `cf_<key>=value` — equality for text, long text, phone, email, URL, single choice (repeat
  the parameter for any of several codes), yes/no (true/false) and user (an id);
- `cf_<key>=code` on a multiple choice — records having that code (repeat: any of them);
- `cf_<key>_from=` / `cf_<key>_to=` — inclusive ranges for integer, decimal, date and
  datetime (a datetime range also takes plain dates: the whole day, in the office's time zone).

Malformed values are ignored, like the lists' other filters. Each module's filter dataclass
holds the parsed filters (`custom: tuple[CustomFilter, ...]`) and its selector applies them
with `custom_filters_apply`.

How the query uses an index: on PostgreSQL equality and membership are `custom @> {...}`,
served by the GIN (jsonb_path_ops) index of the column; ranges compare the expression
`(custom ->> 'key')` (cast to bigint/numeric for numbers), served by the btree expression
index built when the field was defined (crm.core.customfields_services). On SQLite the same
filters read the JSON with json_extract, without an index.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, models
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from crm.core.customfields import (
    DATETIME_FORMAT,
    INTEGER_LIMIT,
    RANGE_TYPES,
    FieldDef,
    Type,
    custom_fields_active,
)

EQUALITY_TYPES = (
    Type.TEXT,
    Type.TEXTAREA,
    Type.PHONE,
    Type.EMAIL,
    Type.URL,
    Type.CHOICE,
    Type.BOOL,
    Type.USER,
)
MAX_VALUES = 20  # codes per parameter: a list filter, not a bulk lookup


@dataclass(frozen=True)
class CustomFilter:
    key: str
    type: str
    op: str  # "eq" (any of `value`), "has" (any of `value`), "gte", "lte", "lt"
    value: Any


def _texts(params: Any, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        raw = params.getlist(name)
    else:
        value = params.get(name)
        raw = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    found: list[str] = []
    for item in raw:
        for part in str(item).split(","):
            text = part.replace("\x00", "").strip()[:200]
            if text and text not in found:
                found.append(text)
    return found[:MAX_VALUES]


def _number(kind: str, text: str) -> Any:
    text = text.replace(",", "")
    if kind == Type.INTEGER:
        if re.fullmatch(r"[+-]?\d{1,16}", text) and abs(int(text)) <= INTEGER_LIMIT:
            return int(text)
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number) < Decimal("1e13") else None


def _moment(kind: str, text: str, *, end: bool) -> tuple[str, str] | None:
    """(op, ISO text) of a date or datetime bound; a date `to` covers its whole day."""
    try:
        day = parse_date(text) if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text) else None
        moment = None if day else parse_datetime(text)
    except ValueError:
        return None
    if kind == Type.DATE:
        if day is None:
            return None
        return ("lte" if end else "gte", day.isoformat())
    if day is not None:
        if end:
            day += dt.timedelta(days=1)
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        op = "lt" if end else "gte"
    elif moment is not None:
        op = "lte" if end else "gte"
    else:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if not 1900 <= moment.year <= 2999:
        return None
    return (op, moment.astimezone(dt.UTC).strftime(DATETIME_FORMAT))


def _equality_values(field: FieldDef, texts: list[str]) -> list[Any]:
    values: list[Any] = []
    for text in texts:
        if field.type == Type.BOOL:
            if text.lower() in ("true", "1", "on"):
                values.append(True)
            elif text.lower() in ("false", "0", "off"):
                values.append(False)
        elif field.type == Type.USER:
            if text.isascii() and text.isdigit() and int(text) <= 2**63 - 1:
                values.append(int(text))
        else:
            values.append(text)
    return values


def custom_filters_parse(module: str, params: Any) -> tuple[CustomFilter, ...]:
    """The custom field filters in `params` (a QueryDict or a dict), for the module's active
    fields; anything malformed is left out."""
    if params is None or not any(str(name).startswith("cf_") for name in params):
        return ()  # most lists are filtered on built-in fields only: no settings read
    found: list[CustomFilter] = []
    for field in custom_fields_active(module):
        name = f"cf_{field.key}"
        if field.type in RANGE_TYPES:
            for suffix, end in (("_from", False), ("_to", True)):
                texts = _texts(params, name + suffix)
                if not texts:
                    continue
                if field.type in (Type.INTEGER, Type.DECIMAL):
                    number = _number(field.type, texts[0])
                    if number is not None:
                        found.append(
                            CustomFilter(field.key, field.type, "lte" if end else "gte", number)
                        )
                else:
                    bound = _moment(field.type, texts[0], end=end)
                    if bound is not None:
                        found.append(CustomFilter(field.key, field.type, bound[0], bound[1]))
        elif field.type == Type.MULTICHOICE:
            codes = _texts(params, name)
            if codes:
                found.append(CustomFilter(field.key, field.type, "has", tuple(codes)))
        elif field.type in EQUALITY_TYPES:
            values = _equality_values(field, _texts(params, name))
            if values:
                found.append(CustomFilter(field.key, field.type, "eq", tuple(values)))
    return tuple(found)


def custom_filters_params(filters: tuple[CustomFilter, ...]) -> dict[str, str]:
    """The filters back as query parameters (the list page's form, pagination links)."""
    out: dict[str, str] = {}
    for f in filters:
        if f.op in ("eq", "has"):
            out[f"cf_{f.key}"] = ",".join(
                ("true" if v else "false") if isinstance(v, bool) else str(v) for v in f.value
            )
        else:
            out[f"cf_{f.key}_{'from' if f.op == 'gte' else 'to'}"] = str(f.value)
    return out


class _Numeric(models.Func):
    """`(text)::numeric` on PostgreSQL: the expression of the decimal fields' index."""

    output_field = models.DecimalField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        if connection.vendor == "postgresql":
            return super().as_sql(compiler, connection, template="(%(expressions)s)::numeric")
        return super().as_sql(compiler, connection, template="CAST(%(expressions)s AS REAL)")


def custom_filter_expression(f: CustomFilter) -> Any:
    """The expression a range compares; on PostgreSQL exactly the indexed one."""
    text = KeyTextTransform(f.key, "custom")
    if f.type == Type.INTEGER:
        return Cast(text, models.BigIntegerField())
    if f.type == Type.DECIMAL:
        return _Numeric(text)
    return text


def _equality(f: CustomFilter, value: Any) -> Q:
    if connection.vendor == "postgresql":
        return Q(custom__contains={f.key: value})  # GIN jsonb_path_ops
    return Q(**{f"custom__{f.key}": value})


def _membership(f: CustomFilter, code: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(custom__contains={f.key: [code]})
    # SQLite has no @>: the array's JSON text holds the quoted code (codes are slugs).
    return Q(**{f"custom__{f.key}__icontains": f'"{code}"'})


def custom_filters_apply(queryset: QuerySet, filters: tuple[CustomFilter, ...]) -> QuerySet:
    """The queryset with the custom field filters applied (all must hold)."""
    for i, f in enumerate(filters):
        if f.op in ("eq", "has"):
            make = _equality if f.op == "eq" else _membership
            condition = Q()
            for value in f.value:
                condition |= make(f, value)
            queryset = queryset.filter(condition)
            continue
        value = f.value
        if f.type == Type.DECIMAL and connection.vendor != "postgresql":
            value = float(value)  # SQLite compares a REAL with a number, never with text
        alias = f"_cf{i}_{f.key}"
        queryset = queryset.alias(**{alias: custom_filter_expression(f)}).filter(
            **{f"{alias}__{f.op}": value}
        )
    return queryset
