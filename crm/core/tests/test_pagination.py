"""DESIGN invariant 8: pages never count the whole table; bad page parameters never fail."""

from __future__ import annotations

import pytest

from crm.core.models import SystemSetting
from crm.core.pagination import MAX_PAGE_SIZE, paginate


@pytest.fixture
def rows(db):
    SystemSetting.objects.bulk_create(SystemSetting(key=f"k{i:02d}", value=i) for i in range(25))
    return SystemSetting.objects.order_by("key")


def keys(page) -> list[str]:
    return [row.key for row in page.items]


def test_a_full_page_says_there_is_a_next_one_without_counting(rows, django_assert_num_queries):
    with django_assert_num_queries(1) as ctx:
        page = paginate(rows, page=1, size=10)
    assert "COUNT" not in ctx.captured_queries[0]["sql"].upper()
    assert keys(page) == [f"k{i:02d}" for i in range(10)]
    assert page.has_next and not page.has_previous
    assert (page.next_number, page.previous_number) == (2, None)
    assert (page.start_index, page.end_index) == (1, 10)


def test_the_last_page_has_no_next(rows):
    page = paginate(rows, page=3, size=10)
    assert keys(page) == ["k20", "k21", "k22", "k23", "k24"]
    assert not page.has_next and page.has_previous
    assert (page.start_index, page.end_index) == (21, 25)


def test_an_exactly_full_last_page_has_no_next(rows):
    page = paginate(rows, page=5, size=5)
    assert len(page.items) == 5 and not page.has_next


def test_a_page_beyond_the_end_is_empty_and_has_no_next(rows):
    page = paginate(rows, page=9, size=10)
    assert page.items == [] and not page.has_next
    assert page.number == 9 and page.has_previous
    assert (page.start_index, page.end_index) == (0, 80)


@pytest.mark.parametrize(
    ("page", "size", "number", "expected_size"),
    [
        ("abc", "xyz", 1, 20),  # garbage: first page, default size
        (None, None, 1, 20),
        ("", "", 1, 20),
        ("0", "0", 1, 1),
        ("-3", "-5", 1, 1),
        ("2", "1000", 2, MAX_PAGE_SIZE),  # nobody downloads the table through a page
        ("99999999999999999999", "10", 100_000, 10),
        ("2.5", "10", 1, 10),
        (" 2 ", " 5 ", 2, 5),
    ],
)
def test_bad_page_parameters_are_clamped(rows, page, size, number, expected_size):
    result = paginate(rows, page=page, size=size)
    assert (result.number, result.size) == (number, expected_size)
    assert len(result.items) <= expected_size
