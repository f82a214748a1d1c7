"""Reads of the pipeline: scope, filters, search, kanban, pipeline, forecast, query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.errors import NotFoundError
from crm.customers.services import customer_delete, customer_transfer
from crm.sales.selectors import (
    OpportunityFilters,
    customer_opportunities,
    opportunity_forecast,
    opportunity_get,
    opportunity_kanban,
    opportunity_list,
    pipeline_summary,
    stage_history,
)
from crm.sales.services import opportunity_close_won, opportunity_move_stage
from crm.tests_support.factories import customer_make
from crm.tests_support.sales import opportunity_make, stage

pytestmark = pytest.mark.django_db


def _ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


def test_scope_rep_own_manager_team_other_team_not_found(org):
    # given opportunities of rep1, rep2 (the manager's team) and rep3 (the other team)
    a = opportunity_make(owner=org.rep1)
    b = opportunity_make(owner=org.rep2)
    c = opportunity_make(owner=org.rep3)
    # then each sees what their scope allows
    assert _ids(opportunity_list(user=org.rep1)) == {a.pk}
    assert _ids(opportunity_list(user=org.manager)) == {a.pk, b.pk}
    assert _ids(opportunity_list(user=org.admin)) == {a.pk, b.pk, c.pk}
    assert _ids(opportunity_list(user=org.service)) == {a.pk, b.pk, c.pk}
    with pytest.raises(NotFoundError):
        opportunity_get(user=org.rep1, opportunity_id=c.pk)
    with pytest.raises(NotFoundError):
        opportunity_get(user=org.manager, opportunity_id=c.pk)
    assert opportunity_get(user=org.manager2, opportunity_id=c.pk) == c


def test_an_opportunity_on_a_customer_the_reader_cannot_see_is_not_found(org):
    customer = customer_make(owner=org.rep1)
    opp = opportunity_make(owner=org.rep1, customer=customer)
    # the customer goes to rep3's team: rep1 still owns the opportunity but cannot open it
    customer_transfer(actor=org.admin, customer=customer, to_user=org.rep3)
    with pytest.raises(NotFoundError):
        opportunity_get(user=org.rep1, opportunity_id=opp.pk)
    assert not _ids(opportunity_list(user=org.rep1))
    # a customer in the recycle bin hides its opportunities from everybody
    other = opportunity_make(owner=org.manager, customer=customer_make(owner=org.manager))
    customer_delete(actor=org.manager, customer=other.customer)
    with pytest.raises(NotFoundError):
        opportunity_get(user=org.admin, opportunity_id=other.pk)


def test_filters_and_sorts(org):
    customer = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    small = opportunity_make(
        owner=org.rep1, customer=customer, amount="1000", expected_close_date="2027-01-15"
    )
    big = opportunity_make(owner=org.rep1, amount="900000", expected_close_date="2027-06-01")
    opportunity_move_stage(actor=org.rep1, opportunity=big, stage=stage("proposal"), version=1)

    def listed(**params):
        return [
            o.pk
            for o in opportunity_list(user=org.rep1, filters=OpportunityFilters.from_params(params))
        ]

    assert listed(stage_id=str(stage("proposal").pk)) == [big.pk]
    assert listed(customer_id=str(customer.pk)) == [small.pk]
    assert listed(amount_min="5000") == [big.pk]
    assert listed(amount_max="5000") == [small.pk]
    assert listed(expected_close_from="2027-02-01") == [big.pk]
    assert listed(expected_close_to="2027-02-01") == [small.pk]
    assert listed(sort="amount") == [big.pk, small.pk]
    assert listed(sort="-amount") == [small.pk, big.pk]
    assert listed(sort="close") == [small.pk, big.pk]
    assert listed(status="won") == []
    # odd values are ignored, not errors
    assert set(listed(stage_id="²", amount_min="NaN", sort="zzz", created_from="2026-02-30")) == {
        small.pk,
        big.pk,
    }


def test_search_by_number_name_pinyin_and_customer_name(org):
    customer = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    opp = opportunity_make(owner=org.rep1, customer=customer, name="办公设备采购")
    other = opportunity_make(owner=org.rep1, name="服务器扩容")

    def found(q):
        return _ids(opportunity_list(user=org.rep1, filters=OpportunityFilters(q=q)))

    assert found(opp.number) == {opp.pk}
    assert found("设备") == {opp.pk}
    assert found("bgsb") == {opp.pk}
    assert found("华科") == {opp.pk}
    assert found("bjhk") == {opp.pk}
    assert found("扩容") == {other.pk}
    assert found("华科 扩容") == set()


def test_kanban_columns_totals_and_cards(org):
    a = opportunity_make(owner=org.rep1, amount="1000")
    opportunity_make(owner=org.rep1, amount="3000")
    b = opportunity_make(owner=org.rep2, amount="5000")
    opportunity_move_stage(actor=org.rep2, opportunity=b, stage=stage("proposal"), version=1)
    opportunity_make(owner=org.rep3, amount="7000")
    columns = {c.stage.code: c for c in opportunity_kanban(user=org.manager)}
    assert list(columns) == ["initial", "needs", "proposal", "negotiation"]
    assert columns["initial"].count == 2 and columns["initial"].amount == Decimal("4000.00")
    assert columns["initial"].weighted_amount == Decimal("400.00")
    assert columns["proposal"].count == 1 and columns["proposal"].weighted_amount == Decimal(
        "2500.00"
    )
    assert [c.pk for c in columns["proposal"].cards] == [b.pk]
    # an owner filter and a search narrow the cards and the totals alike
    mine = {
        c.stage.code: c
        for c in opportunity_kanban(
            user=org.manager, filters=OpportunityFilters(owner_id=org.rep1.pk)
        )
    }
    assert mine["initial"].count == 2 and mine["proposal"].count == 0
    searched = {
        c.stage.code: c
        for c in opportunity_kanban(user=org.manager, filters=OpportunityFilters(q=a.number))
    }
    assert searched["initial"].count == 1 and searched["initial"].amount == Decimal("1000.00")
    assert [c.pk for c in searched["initial"].cards] == [a.pk]


def test_pipeline_and_forecast_within_the_scope(org):
    opportunity_make(owner=org.rep1, amount="1000", expected_close_date="2027-03-05")
    opportunity_make(owner=org.rep2, amount="2000", expected_close_date="2027-03-20")
    opportunity_make(owner=org.rep2, amount="500")
    won = opportunity_make(owner=org.rep1, amount="99999")
    opportunity_close_won(
        actor=org.rep1, opportunity=won, contract_no="x", actual_amount=1, version=1
    )
    opportunity_make(owner=org.rep3, amount="7000", expected_close_date="2027-03-01")
    pipe = {r["stage_id"]: r for r in pipeline_summary(user=org.manager)}
    assert pipe[stage("initial").pk]["count"] == 3
    assert pipe[stage("initial").pk]["amount"] == Decimal("3500.00")
    assert pipe[stage("initial").pk]["weighted_amount"] == Decimal("350.00")
    assert pipe[stage("needs").pk]["count"] == 0
    months = opportunity_forecast(user=org.manager, group="month")
    assert months == [
        {
            "month": "2027-03",
            "count": 2,
            "amount": Decimal("3000.00"),
            "weighted_amount": Decimal("300.00"),
        },
        {
            "month": None,
            "count": 1,
            "amount": Decimal("500.00"),
            "weighted_amount": Decimal("50.00"),
        },
    ]
    owners = opportunity_forecast(user=org.manager, group="owner")
    assert [(r["owner_name"], r["count"]) for r in owners] == [("张芳", 2), ("李明", 1)]
    assert [r["count"] for r in opportunity_forecast(user=org.rep1, group="owner")] == [1]


def test_customer_tab_totals(org):
    customer = customer_make(owner=org.rep1)
    opportunity_make(owner=org.rep1, customer=customer, amount="100")
    won = opportunity_make(owner=org.rep1, customer=customer, amount="200")
    opportunity_close_won(
        actor=org.rep1, opportunity=won, contract_no="x", actual_amount="250", version=1
    )
    summary = customer_opportunities(user=org.rep1, customer_id=customer.pk)
    assert summary["count"] == 2
    assert summary["open_amount"] == Decimal("100.00")
    assert summary["won_amount"] == Decimal("250.00")


# --- query counts constant in rows (DESIGN invariant 8) -------------------------------------


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.fixture
def one_and_twenty(org):
    def make(n):
        customer = customer_make(owner=org.rep1)
        for i in range(n):
            opp = opportunity_make(
                owner=org.rep1,
                customer=customer,
                expected_close_date=dt.date(2027, 1 + i % 12, 1).isoformat(),
            )
            if i % 3 == 1:
                opportunity_move_stage(
                    actor=org.rep1, opportunity=opp, stage=stage("needs"), version=1
                )
        return customer

    return make


@pytest.mark.parametrize(
    "read",
    [
        lambda u: [(o.owner.display_name, o.customer.name) for o in opportunity_list(user=u)],
        lambda u: [[c.pk for c in col.cards] for col in opportunity_kanban(user=u)],
        lambda u: pipeline_summary(user=u),
        lambda u: opportunity_forecast(user=u, group="month"),
        lambda u: opportunity_forecast(user=u, group="owner"),
    ],
    ids=["list", "kanban", "pipeline", "forecast-month", "forecast-owner"],
)
def test_reads_cost_the_same_queries_for_1_and_20_rows(org, one_and_twenty, read):
    one_and_twenty(1)
    read(org.rep1)  # warm the configuration caches
    one = _queries(lambda: read(org.rep1))
    one_and_twenty(20)
    read(org.rep1)
    twenty = _queries(lambda: read(org.rep1))
    assert one == twenty


def test_stage_history_query_count_is_constant(org):
    opp = opportunity_make(owner=org.rep1)
    read = lambda: [(c.actor.display_name, c.to_stage_id) for c in stage_history(opp)]  # noqa: E731
    read()
    one = _queries(read)
    version = 1
    for code in ["needs", "proposal", "negotiation", "needs", "initial"] * 4:
        opp = opportunity_move_stage(
            actor=org.rep1, opportunity=opp, stage=stage(code), version=version
        )
        version = opp.version
    assert _queries(read) == one
