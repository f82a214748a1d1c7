"""Opportunities in imports and exports (issue 8 §2 §3): the opportunity list's rows."""

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


def opportunity_columns() -> list[Column]:
    from crm.customers.models import Customer
    from crm.sales.models import Opportunity
    from crm.sales.stages import stages_all

    o = Opportunity
    stages = tuple((s.code, s.display_name) for s in stages_all())
    return [
        field_column(o, "number", "text"),
        field_column(o, "name", "text"),
        # The customer by its number (unique: what an import matches) and by its name.
        Column("customer.number", Customer._meta.get_field("number").verbose_name, "text"),
        Column("customer.name", o._meta.get_field("customer").verbose_name, "text"),
        Column("stage", o._meta.get_field("stage").verbose_name, "choice", choices=stages),
        field_column(o, "status", "choice", importable=False),
        field_column(o, "amount", "decimal"),
        field_column(o, "expected_close_date", "date"),
        field_column(o, "probability", "integer"),
        field_column(o, "owner", "user"),
        field_column(o, "source", "choice", dictionary="source"),
        field_column(o, "contract_no", "text"),
        field_column(o, "actual_amount", "decimal"),
        field_column(o, "closed_on", "date"),
        field_column(o, "lost_reason", "choice", dictionary="opportunity_lost_reason"),
        field_column(o, "description", "textarea"),
        field_column(o, "competitors", "textarea"),
        field_column(o, "created_at", "datetime", importable=False),
        *custom_columns("opportunities"),
    ]


def opportunity_rows(user: Any, params: Any) -> QuerySet:
    """Exactly the opportunity list page: its filter parsing and its selector, every
    column loaded (the list reads a few)."""
    from crm.sales.selectors import OpportunityFilters, opportunity_list

    qs = opportunity_list(user=user, filters=OpportunityFilters.from_params(params))
    return qs.defer(None).defer("search_blob", "customer__search_blob", "customer__search_document")


def opportunity_deleted_rows(user: Any, params: Any) -> QuerySet:
    from crm.sales.selectors import opportunities_deleted_visible_to

    return (
        opportunities_deleted_visible_to(user)
        .select_related("customer", "owner")
        .defer("search_blob", "customer__search_blob", "customer__search_document")
        .order_by("-deleted_at", "-id")
    )


def opportunity_value(obj: Any, column: Column) -> Any:
    if column.key == "stage":
        # The cached pipeline (crm.sales.stages), not a join per row.
        from crm.sales.stages import stage_info

        info = stage_info(obj.stage_id)
        return info.code if info else None
    return attribute_value(obj, column)


def register() -> None:
    from crm.sales.imports import IMPORT_SPEC

    dataio_module_register(
        DataModule(
            key="opportunities",
            label=_("Opportunities"),
            permission="opportunities",
            columns=opportunity_columns,
            rows=opportunity_rows,
            value=opportunity_value,
            deleted_rows=opportunity_deleted_rows,
            importer=IMPORT_SPEC,
        )
    )
