"""Customer reads (SYS-1 lists, SYS-5 scope): filters, search, constant query counts.

The search tests run on SQLite and on PostgreSQL (DATABASE_URL=postgres://...); on
PostgreSQL the GIN index over the n-gram document narrows the rows first, and the results
must be the same as SQLite's plain scan.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from crm.accounts.models import User
from crm.core.configstate import config_scope
from crm.core.errors import NotFoundError
from crm.core.pagination import paginate
from crm.core.text import name_fold
from crm.core.validators import credit_code_with_checksum
from crm.customers.models import Customer
from crm.customers.selectors import (
    CustomerFilters,
    contact_get,
    customer_get,
    customer_list,
    customer_search,
)
from crm.customers.services import customer_delete
from crm.tests_support.factories import customer_make

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
CREDIT_CODE = credit_code_with_checksum("91110108MA0100000")


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def names(user, **filters) -> set[str]:
    return {c.name for c in customer_list(user=fresh(user), filters=CustomerFilters(**filters))}


def found(user, q: str) -> set[str]:
    return names(user, q=q)


@pytest.fixture
def book(org, monkeypatch):
    """A few customers with telling names, phones and contacts, created in May 2026."""
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 5, 15, 10, tzinfo=SHANGHAI))

    def make(owner, name, phone, contacts, **fields):
        return customer_make(
            owner=owner,
            actor=owner if owner.username.startswith("rep") else None,
            name=name,
            phone=phone,
            contacts=[{"name": n, "phone": p} for n, p in contacts],
            **fields,
        )

    o = org
    beijing = make(
        o.rep1,
        "北京华科技术有限公司",
        "13812345678",
        [("王伟", "13966617777")],
        email="info@huake.cn",
        credit_code=CREDIT_CODE,
        grade="A",
        industry="it",
        source="website",
    )
    shanghai = make(
        o.rep1,
        "上海华科电子有限公司",
        "021-87654321",
        [("欧阳娜娜", "13955556666")],
        grade="B",
        industry="manufacturing",
        source="trade_show",
        status="intent",
    )
    shenzhen = make(
        o.rep2,
        "深圳未来科技有限公司",
        "13700001234",
        [("李强", "13699998888")],
        grade="C",
        industry="it",
        source="referral",
        type="enterprise",
    )
    person = make(
        o.rep2, "陈静", "13511113333", [], type="individual", grade="B", industry="education"
    )
    other_team = make(
        o.rep3,
        "北京华科测试有限公司",
        "13822224444",
        [("赵磊", "13633335555")],
        grade="A",
        industry="finance",
    )
    return SimpleNamespace(
        org=org,
        beijing=beijing,
        shanghai=shanghai,
        shenzhen=shenzhen,
        person=person,
        other_team=other_team,
    )


ALL_FIVE = {
    "北京华科技术有限公司",
    "上海华科电子有限公司",
    "深圳未来科技有限公司",
    "陈静",
    "北京华科测试有限公司",
}


# --- filters --------------------------------------------------------------------------------


def test_each_filter_narrows_the_list(book):
    admin = book.org.admin
    assert names(admin) == ALL_FIVE
    assert names(admin, type="individual") == {"陈静"}
    assert names(admin, industry="it") == {"北京华科技术有限公司", "深圳未来科技有限公司"}
    assert names(admin, grade="A") == {"北京华科技术有限公司", "北京华科测试有限公司"}
    assert names(admin, source="trade_show") == {"上海华科电子有限公司"}
    assert names(admin, status="intent") == {"上海华科电子有限公司"}
    assert names(admin, owner_id=book.org.rep2.pk) == {"深圳未来科技有限公司", "陈静"}
    assert names(admin, grade="A", industry="it") == {"北京华科技术有限公司"}


def test_the_created_range_is_inclusive_in_local_days(book):
    admin = book.org.admin
    # created 2026-05-15 10:00 in Shanghai (02:00 UTC)
    assert names(admin, created_from=dt.date(2026, 5, 15)) == ALL_FIVE
    assert names(admin, created_to=dt.date(2026, 5, 15)) == ALL_FIVE
    assert names(admin, created_from=dt.date(2026, 5, 16)) == set()
    assert names(admin, created_to=dt.date(2026, 5, 14)) == set()
    # calendar edges typed into the filter do not overflow
    assert names(admin, created_from=dt.date.min, created_to=dt.date.max) == ALL_FIVE


def test_filters_limit_to_the_scope(book):
    assert names(book.org.rep1) == {"北京华科技术有限公司", "上海华科电子有限公司"}
    assert names(book.org.rep1, owner_id=book.org.rep2.pk) == set()
    assert names(book.org.manager, grade="A") == {"北京华科技术有限公司"}


def test_deleted_customers_leave_the_list(book):
    customer_delete(actor=book.org.admin, customer=book.person)
    assert "陈静" not in names(book.org.admin)


def test_filters_from_query_parameters_ignore_malformed_values():
    f = CustomerFilters.from_params(
        {
            "q": "  华科  ",
            "grade": "A",
            "owner": "12abc",
            "created_from": "2026-02-30",
            "created_to": "2026-05-01",
            "sort": "evil; DROP TABLE",
        }
    )
    assert (f.q, f.grade, f.owner_id, f.created_from) == ("华科", "A", None, None)
    assert f.created_to == dt.date(2026, 5, 1)
    assert f.sort == "created"
    assert CustomerFilters.from_params({"owner_id": "7", "sort": "-name"}).owner_id == 7


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        ("name", "北京华科测试有限公司"),  # by pinyin: bjhkcs < bjhkjs < cj < shhk < szwl
        ("-name", "深圳未来科技有限公司"),
        ("grade", "北京华科测试有限公司"),
    ],
)
def test_sorts(book, sort, first):
    rows = list(customer_list(user=fresh(book.org.admin), filters=CustomerFilters(sort=sort)))
    assert rows[0].name == first


# --- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Chinese fragments of 1, 2 and 4 characters
        ("华", {"北京华科技术有限公司", "上海华科电子有限公司", "北京华科测试有限公司"}),
        ("华科", {"北京华科技术有限公司", "上海华科电子有限公司", "北京华科测试有限公司"}),
        ("华科技术", {"北京华科技术有限公司"}),
        ("未来科技", {"深圳未来科技有限公司"}),
        ("静", {"陈静"}),
        # 4 phone digits: the customer's and a contact's
        ("5678", {"北京华科技术有限公司"}),
        ("6666", {"上海华科电子有限公司"}),
        ("138 1234 5678", {"北京华科技术有限公司"}),
        # a landline as it is shown, and its digits
        ("021-87654321", {"上海华科电子有限公司"}),
        ("87654321", {"上海华科电子有限公司"}),
        # contact names
        ("欧阳", {"上海华科电子有限公司"}),
        ("李强", {"深圳未来科技有限公司"}),
        # pinyin initials, of the name and of a contact, any run of them
        ("bjhk", {"北京华科技术有限公司", "北京华科测试有限公司"}),
        ("BJHKJS", {"北京华科技术有限公司"}),
        ("hkdz", {"上海华科电子有限公司"}),
        ("oynn", {"上海华科电子有限公司"}),
        # email and credit code
        ("huake.cn", {"北京华科技术有限公司"}),
        (CREDIT_CODE[:10].lower(), {"北京华科技术有限公司"}),
        # several terms: every one must match, each anywhere
        ("华科 5678", {"北京华科技术有限公司"}),
        ("科技 深圳", {"深圳未来科技有限公司"}),
        ("华科 不存在", set()),
        # no index token at all (two digits): the plain scan still answers
        ("12", {"北京华科技术有限公司", "深圳未来科技有限公司"}),
        ("不存在的公司", set()),
    ],
)
def test_search_finds_by_every_kind_of_fragment(book, q, expected):
    assert found(book.org.admin, q) == expected


def test_search_by_number_fragments(book):
    number = book.shanghai.number  # KH2026050002
    assert found(book.org.admin, number) == {"上海华科电子有限公司"}
    assert found(book.org.admin, number.lower()) == {"上海华科电子有限公司"}
    assert found(book.org.admin, number[2:]) == {"上海华科电子有限公司"}  # digits only
    assert found(book.org.admin, "KH202605") == ALL_FIVE


def test_search_is_limited_to_the_scope(book):
    assert found(book.org.rep1, "华科") == {"北京华科技术有限公司", "上海华科电子有限公司"}
    assert found(book.org.rep1, "bjhk") == {"北京华科技术有限公司"}
    assert found(book.org.rep1, "李强") == set()  # rep2's customer's contact
    assert found(book.org.manager2, "华科") == {"北京华科测试有限公司"}
    assert found(book.org.service, "华科") == {
        "北京华科技术有限公司",
        "上海华科电子有限公司",
        "北京华科测试有限公司",
    }


def test_search_and_filters_combine(book):
    assert names(book.org.admin, q="华科", grade="A") == {
        "北京华科技术有限公司",
        "北京华科测试有限公司",
    }
    assert names(book.org.admin, q="华科", owner_id=book.org.rep3.pk) == {"北京华科测试有限公司"}


def test_a_blank_query_lists_everything(book):
    assert found(book.org.admin, "   ") == ALL_FIVE


def _fragments(customer: Customer) -> set[str]:
    """Every 1- to 4-character fragment of every text a search may match."""
    texts = customer.search_blob.split(" | ")
    return {t[i : i + n] for t in texts for n in (1, 2, 3, 4) for i in range(len(t) - n + 1)}


def test_the_index_never_drops_a_match(book):
    # For every fragment of every customer's texts, the database path (on PostgreSQL: the GIN
    # index, then the exact check) returns exactly the customers whose texts contain it.
    rows = list(Customer.objects.all())
    fragments = sorted(set().union(*(_fragments(c) for c in rows)))
    assert len(fragments) > 300
    mismatches = []
    for q in fragments:
        folded = name_fold(q)
        if not folded:
            continue
        expected = {c.pk for c in rows if folded in c.search_blob}
        got = set(customer_search(Customer.objects.all(), q).values_list("pk", flat=True))
        if got != expected:
            mismatches.append((q, expected, got))
    assert mismatches == []


@pytest.mark.postgres
def test_postgresql_search_uses_the_gin_index(book):
    if connection.vendor != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    for q in ("华科", "北京华科", "5678", "bjhk"):
        plan = customer_search(Customer.objects.all(), q).explain()
        assert "cust_search_gin" in plan, plan


# --- query counts (invariant 8) -------------------------------------------------------------


@pytest.mark.parametrize("username", ["rep1", "manager", "admin"])
@pytest.mark.parametrize("q", ["", "华科", "bjhk"])
def test_the_list_query_count_does_not_grow_with_rows(org, username, q, django_assert_num_queries):
    user = getattr(org, username)
    owner = org.rep1

    def page_queries() -> int:
        with config_scope():  # the process has parsed grants and the team already
            customer_list(user=fresh(user))
        viewer = fresh(user)
        # A request's worth: the configuration stamp, the page, the primary contacts.
        with config_scope(), django_assert_num_queries(3) as ctx:
            page = paginate(customer_list(user=viewer, filters=CustomerFilters(q=q)), size=20)
            for customer in page.items:
                _ = (customer.owner.display_name, customer.primary_contacts)
        return len(page.items), len(ctx.captured_queries)

    customer_make(owner=owner, name="北京华科技术有限公司")
    one = page_queries()
    for i in range(19):
        customer_make(owner=owner, name=f"北京华科第{i:02d}技术有限公司")
    twenty = page_queries()
    assert (one[0], twenty[0]) == (1, 20)
    assert one[1] == twenty[1]


# --- single records -------------------------------------------------------------------------


def test_customer_get_is_404_outside_the_scope_never_403(book):
    org = book.org
    assert customer_get(user=fresh(org.rep1), customer_id=book.beijing.pk) == book.beijing
    for user, customer_id in [
        (org.rep1, book.shenzhen.pk),  # a colleague's
        (org.rep1, book.other_team.pk),
        (org.manager, book.other_team.pk),
        (org.rep1, 10**9),  # missing
        (org.rep1, "abc"),  # garbage
        (org.rep1, None),
    ]:
        with pytest.raises(NotFoundError):
            customer_get(user=fresh(user), customer_id=customer_id)


def test_deleted_customers_need_include_deleted(book):
    org = book.org
    customer_delete(actor=org.manager, customer=book.beijing)
    with pytest.raises(NotFoundError):
        customer_get(user=fresh(org.manager), customer_id=book.beijing.pk)
    got = customer_get(user=fresh(org.manager), customer_id=book.beijing.pk, include_deleted=True)
    assert got.is_deleted
    with pytest.raises(NotFoundError):  # the bin is scoped too
        customer_get(user=fresh(org.manager2), customer_id=book.beijing.pk, include_deleted=True)


def test_contact_get_follows_its_customers_scope(book):
    org = book.org
    wang = book.beijing.contacts.get()
    assert contact_get(user=fresh(org.manager), contact_id=wang.pk) == wang
    with pytest.raises(NotFoundError):
        contact_get(user=fresh(org.rep2), contact_id=wang.pk)
    customer_delete(actor=org.manager, customer=book.beijing)
    with pytest.raises(NotFoundError):
        contact_get(user=fresh(org.manager), contact_id=wang.pk)


def test_every_fragment_pair_of_a_long_name_is_needed(book):
    # 4 characters = 3 pairs that must all be present, in this order, in one text
    assert found(book.org.admin, "京华科技") == {"北京华科技术有限公司"}
    assert found(book.org.admin, "科技华京") == set()
    assert found(book.org.admin, "".join(itertools.repeat("华", 2))) == set()
