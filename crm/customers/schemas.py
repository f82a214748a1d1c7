"""Request and response bodies of the customers API (CUS-1..7).

The schemas check shapes and types only; the business rules (phone, email, credit code, name
rules, dictionary codes, duplicates) live once, in services.py, and answer with the same
field-level 422 body.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pydantic
from ninja import Schema
from pydantic import BeforeValidator, Field

from crm.core.api import (
    MAX_ID,
    Amount,
    Flag,
    Id,
    InputSchema,
    IsoDate,
    OutSchema,
    PageParams,
    ParamInt,
    Text,
    TotalOut,
    Version,
)
from crm.core.customfields_schemas import CustomIn, CustomOut, custom_in

CustomerTypeCode = Literal["enterprise", "individual"]
GradeCode = Literal["A", "B", "C"]
SortCode = Literal[
    "created", "-created", "name", "-name", "number", "-number", "grade", "-grade", "updated",
    "-updated",
]  # fmt: skip

# Query strings from forms send empty parameters for "any": read them as not given.
_empty_is_none = BeforeValidator(lambda v: None if v == "" else v)
_empty_is_default_sort = BeforeValidator(lambda v: v or "created")

# Input text: null is accepted wherever a field may be empty and means "empty".
OptText = Text | None


class ContactIn(InputSchema):
    name: Text
    title: OptText = ""
    phone: OptText = Field(default="", max_length=64)
    email: OptText = Field(default="", max_length=254)
    notes: OptText = ""
    is_primary: Flag = False
    custom: CustomIn = custom_in()


class ContactPatch(InputSchema):
    """Only the fields sent are changed."""

    name: Text = None  # type: ignore[assignment]  # optional, but null is not a name
    title: OptText = None
    phone: OptText = Field(default=None, max_length=64)
    email: OptText = Field(default=None, max_length=254)
    notes: OptText = None
    is_primary: Flag = None  # type: ignore[assignment]  # optional, but never null
    custom: CustomIn = custom_in(default_none=True)  # type: ignore[assignment]


class ContactOut(OutSchema):
    id: int
    name: str
    title: str
    phone: str = Field(description="Masked (138****5678) without the view_contact permission.")
    email: str = Field(description="Masked without the view_contact permission.")
    notes: str
    is_primary: bool
    custom: CustomOut = Field(default_factory=dict, description="The contacts' custom fields.")


class CustomerIn(InputSchema):
    type: CustomerTypeCode = "enterprise"
    name: Text
    industry: Text = Field(description="A code from GET /dictionaries/industry.")
    source: OptText = Field(default="", description="A code from GET /dictionaries/source.")
    grade: GradeCode = "C"
    status: Text = Field(
        default="potential", description="A code from GET /dictionaries/customer_status."
    )
    owner_id: Id | None = Field(default=None, description="Defaults to the caller.")
    phone: OptText = Field(default="", max_length=64)
    email: OptText = Field(default="", max_length=254)
    credit_code: OptText = Field(default="", max_length=40)
    address: OptText = ""
    background: OptText = ""
    remarks: OptText = ""
    first_contact_date: IsoDate | None = None
    requirement: OptText = ""
    budget: Amount | None = Field(default=None, description='Yuan, e.g. "150000.00".')
    decision_chain: OptText = ""
    competitors: OptText = ""
    custom: CustomIn = custom_in()
    contacts: list[ContactIn] = Field(
        default_factory=list,
        max_length=50,
        description="Enterprises need at least one; the first becomes primary unless one is "
        "marked. An individual without contacts is their own contact.",
    )
    confirm_duplicates: Flag = Field(
        default=False,
        description="Save despite same-phone/email warnings (409 duplicate_warning).",
    )


class CustomerPatch(InputSchema):
    """Only the fields sent are changed; `version` is the one the client last read."""

    version: Version
    confirm_duplicates: Flag = False
    # Optional, but null is not a value for these: they are left out unless sent.
    type: CustomerTypeCode = None  # type: ignore[assignment]
    name: Text = None  # type: ignore[assignment]
    industry: Text = None  # type: ignore[assignment]
    grade: GradeCode = None  # type: ignore[assignment]
    status: Text = Field(  # type: ignore[assignment]
        default=None,
        description="Only the current value is accepted (422 otherwise): the status changes "
        "through POST /customers/{id}/lifecycle.",
    )
    owner_id: Id = None  # type: ignore[assignment]
    source: OptText = None
    phone: OptText = Field(default=None, max_length=64)
    email: OptText = Field(default=None, max_length=254)
    credit_code: OptText = Field(default=None, max_length=40)
    address: OptText = None
    background: OptText = None
    remarks: OptText = None
    first_contact_date: IsoDate | None = None
    requirement: OptText = None
    budget: Amount | None = None
    decision_chain: OptText = None
    competitors: OptText = None
    custom: CustomIn = custom_in(default_none=True)  # type: ignore[assignment]


class CustomerOut(OutSchema):
    id: int
    number: str
    type: CustomerTypeCode
    type_label: str
    name: str
    industry: str
    industry_label: str
    source: str
    source_label: str
    grade: str
    status: str
    status_label: str
    owner_id: int | None = Field(description="Empty: the customer is in the public pool.")
    owner_name: str
    in_pool: bool = Field(default=False, description="In the public pool (no owner).")
    pool_entered_at: dt.datetime | None = Field(
        default=None, description="Since when the customer is in the public pool."
    )
    last_activity_at: dt.datetime | None = Field(
        default=None,
        description="The last follow-up, opportunity change or order (CUS-10); null: none yet.",
    )
    followup_overdue_since: dt.datetime | None = Field(
        default=None,
        description="Overdue by its grade's follow-up cadence since (FUP-3), as of the last "
        "sweep; null: within its cadence, or no clock.",
    )
    dormant_since: dt.datetime | None = Field(
        default=None, description="Dormant since (CUS-10), as of the last sweep; null: active."
    )
    phone: str = Field(description="Masked (138****5678) without the view_contact permission.")
    email: str = Field(description="Masked without the view_contact permission.")
    credit_code: str
    address: str
    background: str
    remarks: str
    first_contact_date: dt.date | None
    requirement: str
    budget: str | None = Field(description='Decimal string in yuan, e.g. "150000.00".')
    decision_chain: str
    competitors: str
    last_followup_at: dt.datetime | None
    next_followup_at: dt.datetime | None = Field(
        default=None, description="The earliest open plan of its follow-ups (FUP-2)."
    )
    custom: CustomOut = Field(description="Values of the active custom fields, {key: value}.")
    contacts: list[ContactOut]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = Field(
        default=None, description="Set while the customer is in the recycle bin."
    )


class CustomerPageOut(OutSchema):
    items: list[CustomerOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None = Field(description="URL of the next page, null on the last one.")
    total_approx: TotalOut | None = Field(
        default=None,
        description="Rows in the whole list: exact up to 10,000, else `exact` false.",
    )


class CustomerBulkIn(InputSchema):
    """One action on several customers; ids outside the caller's scope are left alone."""

    model_config = pydantic.ConfigDict(extra="forbid")

    action: Literal["transfer", "grade", "delete"]
    ids: list[Id] = Field(min_length=1, max_length=500)
    owner_id: Id | None = Field(default=None, description="For `transfer`: the new owner.")
    grade: GradeCode | None = Field(default=None, description="For `grade`: the new grade.")


