"""Request and response bodies of the follow-ups API (FUP-1, FUP-2; issue 6 §6).

Shapes and types only; the rules (method from the list, not in the future, next after this
one, author within scope, opportunity and contact of the customer) live in services.py and
answer with the same field-level 422 body.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from crm.core.api import (
    MAX_ID,
    Id,
    InputSchema,
    IsoDate,
    IsoDateTime,
    OutSchema,
    PageParams,
    ParamInt,
    Text,
    TotalOut,
    Version,
)
from crm.core.customfields_schemas import CustomIn, CustomOut, custom_in

_empty_is_none = BeforeValidator(lambda v: None if v == "" else v)
OptText = Text | None
PlannedCode = Literal["today", "overdue", "week"]


class FollowUpIn(InputSchema):
    customer_id: Id | None = Field(
        default=None,
        description="A customer the caller can see (404 otherwise); this or `lead_id`.",
    )
    lead_id: Id | None = Field(
        default=None,
        description="A lead not yet converted the caller can see (404 otherwise), instead of a "
        "customer: the first follow-up marks the lead contacted.",
    )
    opportunity_id: Id | None = Field(default=None, description="A live opportunity of it.")
    contact_id: Id | None = Field(default=None, description="A contact of the customer.")
    author_id: Id | None = Field(
        default=None,
        description="Whose follow-up it is; defaults to the caller. A manager may log one for "
        "a subordinate.",
    )
    method: Text = Field(description="A code from GET /dictionaries/followup_method.")
    occurred_at: IsoDateTime | None = Field(
        default=None,
        description="When it happened; defaults to now; not in the future. Without a zone: "
        "the company's (Asia/Shanghai).",
    )
    summary: Text = Field(description="What was discussed (required, at most 5,000 characters).")
    feedback: OptText = ""
    next_action: OptText = ""
    due_on: IsoDate | None = Field(default=None, description="Expected completion date.")
    next_at: IsoDateTime | None = Field(
        default=None, description="The planned next follow-up: after this one, still to come."
    )
    next_method: OptText = Field(default="", description="A followup_method code.")
    next_goal: OptText = Field(default="", description="At most 500 characters.")
    plan_id: Id | None = Field(
        default=None,
        description="The earlier follow-up whose open plan this one carries out: that plan is "
        "marked done.",
    )
    custom: CustomIn = custom_in()


class FollowUpPatch(InputSchema):
    """Only the fields sent are changed; `version` is the one the client last read. The
    customer stays (a different `customer_id` is refused)."""

    version: Version
    customer_id: Id = None  # type: ignore[assignment]  # optional, but never null
    lead_id: Id = None  # type: ignore[assignment]
    opportunity_id: Id | None = None
    contact_id: Id | None = None
    author_id: Id = None  # type: ignore[assignment]
    method: Text = None  # type: ignore[assignment]
    occurred_at: IsoDateTime = None  # type: ignore[assignment]
    summary: Text = None  # type: ignore[assignment]
    feedback: OptText = None
    next_action: OptText = None
    due_on: IsoDate | None = None
    next_at: IsoDateTime | None = None
    next_method: OptText = None
    next_goal: OptText = None
    custom: CustomIn = custom_in(default_none=True)  # type: ignore[assignment]


class FollowUpOut(OutSchema):
    id: int
    customer_id: int | None = Field(description="Null for a follow-up on a lead.")
    customer_name: str
    lead_id: int | None = Field(description="The lead it was logged on, if any.")
    opportunity_id: int | None
    contact_id: int | None
    author_id: int
    author_name: str
    method: str
    method_label: str
    occurred_at: dt.datetime
    summary: str
    feedback: str
    next_action: str
    due_on: dt.date | None
    next_at: dt.datetime | None
    next_method: str
    next_goal: str
    next_done_at: dt.datetime | None = Field(
        description="When the planned next step was done or closed; null while it is open."
    )
    next_done_by_id: int | None = Field(description="The follow-up that carried the plan out.")
    attachment_ids: list[int]
    custom: CustomOut = Field(description="Values of the active custom fields, {key: value}.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class FollowUpPageOut(OutSchema):
    items: list[FollowUpOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None = Field(description="URL of the next page, null on the last one.")
    total_approx: TotalOut | None = None


_OptId = Annotated[ParamInt | None, _empty_is_none]


class FollowUpListParams(PageParams):
    customer_id: _OptId = Field(default=None, ge=1, le=MAX_ID)
    lead_id: _OptId = Field(default=None, ge=1, le=MAX_ID)
    opportunity_id: _OptId = Field(default=None, ge=1, le=MAX_ID)
    author_id: _OptId = Field(default=None, ge=1, le=MAX_ID)
    occurred_from: Annotated[IsoDate | None, _empty_is_none] = None
    occurred_to: Annotated[IsoDate | None, _empty_is_none] = None
    planned: Annotated[PlannedCode | None, _empty_is_none] = Field(
        default=None,
        description="Open plans only: due today, overdue, or this week (Monday to Sunday), in "
        "the company's time zone; ordered by planned time.",
    )


# --- overdue by cadence (FUP-3, LEAD-3; issue 7 §7) ------------------------------------------


class OverdueParams(PageParams):
    type: Annotated[Literal["customer", "lead"] | None, _empty_is_none] = Field(
        default=None, description="Only customers or only leads; both by default."
    )
    owner_id: _OptId = Field(default=None, ge=1, le=MAX_ID, description="One owner's only.")


class OverdueItemOut(OutSchema):
    type: Literal["customer", "lead"]
    id: int
    name: str
    number: str
    grade: str
    owner_id: int | None
    last_followup_at: dt.datetime | None = Field(description="Null: never followed up.")
    due_since: dt.datetime = Field(
        description="When it became overdue: the last follow-up (else when its owner got it, "
        "else its creation) plus its grade's interval."
    )


class OverduePageOut(OutSchema):
    items: list[OverdueItemOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None = Field(description="URL of the next page, null on the last one.")
