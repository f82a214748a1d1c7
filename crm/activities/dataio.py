"""Follow-ups in imports and exports (issue 8 §2 §3): the follow-up list's rows."""

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


def followup_columns() -> list[Column]:
    from crm.activities.models import FollowUp
    from crm.customers.models import Customer
    from crm.leads.models import Lead
    from crm.sales.models import Opportunity

    f = FollowUp
    return [
        # What the follow-up hangs on, by number (what an import matches) and name.
        Column("customer.number", Customer._meta.get_field("number").verbose_name, "text"),
        Column("customer.name", f._meta.get_field("customer").verbose_name, "text"),
        Column("lead.number", Lead._meta.get_field("number").verbose_name, "text"),
        Column("opportunity.number", Opportunity._meta.get_field("number").verbose_name, "text"),
        Column("contact.name", f._meta.get_field("contact").verbose_name, "text"),
        field_column(f, "author", "user"),
        field_column(f, "method", "choice", dictionary="followup_method"),
        field_column(f, "occurred_at", "datetime"),
        field_column(f, "summary", "textarea"),
        field_column(f, "feedback", "textarea"),
        field_column(f, "next_action", "textarea"),
        field_column(f, "due_on", "date"),
        field_column(f, "next_at", "datetime"),
        field_column(f, "next_method", "choice", dictionary="followup_method"),
        field_column(f, "next_goal", "text"),
        field_column(f, "created_at", "datetime", importable=False),
        *custom_columns("followups"),
    ]


def followup_rows(user: Any, params: Any) -> QuerySet:
    """Exactly the follow-up list page: its filter parsing and its selector (which fetches
    customer, lead, author, contact and opportunity in the same query)."""
    from crm.activities.selectors import FollowUpFilters, followup_list

    return followup_list(user=user, filters=FollowUpFilters.from_params(params))


def followup_deleted_rows(user: Any, params: Any) -> QuerySet:
    from crm.activities.selectors import LIST_FIELDS, LIST_RELATED, followups_deleted_visible_to

    return (
        followups_deleted_visible_to(user)
        .select_related(*LIST_RELATED)
        .only(*LIST_FIELDS)
        .order_by("-deleted_at", "-id")
    )


def register() -> None:
    from crm.activities.imports import IMPORT_SPEC

    dataio_module_register(
        DataModule(
            key="followups",
            label=_("Follow-ups"),
            permission="followups",
            columns=followup_columns,
            rows=followup_rows,
            value=attribute_value,
            deleted_rows=followup_deleted_rows,
            importer=IMPORT_SPEC,
        )
    )
