"""On PostgreSQL the custom-field filters are served by indexes (issue 8 §1: "indexes that
keep lists fast"): equality and membership by the GIN (jsonb_path_ops) index of `custom`,
ranges by the btree expression index built when a number field is defined."""

from __future__ import annotations

import pytest
from django.db import connection

from crm.core.customfields_filters import custom_filters_parse
from crm.customers.models import Customer
from crm.customers.selectors import CustomerFilters, customer_list
from crm.tests_support.customfields import custom_field_make
from crm.tests_support.factories import customer_make

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
]


def _company(owner, custom: dict, n: int = 3000) -> Customer:
    """One customer with `custom` among `n` live customers with other values, analysed: a
    table the size of a small company's, so the planner weighs the indexes as in use."""
    customer = customer_make(owner=owner, name="索引测试科技有限公司")
    template = {
        f.attname: getattr(customer, f.attname)
        for f in Customer._meta.concrete_fields
        if f.attname not in ("id", "number")
    }
    Customer.objects.bulk_create(
        [
            Customer(**{**template, "number": f"IDX{i:06d}", "custom": {"size": f"x{i % 50}"}})
            for i in range(n)
        ],
        batch_size=1000,
    )
    Customer.objects.filter(pk=customer.pk).update(custom=custom)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    return customer


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        # A plan that reads the whole table would hide whether an index matches the filter.
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def test_a_cf_equality_filter_on_customers_uses_the_gin_index(org):
    custom_field_make("customers", "size", "choice", label="企业规模")
    customer = _company(org.rep1, {"size": "m"})
    filters = CustomerFilters(custom=custom_filters_parse("customers", {"cf_size": "m"}))
    rows = customer_list(user=org.admin, filters=filters)
    assert [c.pk for c in rows] == [customer.pk]
    plan = _plan(rows)
    assert "customers_customer_custom_gin" in plan, plan


def test_a_multichoice_membership_filter_uses_the_gin_index(org):
    custom_field_make("customers", "products", "multichoice", label="意向产品")
    _company(org.rep1, {"products": ["s"]})
    filters = CustomerFilters(custom=custom_filters_parse("customers", {"cf_products": "s"}))
    plan = _plan(customer_list(user=org.admin, filters=filters))
    assert "customers_customer_custom_gin" in plan, plan


def test_a_number_range_filter_uses_the_fields_expression_index(
    org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        custom_field_make("customers", "revenue", "decimal", label="年营业额(万元)")
    _company(org.rep1, {"revenue": "1000.00"})
    filters = CustomerFilters(custom=custom_filters_parse("customers", {"cf_revenue_from": "100"}))
    plan = _plan(customer_list(user=org.admin, filters=filters))
    assert "cf_customers_customer_revenue" in plan, plan
