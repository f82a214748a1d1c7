"""Customers and their contacts in imports and exports (issue 8 §2 §3).

The customers module carries the primary contact's columns ("contact.*"), so one sheet
imports a company with the person to call; the contacts module lists every contact of the
customers the list shows.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from crm.dataio.registry import (
    Column,
    DataModule,
    attribute_value,
    custom_columns,
    dataio_module_register,
    field_column,
)

# Long texts the list defers are cells of the export; the search columns stay in the table.
NOT_EXPORTED = ("search_blob", "search_document")


def customer_columns() -> list[Column]:
    from crm.customers.models import Customer

    c = Customer
    return [
        field_column(c, "number", "text"),
        field_column(c, "name", "text"),
        field_column(c, "type", "choice"),
        field_column(c, "industry", "choice", dictionary="industry"),
        field_column(c, "source", "choice", dictionary="source"),
        field_column(c, "grade", "choice"),
        field_column(c, "status", "choice", dictionary="customer_status"),
        field_column(c, "owner", "user"),
        field_column(c, "phone", "phone"),
        field_column(c, "email", "email"),
        field_column(c, "credit_code", "text"),
        field_column(c, "address", "text"),
        field_column(c, "first_contact_date", "date"),
        field_column(c, "budget", "decimal"),
        field_column(c, "requirement", "textarea"),
        field_column(c, "background", "textarea"),
        field_column(c, "decision_chain", "textarea"),
        field_column(c, "competitors", "textarea"),
        field_column(c, "remarks", "textarea"),
        # The primary contact: labelled apart from the customer's own name/phone/email.
        Column("contact.name", _("Contact name"), "text"),
        Column("contact.title", _("Contact title"), "text"),
        Column("contact.phone", _("Contact phone"), "phone", personal=True),
        Column("contact.email", _("Contact email"), "email", personal=True),
        field_column(c, "last_followup_at", "datetime", importable=False),
        field_column(c, "next_followup_at", "datetime", importable=False),
        field_column(c, "created_at", "datetime", importable=False),
        # Custom fields (crm.core.customfields), in their position order.
        *custom_columns("customers"),
    ]


def _customer_rows(qs: QuerySet) -> QuerySet:
    """The list's query with every exported column loaded (the list defers long texts)."""
    return qs.defer(None).defer(*NOT_EXPORTED)


def customer_rows(user: Any, params: Any) -> QuerySet:
    """Exactly the customer list page: its filter parsing and its selector."""
    from crm.customers.selectors import CustomerFilters, customer_list

    return _customer_rows(customer_list(user=user, filters=CustomerFilters.from_params(params)))


def customer_deleted_rows(user: Any, params: Any) -> QuerySet:
    """The recycle bin as its page lists it: most recently deleted first."""
    from crm.customers.models import Contact
    from crm.customers.selectors import customers_deleted_visible_to

    return (
        customers_deleted_visible_to(user)
        .select_related("owner")
        .prefetch_related(
            Prefetch(
                "contacts",
                queryset=Contact.objects.filter(is_primary=True),
                to_attr="primary_contacts",
            )
        )
        .defer(*NOT_EXPORTED)
        .order_by("-deleted_at", "-id")
    )


def customer_value(obj: Any, column: Column) -> Any:
    if column.key.startswith("contact."):
        # Prefetched by the list selector (primary_contacts), one query per chunk.
        contacts = getattr(obj, "primary_contacts", None) or []
        contact = contacts[0] if contacts else None
        return getattr(contact, column.key.removeprefix("contact."), None) if contact else None
    return attribute_value(obj, column)


def contact_columns() -> list[Column]:
    from crm.customers.models import Contact, Customer

    return [
        # Which customer the contact belongs to: its number (unique) and name (readable).
        Column("customer.number", Customer._meta.get_field("number").verbose_name, "text"),
        Column("customer.name", Contact._meta.get_field("customer").verbose_name, "text"),
        field_column(Contact, "name", "text"),
        field_column(Contact, "title", "text"),
        field_column(Contact, "phone", "phone"),
        field_column(Contact, "email", "email"),
        field_column(Contact, "is_primary", "bool"),
        field_column(Contact, "notes", "textarea"),
        *custom_columns("contacts"),
    ]


def contact_rows(user: Any, params: Any) -> QuerySet:
    """The contacts of the customers the customer list shows with these filters, grouped by
    customer (no second scope rule: the customer list's selector decides)."""
    from crm.customers.models import Contact
    from crm.customers.selectors import CustomerFilters, customer_list

    customers = customer_list(user=user, filters=CustomerFilters.from_params(params))
    return (
        Contact.objects.filter(customer__in=customers.values("pk"))
        .select_related("customer")
        .defer("customer__search_blob", "customer__search_document")
        .order_by("customer_id", "-is_primary", "id")
    )


def register() -> None:
    from crm.customers.imports import IMPORT_SPEC

    dataio_module_register(
        DataModule(
            key="customers",
            label=_("Customers"),
            permission="customers",
            columns=customer_columns,
            rows=customer_rows,
            value=customer_value,
            deleted_rows=customer_deleted_rows,
            importer=IMPORT_SPEC,
        )
    )
    dataio_module_register(
        DataModule(
            key="contacts",
            label=_("Contacts"),
            permission="customers",
            columns=contact_columns,
            rows=contact_rows,
            value=attribute_value,
        )
    )
