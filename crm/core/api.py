"""Shared pieces of the JSON API: error bodies, the list envelope, and the dictionaries route.

Each app's api.py imports these, so every endpoint answers errors and lists the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictBool,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from crm.core.dictionaries import KINDS, dictionary_items
from crm.core.errors import NotFoundError
from crm.core.pagination import MAX_PAGE_SIZE, Page, Total

# Largest value a BIGINT primary key can hold: ids above it cannot exist, and SQLite refuses to
# bind them, so they are answered as "not found" / field errors instead of reaching the driver.
MAX_ID = 2**63 - 1
DEFAULT_PAGE_SIZE = 20


def _storable(value: str) -> str:
    # PostgreSQL cannot store NUL, and no database can store half a surrogate pair (which
    # JSON escapes like \ud800 can produce): refuse them as a field error rather than a 500.
    if "\x00" in value:
        raise PydanticCustomError("text_unstorable", "NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text_unstorable", "Invalid Unicode") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]


# --- strict input types (issue 5 §2) ----------------------------------------------------------
# pydantic's lax mode reads `true` as 1, "yes" as true and 0 as 1970-01-01: a client's mistake
# would be saved as something it never meant. Every schema takes its ids, flags, dates and
# amounts from these types, so later modules get the same strictness by importing them.
# JSON bodies carry real types (StrictInt, StrictBool); query strings and paths carry text, for
# which only the canonical spelling is read.

# Bounded: a 5,000-digit "id" is not worth converting (and Python refuses past 4,300 digits).
_INTEGER = re.compile(r"-?[0-9]{1,40}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _param_int(value: Any) -> Any:
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("int_parsing", "Input should be a whole number in digits")


def _param_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise PydanticCustomError("bool_parsing", "Input should be true or false")


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # 2026-02-30
            pass
    raise PydanticCustomError("date_parsing", "Input should be a date as YYYY-MM-DD")


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:  # 2026-01-01T25:00
            pass
    raise PydanticCustomError("datetime_parsing", "Input should be an ISO 8601 date and time")


def _amount(value: Any) -> Any:
    # JSON numbers arrive as int or float; bool is an int in Python and must not pass as 1.
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return value
    raise PydanticCustomError("decimal_parsing", "Input should be a number or a decimal string")


Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
"""A record id in a JSON body: a JSON integer, never `true` or "12"."""
Version = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
"""The optimistic-lock version a client last read (JSON body)."""
Flag = StrictBool
"""A yes/no in a JSON body: only `true` or `false`."""
ParamInt = Annotated[int, BeforeValidator(_param_int)]
"""A whole number in a query string or path: decimal digits only (no "1.0", "1_0", " 1")."""
ParamBool = Annotated[bool, BeforeValidator(_param_bool)]
"""A yes/no in a query string: only "true" or "false"."""
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A date as YYYY-MM-DD, in a body or a query string (never a timestamp like 0)."""
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_datetime)]
"""An ISO 8601 date and time, e.g. 2026-01-31T09:30:00+08:00 (never a timestamp)."""
Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    Field(allow_inf_nan=False),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
            ]
        }
    ),
]
"""A money amount: a JSON number or a decimal string such as "150000.00", never a bool."""


class InputSchema(Schema):
    """Base of every request body.

    ninja's Schema reads any value through its attributes (it is built to read model
    instances), so a body of `[null, null]`, `"x"` or `null` became a schema with every field
    at its default: an empty PATCH answered 200. A body must be a JSON object.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(
        cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        # Same name as ninja's validator, so this one replaces it instead of running after it.
        if isinstance(values, dict | cls):
            return handler(values)
        raise PydanticCustomError("model_type", "Input should be an object")


class OutSchema(BaseModel):
    """A response body: built from plain dicts, checked by pydantic-core alone.

    ninja's `Schema` wraps every object it validates in a Python getter (DjangoGetter) so it
    can read model attributes; for a list page of dicts that was about a third of the request
    (one wrapper and a Python call per field of every customer and contact). Response bodies
    are dicts built by the representation functions, so they do not need it.
    """


class ErrorOut(Schema):
    """The body of every 4xx answer."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(
        description="Machine-readable code: validation_failed, invalid_json, invalid_body, "
        "too_large, "
        "permission_denied, csrf_failed, not_found, conflict, duplicate, duplicate_warning, "
        "unauthenticated, invalid_credentials, password_change_required, locked_out ..."
    )
    message: str = Field(description="A sentence for people, in the request's language.")
    fields: dict[str, list[str]] | None = Field(
        default=None,
        description="Messages per bad field; nested fields are dotted, e.g. contacts.0.email.",
    )


