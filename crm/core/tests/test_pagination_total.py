"""The approximate total of a list (issue 5 §4): exact up to a limit, never the whole table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core import pagination
from crm.core.models import AuditEntry
from crm.core.pagination import Total, page_size_choice, page_total, paginate, total_approx

pytestmark = pytest.mark.django_db


@pytest.fixture
def counted(monkeypatch):
    """Lists the planner does not expect to pass the limit: they are counted (the tests' tiny
    limits are below PostgreSQL's estimate for any table)."""
    monkeypatch.setattr(pagination, "_planner_estimate", lambda qs: 1)


def _rows(n: int) -> None:
    AuditEntry.objects.bulk_create(AuditEntry(action="login", actor_name=f"u{i}") for i in range(n))


def test_the_total_is_exact_up_to_the_limit(counted):
    _rows(5)
    assert total_approx(AuditEntry.objects.all(), limit=5) == Total(count=5, exact=True)


def test_beyond_the_limit_the_total_says_only_more_than(counted):
    _rows(7)
    total = total_approx(AuditEntry.objects.all(), limit=5)
    assert total == Total(count=5, exact=False)
    assert total.as_dict() == {"count": 5, "exact": False, "estimated": False}


def test_the_count_reads_at_most_limit_plus_one_rows(counted):
    """One COUNT over a LIMIT subquery: its cost is bounded whatever the table's size."""
    _rows(3)
    with CaptureQueriesContext(connection) as ctx:
        total_approx(AuditEntry.objects.select_related("actor").order_by("-id"), limit=10)
    counts = [q["sql"].upper() for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    assert "LIMIT 11" in counts[0]
    assert "JOIN" not in counts[0] and "ORDER BY" not in counts[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner estimate")
def test_on_postgresql_a_long_list_is_estimated_not_counted(monkeypatch):
    """A bounded count of 10,001 rows among a million can cost more than the page (130 ms for
    grade A and one industry at 1M customers): beyond the limit the planner's estimate,
    rounded to two significant digits, is the answer, and no COUNT runs."""
    _rows(3)
    assert pagination._planner_estimate(AuditEntry.objects.values("pk")) >= 1
    monkeypatch.setattr(pagination, "_planner_estimate", lambda qs: 1_000_428)
    with CaptureQueriesContext(connection) as ctx:
        total = total_approx(AuditEntry.objects.all(), limit=10)
    assert total == Total(count=1_000_000, exact=False, estimated=True)
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statement timeout")
def test_on_postgresql_a_count_that_runs_out_of_time_answers_with_the_estimate(monkeypatch):
    """The planner expects few rows, but finding them is slow (a rep's filtered million): the
    bounded count gets COUNT_BUDGET_MS, then the estimate answers and the request goes on."""
    _rows(3)
    monkeypatch.setattr(pagination, "_planner_estimate", lambda qs: 42)
    monkeypatch.setattr(pagination, "COUNT_BUDGET_MS", 5)
    slow = AuditEntry.objects.extra(where=["pg_sleep(0.05)::text = ''"])  # 50 ms per row

    assert total_approx(slow, limit=10) == Total(count=42, exact=False, estimated=True)
    # the connection is usable and has its own timeout back
    assert AuditEntry.objects.count() == 3
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


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