class CustomerBulkOut(Schema):
    action: str
    changed: list[int] = Field(description="Ids of the customers changed.")
    skipped: list[int] = Field(
        description="Ids left alone: outside your scope, deleted, unknown, or already so."
    )
    message: str


class CustomerListParams(PageParams):
    q: Text = Field(
        default="",
        max_length=100,
        description="Name fragment, number, phone digits, contact name or pinyin initials.",
    )
    type: Annotated[CustomerTypeCode | None, _empty_is_none] = None
    industry: Text = ""
    grade: Annotated[GradeCode | None, _empty_is_none] = None
    source: Text = ""
    status: Text = ""
    owner_id: Annotated[ParamInt | None, _empty_is_none] = Field(default=None, ge=1, le=MAX_ID)
    created_from: Annotated[IsoDate | None, _empty_is_none] = None
    created_to: Annotated[IsoDate | None, _empty_is_none] = None
    overdue: Annotated[ParamInt | None, _empty_is_none] = Field(
        default=None,
        ge=0,
        le=1,
        description="1: only customers overdue by their follow-up cadence (FUP-3).",
    )
    dormant: Annotated[ParamInt | None, _empty_is_none] = Field(
        default=None,
        ge=0,
        le=1,
        description="1: only dormant customers (CUS-10: no activity for N days).",
    )
    sort: Annotated[SortCode, _empty_is_default_sort] = "created"


class ContactPageOut(OutSchema):
    items: list[ContactOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None


class ChangeOut(OutSchema):
    field: str
    before: Any = None
    after: Any = None
    contact: str | None = None


class HistoryEntryOut(OutSchema):
    id: int
    action: str
    action_label: str
    actor_id: int | None
    actor_name: str
    created_at: dt.datetime
    changes: list[ChangeOut]
    request_id: str


class HistoryPageOut(OutSchema):
    items: list[HistoryEntryOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None


class TimelineParams(PageParams):
    page_size: ParamInt = Field(default=30, ge=1, le=100)
    kind: list[Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=list,
        max_length=50,
        description="Only lines of these kinds: repeat the parameter (kind=won&kind=lost) or "
        "separate codes by commas (kind=won,lost). Unknown codes: 422 naming `kind`.",
    )


class TimelineLineOut(OutSchema):
    id: int
    kind: str = Field(
        description="created, field_change, contact_change, transfer, deleted, "
        "restored, followup, opportunity_created, stage_change, won, lost, "
        "reopened, milestone, file ..."
    )
    kind_label: str = Field(description="The kind in the request's language.")
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    text: str = Field(description="The line in the request's language.")
    object_type: str = Field(description="customer, opportunity, followup ...")
    object_id: int


class TimelinePageOut(OutSchema):
    items: list[TimelineLineOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None = Field(description="URL of the next (older) page, null on the last one.")
    previous: str | None = Field(
        default=None, description="URL of the previous (newer) page, null on the first one."
    )


class CustomerMergeIn(InputSchema):
    """Merge `from_id` into the customer of the URL (the survivor, CUS-6)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    from_id: Id = Field(description="The duplicate; it becomes a tombstone merged into this one.")
    keep: dict[str, Literal["self", "other"]] = Field(
        default_factory=dict,
        description="Per field, whose value the survivor keeps; fields not named keep `self`.",
    )
    version: Version = Field(description="The survivor's version as last read (409 when stale).")
