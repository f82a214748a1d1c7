"""The shared strict input types of crm/core/api.py (issue 5 §2), which every module's schemas
import: each refuses the loose readings pydantic's lax mode allowed."""

from __future__ import annotations

import datetime as dt
import typing
from decimal import Decimal

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from crm.core.api import (
    Amount,
    Flag,
    Id,
    InputSchema,
    IsoDate,
    IsoDateTime,
    ParamBool,
    ParamInt,
    Text,
    Version,
)


def accepts(kind, value):
    return TypeAdapter(kind).validate_python(value)


def refused(kind, value) -> str:
    with pytest.raises(ValidationError) as exc:
        TypeAdapter(kind).validate_python(value)
    return exc.value.errors()[0]["type"]


@pytest.mark.parametrize("value", [True, False, "1", 1.0, 0, -1, 2**63])
def test_an_id_in_a_body_is_a_positive_json_integer_only(value):
    refused(Id, value)


def test_an_id_and_a_version_accept_json_integers():
    assert accepts(Id, 12) == 12
    assert accepts(Version, 0) == 0
    assert refused(Version, True) == "int_type"


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, "on"])
def test_a_flag_in_a_body_is_true_or_false_only(value):
    assert refused(Flag, value) == "bool_type"


@pytest.mark.parametrize(("value", "read"), [("12", 12), ("007", 7), ("-3", -3), (5, 5)])
def test_a_param_int_reads_decimal_digits(value, read):
    assert accepts(ParamInt, value) == read


@pytest.mark.parametrize(
    "value", ["1.0", "1_000", " 1", "1 ", "+1", "²", "١", "0x10", "", True, "9" * 5000]
)
def test_a_param_int_refuses_every_other_spelling(value):
    assert refused(ParamInt, value) == "int_parsing"


def test_a_param_bool_reads_only_true_and_false():
    assert accepts(ParamBool, "true") is True
    assert accepts(ParamBool, "false") is False
    for value in ["1", "yes", "on", "True", "TRUE", ""]:
        assert refused(ParamBool, value) == "bool_parsing"


def test_an_iso_date_is_yyyy_mm_dd_only():
    assert accepts(IsoDate, "2026-01-31") == dt.date(2026, 1, 31)
    for value in [0, "0", "1700000000", "2026-01-31T00:00:00", "20260131", "2026-1-31",
                  "2026-02-30", "２０２６-01-31", dt.datetime(2026, 1, 1)]:  # fmt: skip
        assert refused(IsoDate, value) == "date_parsing", value


def test_an_iso_datetime_is_iso_8601_only():
    assert accepts(IsoDateTime, "2026-01-31T09:30:00+08:00") == dt.datetime(
        2026, 1, 31, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    assert accepts(IsoDateTime, "2026-01-31T09:30Z").tzinfo == dt.UTC
    for value in [0, "0", "2026-01-31", "2026-01-31 09:30", "2026-01-31T25:00"]:
        assert refused(IsoDateTime, value) == "datetime_parsing", value


def test_an_amount_is_a_json_number_or_a_decimal_string():
    assert accepts(Amount, 150000) == Decimal(150000)
    assert accepts(Amount, 0.5) == Decimal("0.5")
    assert accepts(Amount, "150000.00") == Decimal("150000.00")
    assert refused(Amount, True) == "decimal_parsing"
    for value in ["1e5", "1_000", " 1", "NaN", "¥100", "1,000", ""]:
        assert refused(Amount, value) == "decimal_parsing", value
    assert refused(Amount, float("inf")) == "finite_number"


class Body(InputSchema):
    name: Text
    flag: Flag = False


class Outer(InputSchema):
    items: list[Body] = []


@pytest.mark.parametrize("value", [[None, None], [], None, "x", 5, True])
def test_an_input_schema_is_built_from_an_object_only(value):
    # ninja's Schema would read these through their attributes and fill in the defaults
    with pytest.raises(ValidationError) as exc:
        Outer.model_validate(value)
    assert exc.value.errors()[0]["type"] == "model_type"
    with pytest.raises(ValidationError) as exc:
        Outer.model_validate({"items": [value]})
    assert exc.value.errors()[0]["loc"] == ("items", 0)


def test_an_input_schema_still_takes_objects_and_instances():
    body = Body.model_validate({"name": "王强"})
    assert Outer.model_validate({"items": [body, {"name": "赵敏", "flag": True}]}).items[1].flag


# --- the guard: every body of every route uses them ------------------------------------------

LOOSE = {
    "integer": [True, "1", 1.5],
    "boolean": ["true", "yes", 1],
    "date": [0, "0", "2026-01-01T00:00:00"],
    "date-time": [0, "0", "2026-01-01"],
    "number": [True],
}


def _body_models():
    from crm.api import api

    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    if model.__ninja_param_source__ == "body":
                        for field in model.model_fields.values():
                            yield operation.view_func.__name__, field.annotation


def _nested_models(annotation):
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            yield arg
            for field in arg.model_fields.values():
                yield from _nested_models(field.annotation)
        else:
            yield from _nested_models(arg)


def _kinds(prop: dict) -> set[str]:
    options = prop.get("anyOf", [prop])
    kinds = {o.get("format") or o.get("type") for o in options}
    return {k for k in kinds if k in LOOSE}


def test_every_request_body_of_the_api_is_an_input_schema_with_strict_fields():
    """A route added later with a plain `int`, `bool` or `date` field, or a body built on
    ninja's Schema, fails here: loose values must be refused for every field of every body."""
    seen = 0
    for route, model in _body_models():
        models = [model, *_nested_models(list[model])]
        for schema in dict.fromkeys(models):
            assert issubclass(schema, InputSchema), f"{route}: {schema.__name__}"
            properties = schema.model_json_schema()["properties"]
            for name, prop in properties.items():
                for kind in _kinds(prop):
                    for value in LOOSE[kind]:
                        seen += 1
                        with pytest.raises(ValidationError) as exc:
                            schema.model_validate({name: value})
                        locs = {e["loc"][:1] for e in exc.value.errors()}
                        assert (name,) in locs, f"{route}: {schema.__name__}.{name}={value!r}"
    assert seen > 20  # the walk found the bodies


LOOSE_TEXT = {
    "integer": ["1.0", "true", " 1", "1_0", "+1"],
    "boolean": ["yes", "1", "True"],
    "date": ["0", "1700000000", "2026-01-01T00:00:00"],
    "date-time": ["0", "2026-01-01"],
}


def test_every_query_and_path_parameter_takes_only_the_canonical_spelling():
    """The same guard for query strings and path ids (ParamInt, ParamBool, IsoDate)."""
    from crm.api import api

    seen = 0
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    if model.__ninja_param_source__ not in ("query", "path"):
                        continue
                    for field_name, field in model.model_fields.items():
                        inner = field.annotation
                        if isinstance(inner, type) and issubclass(inner, BaseModel):
                            target, names = inner, list(inner.model_json_schema()["properties"])
                        else:
                            target, names = model, [field_name]
                        properties = target.model_json_schema()["properties"]
                        for name in names:
                            for kind in _kinds(properties[name]):
                                for value in LOOSE_TEXT.get(kind, []):
                                    seen += 1
                                    with pytest.raises(ValidationError) as exc:
                                        target.model_validate({name: value})
                                    locs = {e["loc"][:1] for e in exc.value.errors()}
                                    where = f"{operation.view_func.__name__}: {name}={value!r}"
                                    assert (name,) in locs, where
    assert seen > 20