class ConflictOut(ErrorOut):
    """409: a duplicate (with the existing record, or only its owner's name when the caller
    may not see it), possible duplicates to confirm, or a stale version."""

    existing: dict[str, Any] | None = None
    warnings: list[dict[str, Any]] | None = None
    changed_by: str | None = None
    changed_at: str | None = None
    current_version: int | None = None


def errors(*codes: int) -> dict[int, type[Schema]]:
    """The route-specific error part of a route's `response=` mapping (409, 429 ...).

    The answers every operation of a kind can give (401/403 with authentication, 400/413/422
    with a body, 422 with parameters, 404 with a path id) are added to the OpenAPI document for
    all of them by `document_standard_errors`, so no route can forget one.
    """
    return {code: (ConflictOut if code == 409 else ErrorOut) for code in codes}


STANDARD_ERRORS = {
    400: "The body is not valid JSON (`invalid_json`) or cannot be read (`invalid_body`).",
    401: "No valid API token or session (`unauthenticated`).",
    403: "Not permitted (`permission_denied`), a session write without the CSRF token "
    "(`csrf_failed`), or the initial password must be changed first "
    "(`password_change_required`).",
    404: "No such record in the caller's data scope (`not_found`).",
    413: "The body is larger than the upload limit (`too_large`).",
    422: "A field or parameter is invalid (`validation_failed`, with `fields`).",
}


def _error_response(code: int) -> dict[str, Any]:
    return {
        "description": STANDARD_ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }


def document_standard_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add to every operation of an OpenAPI document the error answers it can give.

    A schema-driven client (and schemathesis' status_code_conformance) refuses a status the
    document does not list; these follow from the operation's shape, not from its code.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorOut", ErrorOut.json_schema())
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            codes: set[int] = set()
            parameters = operation.get("parameters") or []
            if operation.get("security"):
                codes |= {401, 403}
            if "requestBody" in operation:
                codes |= {400, 413, 422}
            if parameters:
                codes.add(422)
            if any(p.get("in") == "path" for p in parameters):
                codes.add(404)
            responses = operation.setdefault("responses", {})
            # ninja keys the responses by int until the document is serialised.
            for code in codes:
                if code not in responses and str(code) not in responses:
                    responses[code] = _error_response(code)
            operation["responses"] = dict(sorted(responses.items(), key=lambda kv: int(kv[0])))
    return schema


class PageParams(Schema):
    page: ParamInt = Field(default=1, ge=1, le=100_000)
    page_size: ParamInt = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class TotalOut(Schema):
    """How many rows the list has, without counting the whole table (issue 5 §4)."""

    count: int = Field(
        description="Exact when `exact`; PostgreSQL's estimate (two significant digits) when "
        "`estimated`; otherwise the limit (10,000) counted, the list having more."
    )
    exact: bool = Field(description="True when `count` is the exact number of rows.")
    estimated: bool = Field(
        default=False,
        description="True when `count` is the database's estimate (more than 10,000 rows).",
    )


def page_envelope(
    request: HttpRequest, page: Page, items: list[Any], *, total: Total | None = None
) -> dict[str, Any]:
    """{"items", "page", "page_size", "has_next", "next"}: the next page's URL keeps every
    query parameter of this request and only moves the page number (no total count: counting
    a million rows for every page is what DESIGN invariant 8 forbids)."""
    next_url = None
    if page.has_next:
        params = request.GET.copy()
        params["page"] = str(page.number + 1)
        params["page_size"] = str(page.size)
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    envelope = {
        "items": items,
        "page": page.number,
        "page_size": page.size,
        "has_next": page.has_next,
        "next": next_url,
    }
    if total is not None:
        envelope["total_approx"] = total.as_dict()
    return envelope


def id_checked(value: int) -> int:
    """A path id; ids no row can have are simply not found."""
    if value < 1 or value > MAX_ID:
        raise NotFoundError()
    return value


# --- dictionaries (SYS-1) -------------------------------------------------------------------

router = Router(tags=["dictionaries"])


class DictionaryItemOut(Schema):
    code: str
    label: str = Field(description="In the request's language (Accept-Language: zh-Hans or en).")


@router.get(
    "/dictionaries/{kind}",
    response={200: list[DictionaryItemOut]},
    summary="Entries of a configurable list",
    description=f"Active entries in display order. Kinds: {', '.join(KINDS)}.",
)
def dictionary_list(request: HttpRequest, kind: str):
    if kind not in KINDS:
        raise NotFoundError(_("There is no list called “%(kind)s”.") % {"kind": kind[:40]})
    return [{"code": i.code, "label": i.display_label} for i in dictionary_items(kind)]
