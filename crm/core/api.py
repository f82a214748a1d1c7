"""Shared pieces of the JSON API: error bodies, the list envelope, and the dictionaries route.

Each app's api.py imports these, so every endpoint answers errors and lists the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from crm.core.dictionaries import KINDS, dictionary_items
from crm.core.errors import NotFoundError
from crm.core.pagination import MAX_PAGE_SIZE, Page

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
        description="Machine-readable code: validation_failed, permission_denied, not_found, "
        "conflict, duplicate, duplicate_warning, unauthenticated, invalid_credentials, "
        "locked_out ..."
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
    """The error part of a route's `response=` mapping, for the OpenAPI document."""
    return {code: (ConflictOut if code == 409 else ErrorOut) for code in codes}


class PageParams(Schema):
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


def page_envelope(request: HttpRequest, page: Page, items: list[Any]) -> dict[str, Any]:
    """{"items", "page", "page_size", "has_next", "next"}: the next page's URL keeps every
    query parameter of this request and only moves the page number (no total count: counting
    a million rows for every page is what DESIGN invariant 8 forbids)."""
    next_url = None
    if page.has_next:
        params = request.GET.copy()
        params["page"] = str(page.number + 1)
        params["page_size"] = str(page.size)
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return {
        "items": items,
        "page": page.number,
        "page_size": page.size,
        "has_next": page.has_next,
        "next": next_url,
    }


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
    response={200: list[DictionaryItemOut], **errors(401, 404)},
    summary="Entries of a configurable list",
    description=f"Active entries in display order. Kinds: {', '.join(KINDS)}.",
)
def dictionary_list(request: HttpRequest, kind: str):
    if kind not in KINDS:
        raise NotFoundError(_("There is no list called “%(kind)s”.") % {"kind": kind[:40]})
    return [{"code": i.code, "label": i.display_label} for i in dictionary_items(kind)]
