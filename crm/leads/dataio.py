"""Leads in imports and exports (issue 8 §2 §3): the lead list's columns and rows."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.dataio.registry import (
    Column,
    DataModule,
    attribute_value,
    custom_columns,
    dataio_module_register,
    field_column,
)

NOT_EXPORTED = ("search_blob", "search_document")


def lead_columns() -> list[Column]:
    from crm.leads.models import Lead

    return [
        field_column(Lead, "number", "text"),
        field_column(Lead, "company", "text"),
        field_column(Lead, "name", "text"),
        field_column(Lead, "title", "text"),
        field_column(Lead, "phone", "phone"),
        field_column(Lead, "email", "email"),
        field_column(Lead, "source", "choice", dictionary="source"),
        field_column(Lead, "grade", "choice"),
        field_column(Lead, "status", "choice", importable=False),
        field_column(Lead, "owner", "user"),
        field_column(Lead, "region", "choice", dictionary="region"),
        field_column(Lead, "budget", "decimal"),
        field_column(Lead, "requirement", "textarea"),
        field_column(Lead, "notes", "textarea"),
        field_column(Lead, "sla_state", "choice", importable=False),
        field_column(Lead, "last_followup_at", "datetime", importable=False),
        field_column(Lead, "created_at", "datetime", importable=False),
        *custom_columns("leads"),
    ]


def lead_rows(user: Any, params: Any) -> QuerySet:
    """Exactly the lead list page: its filter parsing and its selector (long texts loaded)."""
    from crm.leads.selectors import LeadFilters, lead_list

    qs = lead_list(user=user, filters=LeadFilters.from_params(params))
    return qs.defer(None).defer(*NOT_EXPORTED)


def lead_deleted_rows(user: Any, params: Any) -> QuerySet:
    from crm.leads.selectors import leads_deleted_visible_to

    return (
        leads_deleted_visible_to(user)
        .select_related("owner")
        .defer(*NOT_EXPORTED)
        .order_by("-deleted_at", "-id")
    )


def register() -> None:
    from crm.leads.imports import IMPORT_SPEC

    dataio_module_register(
        DataModule(
            key="leads",
            label=_("Leads"),
            permission="leads",
            columns=lead_columns,
            rows=lead_rows,
            value=attribute_value,
            deleted_rows=lead_deleted_rows,
            importer=IMPORT_SPEC,
        )
    )
