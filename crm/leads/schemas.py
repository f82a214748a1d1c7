"""Request and response bodies of the leads API (issue 7 §7).

Shapes and types only; the rules (company and person names, phone, email, list codes, owner,
duplicates) live once, in services.py, and answer with the same field-level 422 body.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BeforeValidator, Field

from crm.core.api import (
    MAX_ID,
    Amount,
    Flag,
    Id,
    InputSchema,
    OutSchema,
    PageParams,
    Text,
    TotalOut,
    Version,
)
from crm.core.customfields_schemas import CustomIn, CustomOut, custom_in

GradeCode = Literal["A", "B", "C"]
StatusCode = Literal["new", "contacted", "qualified", "converted", "disqualified"]
SlaCode = Literal["on_time", "due_soon", "breached", "met", "none"]
SortCode = Literal[
    "created", "-created", "due", "-due", "number", "-number", "company", "-company", "updated",
]  # fmt: skip

_empty_is_none = BeforeValidator(lambda v: None if v == "" else v)
_empty_is_default_sort = BeforeValidator(lambda v: v or "created")
OptText = Text | None


def _owner_param(value: Any) -> Any:
    """`none` (unassigned) or an owner's id; anything else fails the pattern (422)."""
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text.isascii() and text.isdigit() and not 1 <= int(text) <= MAX_ID:
        return "out of range"
    return text


OwnerParam = Annotated[
    Annotated[str, Field(pattern=r"^(none|[0-9]{1,19})$")] | None,
    BeforeValidator(_owner_param),
]


class LeadIn(InputSchema):
    company: Text = Field(description="The company's name (required).")
    name: Text = Field(description="The contact person (required).")
    title: OptText = ""
    phone: OptText = Field(default="", max_length=64, description="This or `email` (or both).")
    email: OptText = Field(default="", max_length=254)
    source: OptText = Field(default="", description="A code from GET /dictionaries/source.")
    grade: GradeCode = Field(
        default="B",
        description="A: clear need, budget and authority; B: potential need; C: no clear need. "
        "Sets the first-contact deadline (A 24 h, B 48 h, C none by default).",
    )
    owner_id: Id | None = Field(
        default=None,
        description="Empty: unassigned for users who may assign leads (the assignment rules "
        "may then give it an owner), else the caller. Another user needs leads.assign.",
    )
    region: OptText = Field(default="", description="A code from GET /dictionaries/region.")
    requirement: OptText = ""
    budget: Amount | None = Field(default=None, description='Yuan, e.g. "150000.00".')
    notes: OptText = ""
    custom: CustomIn = custom_in()
    status: OptText = Field(
        default=None, description="Not settable: a new lead is `new` (422 otherwise)."
    )
    confirm_duplicates: Flag = Field(
        default=False,
        description="Save despite the matching customers or open leads (409 duplicate_warning).",
    )


class LeadPatch(InputSchema):
    """Only the fields sent are changed; `version` is the one the client last read. The
    status is not changed here (follow-ups, convert, disqualify)."""

    version: Version
    confirm_duplicates: Flag = False
    company: Text = None  # type: ignore[assignment]  # optional, but null is not a name
    name: Text = None  # type: ignore[assignment]
    grade: GradeCode = None  # type: ignore[assignment]
    owner_id: Id | None = None
    title: OptText = None
    phone: OptText = Field(default=None, max_length=64)
    email: OptText = Field(default=None, max_length=254)
    source: OptText = None
    region: OptText = None
    requirement: OptText = None
    budget: Amount | None = None
    notes: OptText = None
    custom: CustomIn = custom_in(default_none=True)  # type: ignore[assignment]
    status: OptText = Field(
        default=None,
        description="Not settable here (422): the first follow-up marks a lead contacted; "
        "conversion and disqualification have their own routes.",
    )


class LeadOut(OutSchema):
    id: int
    number: str
    company: str
    name: str
    title: str
    phone: str
    email: str
    source: str
    source_label: str
    grade: GradeCode
    status: StatusCode
    status_label: str
    owner_id: int | None = Field(description="Null: unassigned.")
    owner_name: str
    region: str
    region_label: str
    requirement: str
    budget: str | None = Field(description='Decimal string in yuan, e.g. "150000.00".')
    notes: str
    first_contact_due_at: dt.datetime | None = Field(
        description="The first-contact deadline from the grade; null when it has none."
    )
    first_contacted_at: dt.datetime | None
    sla_state: SlaCode = Field(
        description="As of the last sweep, settled at once by the first follow-up (met)."
    )
    last_followup_at: dt.datetime | None
    converted_customer_id: int | None
    converted_opportunity_id: int | None
    disqualify_reason: str
    custom: CustomOut = Field(description="Values of the active custom fields, {key: value}.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class LeadPageOut(OutSchema):
    items: list[LeadOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None = Field(description="URL of the next page, null on the last one.")
    total_approx: TotalOut | None = Field(
        default=None,
        description="Rows in the whole list: exact up to 10,000, else `exact` false.",
    )


class LeadListParams(PageParams):
    q: Text = Field(
        default="",
        max_length=100,
        description="Number, company, contact person, phone digits, email or pinyin initials.",
    )
    status: Annotated[StatusCode | None, _empty_is_none] = None
    grade: Annotated[GradeCode | None, _empty_is_none] = None
    owner_id: OwnerParam = Field(default=None, description="An owner's id, or `none`.")
    source: Text = ""
    sla_state: Annotated[SlaCode | None, _empty_is_none] = None
    sort: Annotated[SortCode, _empty_is_default_sort] = "created"


class LeadMergeIn(InputSchema):
    """Merge `from_id` into the lead of the URL (the survivor), as for customers."""

    model_config = pydantic.ConfigDict(extra="forbid")

    from_id: Id = Field(description="The duplicate; it becomes a tombstone merged into this one.")
    keep: dict[str, Literal["self", "other"]] = Field(
        default_factory=dict,
        description="Per field, whose value the survivor keeps; fields not named keep `self`.",
    )
    version: Version = Field(description="The survivor's version as last read (409 when stale).")
