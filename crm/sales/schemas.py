"""Request and response bodies of the opportunities API (issue 6 §6).

Shapes and types only; the rules (required fields, amounts, dictionaries, stage moves) live in
services.py and answer with the same field-level 422 body.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StrictInt

from crm.core.api import (
    MAX_ID,
    Amount,
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

_empty_is_none = BeforeValidator(lambda v: None if v == "" else v)
_empty_is_default_sort = BeforeValidator(lambda v: v or "created")
OptText = Text | None
StatusCode = Literal["open", "won", "lost"]
KindCode = Literal["open", "won", "lost"]
SortCode = Literal[
    "created", "-created", "name", "-name", "number", "-number", "amount", "-amount", "close",
    "-close", "updated",
]  # fmt: skip


class StageOut(OutSchema):
    id: int
    name: str = Field(description="In the request's language.")
    position: int
    probability: int = Field(description="Win probability in percent, 0–100.")
    kind: KindCode
    is_active: bool = True
    entry_criteria: str = ""


class OpportunityIn(InputSchema):
    customer_id: Id
    name: Text = Field(max_length=500)
    contact_id: Id | None = None
    owner_id: Id | None = Field(default=None, description="Defaults to the caller.")
    amount: Amount | None = Field(default=None, description='Yuan, e.g. "120000.00".')
    expected_close_date: IsoDate | None = None
    probability: Annotated[StrictInt, Field(ge=0, le=100)] | None = Field(
        default=None, description="Set by hand; omitted or null: the stage's probability."
    )
    description: OptText = ""
    competitors: OptText = ""
    source: OptText = Field(default="", description="A code from GET /dictionaries/source.")
    custom: CustomIn = custom_in()


class OpportunityPatch(InputSchema):
    """Only the fields sent are changed; `version` is the one the client last read. The stage
    and the status change through /stage, /win, /lose and /reopen."""

    version: Version
    name: Text = Field(default=None, max_length=500)  # type: ignore[assignment]
    contact_id: Id | None = None
    owner_id: Id = None  # type: ignore[assignment]
    amount: Amount | None = None
    expected_close_date: IsoDate | None = None
    probability: Annotated[StrictInt, Field(ge=0, le=100)] | None = Field(
        default=None, description="null: follow the stage's probability again."
    )
    description: OptText = None
    competitors: OptText = None
    source: OptText = None
    custom: CustomIn = custom_in(default_none=True)  # type: ignore[assignment]


class StageMoveIn(InputSchema):
    stage_id: Id
    version: Version


class WinIn(InputSchema):
    contract_no: OptText = Field(default=None, max_length=200)
    actual_amount: Amount | None = None
    closed_on: IsoDate | None = Field(default=None, description="Defaults to today.")
    version: Version


class LoseIn(InputSchema):
    lost_reason: OptText = Field(
        default=None, description="A code from GET /dictionaries/opportunity_lost_reason."
    )
    lost_note: OptText = ""
    version: Version


class ReopenIn(InputSchema):
    version: Version


class OpportunityOut(OutSchema):
    id: int
    number: str
    name: str
    customer_id: int
    customer_name: str
    contact_id: int | None
    owner_id: int
    owner_name: str
    stage_id: int
    stage_name: str
    status: StatusCode
    amount: str = Field(description='Decimal string in yuan, e.g. "120000.00".')
    probability: int
    probability_manual: bool
    weighted_amount: str
    expected_close_date: dt.date | None
    description: str
    competitors: str
    source: str
    contract_no: str
    actual_amount: str | None
    closed_on: dt.date | None
    lost_reason: str
    lost_note: str
    stage_entered_at: dt.datetime
    custom: CustomOut = Field(description="Values of the active custom fields, {key: value}.")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class OpportunityPageOut(OutSchema):
    items: list[OpportunityOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None
    total_approx: TotalOut | None = None


class OpportunityListParams(PageParams):
    q: Text = Field(
        default="", max_length=100, description="Number, name, customer name, pinyin initials."
    )
    stage_id: Annotated[ParamInt | None, _empty_is_none] = Field(default=None, ge=1, le=MAX_ID)
    status: Annotated[StatusCode | None, _empty_is_none] = None
    owner_id: Annotated[ParamInt | None, _empty_is_none] = Field(default=None, ge=1, le=MAX_ID)
    customer_id: Annotated[ParamInt | None, _empty_is_none] = Field(default=None, ge=1, le=MAX_ID)
    expected_close_from: Annotated[IsoDate | None, _empty_is_none] = None
    expected_close_to: Annotated[IsoDate | None, _empty_is_none] = None
    sort: Annotated[SortCode, _empty_is_default_sort] = "created"


class StageChangeOut(OutSchema):
    from_stage_id: int | None
    to_stage_id: int
    actor_id: int | None
    changed_at: dt.datetime
    seconds_in_previous: int


class StageHistoryOut(OutSchema):
    items: list[StageChangeOut]


class MilestoneIn(InputSchema):
    kind: OptText = Field(default=None, description="A code from GET /dictionaries/milestone.")
    occurred_on: IsoDate | None = None
    note: OptText = ""


class MilestoneOut(OutSchema):
    id: int
    kind: str
    kind_label: str
    occurred_on: dt.date
    note: str
    created_by_id: int | None
    created_at: dt.datetime


class MilestonesOut(OutSchema):
    items: list[MilestoneOut]


class PipelineRowOut(OutSchema):
    stage_id: int
    name: str
    probability: int
    count: int
    amount: str
    weighted_amount: str


class ForecastRowOut(OutSchema):
    month: str | None = Field(
        default=None, description="group=month: yyyy-mm, null for no expected date."
    )
    owner_id: int | None = Field(default=None, description="group=owner.")
    owner_name: str | None = None
    count: int
    amount: str = Field(description="Best case: the sum of the amounts.")
    weighted_amount: str = Field(description="The sum of amount × probability.")


class ForecastOut(OutSchema):
    group: Literal["month", "owner"]
    items: list[ForecastRowOut]
