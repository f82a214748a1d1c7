"""The `custom` member of every module's API bodies, and the custom-fields API bodies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt

from crm.core.api import Amount, Flag, InputSchema, OutSchema, Text
from crm.core.customfields import TYPES

CustomKey = Annotated[str, Field(max_length=40)]
CustomValue = StrictBool | StrictInt | StrictFloat | Text | list[Text] | None

CUSTOM_IN_DESCRIPTION = (
    "Custom field values as {key: value} (GET /custom-fields?module=... lists the keys). "
    "JSON forms: text/textarea/phone/email/url a string; integer a number; decimal a number "
    'or a string ("1250.50"); date "YYYY-MM-DD"; datetime ISO 8601; choice a code; '
    'multichoice a list of codes; bool true/false; user a user id; null or "" empties it. '
    "On PATCH only the keys sent change. An unknown key, a bad value or an empty required "
    "field: 422 naming `custom.<key>`."
)
CUSTOM_OUT_DESCRIPTION = (
    "Values of the module's active custom fields, {key: value} in the JSON forms listed on "
    "the input. Retired fields are left out (their values are kept)."
)


def custom_in(default_none: bool = False):
    """The `custom` field of an input schema (create: {}; patch: absent unless sent)."""
    if default_none:
        return Field(default=None, description=CUSTOM_IN_DESCRIPTION)
    return Field(default_factory=dict, description=CUSTOM_IN_DESCRIPTION)


CustomIn = dict[CustomKey, CustomValue]
CustomOut = dict[str, CustomValue]

FieldType = Literal[
    "text", "textarea", "integer", "decimal", "date", "datetime", "choice", "multichoice",
    "bool", "user", "phone", "email", "url",
]  # fmt: skip
assert set(FieldType.__args__) == set(TYPES)  # type: ignore[attr-defined]
ModuleCode = Annotated[Text, Field(max_length=30)]


class OptionIn(InputSchema):
    code: Annotated[Text, Field(max_length=40)]
    label: Annotated[Text, Field(max_length=80)]
    label_en: Annotated[Text, Field(max_length=80)] = ""


class OptionOut(OutSchema):
    code: str
    label: str = Field(description="In the request's language.")
    label_zh: str
    label_en: str
    active: bool


Bound = Amount | None


class CustomFieldIn(InputSchema):
    module: ModuleCode = Field(description="customers, contacts, leads, opportunities, followups")
    key: Annotated[Text, Field(max_length=40)] = Field(
        description="Lower-case letters, digits, underscores; unique in the module; fixed."
    )
    label: Annotated[Text, Field(max_length=100)] = Field(description="The Chinese label.")
    label_en: Annotated[Text, Field(max_length=100)] = ""
    type: FieldType = Field(description="Fixed once created.")
    required: Flag = False
    help: Annotated[Text, Field(max_length=400)] = ""
    position: StrictInt | None = Field(default=None, description="Defaults to the end.")
    active: Flag = True
    show_in_list: Flag = False
    min_value: Bound = Field(default=None, description="Integer and decimal fields only.")
    max_value: Bound = None
    options: list[OptionIn] | None = Field(
        default=None,
        max_length=200,
        description="Choice fields: the options, in order. On PATCH the list replaces the "
        "active options: codes left out are retired (records keep them).",
    )


class CustomFieldPatch(InputSchema):
    """Only the fields sent change; module, key and type are fixed (422 if changed)."""

    module: ModuleCode = None  # type: ignore[assignment]
    key: Annotated[Text, Field(max_length=40)] = None  # type: ignore[assignment]
    type: FieldType = None  # type: ignore[assignment]
    label: Annotated[Text, Field(max_length=100)] = None  # type: ignore[assignment]
    label_en: Annotated[Text, Field(max_length=100)] = None  # type: ignore[assignment]
    required: Flag = None  # type: ignore[assignment]
    help: Annotated[Text, Field(max_length=400)] = None  # type: ignore[assignment]
    position: StrictInt = None  # type: ignore[assignment]
    active: Flag = None  # type: ignore[assignment]
    show_in_list: Flag = None  # type: ignore[assignment]
    min_value: Bound = None
    max_value: Bound = None
    options: list[OptionIn] = Field(default=None, max_length=200)  # type: ignore[assignment]


class CustomFieldOut(OutSchema):
    id: int
    module: str
    key: str
    label: str = Field(description="The Chinese label.")
    label_en: str
    type: FieldType
    required: bool
    options: list[OptionOut] = Field(description="Choice fields' options; [] for the others.")
    help: str
    position: int
    active: bool
    show_in_list: bool
    min_value: str | None
    max_value: str | None


CUSTOM_FILTERS_DESCRIPTION = (
    " Custom fields filter too: `cf_<key>=value` (equality for text, choice, bool, user; "
    "repeat it or separate by commas for any of several), `cf_<key>=code` on a multiple "
    "choice (records having it), `cf_<key>_from=` / `cf_<key>_to=` (inclusive ranges for "
    "integer, decimal, date, datetime). Malformed values are ignored."
)
