"""Request and response bodies of the accounts API (tokens, the current user, deactivation)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field

from crm.core.api import Id, InputSchema, Text


class TokenIn(InputSchema):
    username: Text = Field(max_length=150)
    password: Text = Field(max_length=4096)
    name: Text = Field(
        default="",
        max_length=80,
        description="What the token is for (shown on the user's API tokens page).",
    )


class TokenOut(Schema):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; shown only once.")
    name: str
    prefix: str


class DepartmentOut(Schema):
    id: int
    name: str


class RoleOut(Schema):
    code: str
    name: str


class GrantOut(Schema):
    actions: list[str]
    scope: str | None = Field(
        description="own, subordinates, department, department_tree or all; null for modules "
        "without owned records."
    )


class MeOut(Schema):
    id: int
    username: str
    full_name: str
    display_name: str
    email: str
    department: DepartmentOut | None
    supervisor_id: int | None
    roles: list[RoleOut]
    permissions: dict[str, GrantOut] = Field(
        description="Effective function permissions and data scope per module."
    )
    must_change_password: bool


class DeactivateIn(InputSchema):
    transfer_to: Id | None = Field(
        default=None,
        description="User who receives every record of the deactivated user (optional).",
    )


class DeactivateOut(Schema):
    id: int
    username: str
    is_active: bool
    deactivated_at: dt.datetime | None
    transferred: dict[str, int] = Field(description="Records transferred, per module.")
