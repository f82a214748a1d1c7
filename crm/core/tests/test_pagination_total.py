"""The approximate total of a list (issue 5 §4): exact up to a limit, never the whole table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.models import AuditEntry
from crm.core.pagination import Total, page_size_choice, page_total, paginate, total_approx

pytestmark = pytest.mark.django_db


def _rows(n: int) -> None:
    AuditEntry.objects.bulk_create(AuditEntry(action="login", actor_name=f"u{i}") for i in range(n))


def test_the_total_is_exact_up_to_the_limit():
    _rows(5)
    assert total_approx(AuditEntry.objects.all(), limit=5) == Total(count=5, exact=True)


def test_beyond_the_limit_the_total_says_only_more_than():
    _rows(7)
    total = total_approx(AuditEntry.objects.all(), limit=5)
    assert total == Total(count=5, exact=False)
    assert total.as_dict() == {"count": 5, "exact": False}


def test_the_count_reads_at_most_limit_plus_one_rows():
    """One COUNT over a LIMIT subquery: its cost is bounded whatever the table's size."""
    _rows(3)
    with CaptureQueriesContext(connection) as ctx:
        total_approx(AuditEntry.objects.select_related("actor").order_by("-id"), limit=10)
    assert len(ctx) == 1
    sql = ctx.captured_queries[0]["sql"].upper()
    assert "COUNT(" in sql and "LIMIT 11" in sql
    assert "JOIN" not in sql and "ORDER BY" not in sql


def test_the_last_page_knows_its_total_without_a_query():
    _rows(45)
    qs = AuditEntry.objects.order_by("id")
    last = paginate(qs, page=3, size=20)
    with CaptureQueriesContext(connection) as ctx:
        assert page_total(qs, last) == Total(count=45, exact=True)
    assert len(ctx) == 0
    first = paginate(qs, page=1, size=20)
    assert page_total(qs, first) == Total(count=45, exact=True)
    beyond = paginate(qs, page=9, size=20)
    assert page_total(qs, beyond) == Total(count=45, exact=True)


def test_the_display_groups_thousands():
    assert Total(count=10_000, exact=False).display == "10,000"


@pytest.mark.parametrize(
    ("value", "size"), [("50", 50), (100, 100), ("7", 20), ("x", 20), (None, 20)]
)
def test_only_the_offered_page_sizes_are_taken(value, size):
    assert page_size_choice(value) == size
