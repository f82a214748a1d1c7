"""The overdue follow-ups page and API (FUP-3, LEAD-3; issue 7 §3, §7), the customers list's
overdue/dormant filters, the dormant page and Settings → Clocks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.accounts.services import api_token_create
from crm.activities.clocks import followup_cadence_sweep
from crm.core.config import setting_get
from crm.customers.clocks import customers_dormant_sweep
from crm.tests_support.clocks import backdate, lead_row_make
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def _overdue_world(org, n=3):
    now = timezone.now()
    made = {"rep1": [], "rep3": []}
    for who in ("rep1", "rep3"):
        owner = getattr(org, who)
        for i in range(n):
            made[who].append(
                backdate(
                    customer_make(owner=owner, grade="B"),
                    last_followup_at=now - (20 + i) * DAY,
                    last_activity_at=now - (100 + i) * DAY,
                )
            )
        lead = lead_row_make(owner=owner, grade="B", created_at=now - 40 * DAY)
        made[who].append(lead)
    followup_cadence_sweep(now=now)
    customers_dormant_sweep(now=now)
    return made


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _api(user):
    _token, raw = api_token_create(user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_page_lists_own_overdue_and_manager_summary(org):
    made = _overdue_world(org)
    rep = _client(org.rep1).get(reverse("activities:overdue"))
    assert rep.status_code == 200
    body = rep.content.decode()
    assert made["rep1"][0].name in body and made["rep3"][0].name not in body
    assert made["rep1"][-1].company in body  # the lead
    assert 'data-testid="overdue-summary"' not in body  # a rep sees only their own
    admin = _client(org.admin).get(reverse("activities:overdue")).content.decode()
    assert admin.count('data-testid="summary-row"') == 2
    assert admin.count('data-testid="overdue-row"') == 8
    # Longest overdue first: the lead (40 days, due 14) before the customers (due 7 days).
    manager = _client(org.manager).get(reverse("activities:overdue") + "?type=customer")
    text = manager.content.decode()
    assert text.count('data-testid="overdue-row"') == 3
    assert made["rep3"][0].name not in text


def test_follow_up_takes_it_off_at_once(org):
    from crm.tests_support.activities import followup_make

    made = _overdue_world(org, n=1)
    followup_make(customer=made["rep1"][0], ago=dt.timedelta(minutes=1))
    body = _client(org.rep1).get(reverse("activities:overdue")).content.decode()
    assert made["rep1"][0].name not in body


def test_api_items_and_pagination(org):
    _overdue_world(org)
    answer = _api(org.admin).get("/api/v1/followups/overdue?page_size=5").json()
    assert len(answer["items"]) == 5 and answer["has_next"]
    item = answer["items"][0]
    assert set(item) == {
        "type",
        "id",
        "name",
        "number",
        "grade",
        "owner_id",
        "last_followup_at",
        "due_since",
    }
    assert item["type"] == "lead" and item["last_followup_at"] is None
    dues = [i["due_since"] for i in answer["items"]]
    assert dues == sorted(dues)
    second = _api(org.admin).get(answer["next"]).json()
    assert len(second["items"]) == 3 and not second["has_next"]
    rep = _api(org.rep1).get("/api/v1/followups/overdue?type=customer").json()
    assert {i["owner_id"] for i in rep["items"]} == {org.rep1.pk}
    assert len(rep["items"]) == 3
    assert _api(org.finance).get("/api/v1/followups/overdue").status_code == 403


@pytest.mark.parametrize("n", [1, 6])
def test_query_counts_constant_in_rows(org, n, django_assert_num_queries):
    _overdue_world(org, n=n)
    client = _client(org.admin)
    client.get(reverse("activities:overdue"))  # warm the configuration
    with django_assert_num_queries(9):
        assert client.get(reverse("activities:overdue")).status_code == 200
    api = _api(org.admin)
    api.get("/api/v1/followups/overdue")
    with django_assert_num_queries(4):
        assert api.get("/api/v1/followups/overdue").status_code == 200


def test_customer_list_filters(org):
    made = _overdue_world(org, n=2)
    fresh = customer_make(owner=org.rep1)
    client = _client(org.rep1)
    body = client.get(reverse("customers:list") + "?overdue=1").content.decode()
    assert made["rep1"][0].name in body and fresh.name not in body
    assert 'data-testid="filter-overdue"' in body
    assert 'data-testid="badge-overdue"' in body and 'data-testid="badge-dormant"' in body
    api = _api(org.rep1)
    items = api.get("/api/v1/customers?dormant=1&overdue=1").json()["items"]
    assert {c["name"] for c in items} == {c.name for c in made["rep1"][:2]}
    assert all(c["dormant_since"] and c["followup_overdue_since"] for c in items)
    assert api.get("/api/v1/customers?dormant=").status_code == 200
    assert api.get("/api/v1/customers?dormant=maybe").status_code == 422


def test_dormant_page(org):
    made = _overdue_world(org, n=2)
    body = _client(org.rep1).get(reverse("customers:dormant")).content.decode()
    assert body.count('data-testid="dormant-row"') == 2
    assert made["rep3"][0].name not in body
    manager = _client(org.manager).get(reverse("customers:dormant")).content.decode()
    assert manager.count('data-testid="dormant-row"') == 2
    assert (
        _client(org.admin)
        .get(reverse("customers:dormant"))
        .content.decode()
        .count('data-testid="dormant-row"')
        == 4
    )


def test_settings_clocks_page(org):
    client = _client(org.admin)
    assert client.get(reverse("settings:clocks")).status_code == 200
    data = {
        "lead_sla_hours_A": "12",
        "lead_sla_hours_B": "48",
        "lead_sla_hours_C": "",
        "lead_sla_due_soon_hours": "2",
        "customer_cadence_days_A": "3.5",
        "customer_cadence_days_B": "",
        "customer_cadence_days_C": "10",
        "lead_cadence_days_A": "7",
        "lead_cadence_days_B": "14",
        "lead_cadence_days_C": "30",
        "dormant_days": "60",
    }
    response = client.post(reverse("settings:clocks"), data)
    assert response.status_code == 302
    assert setting_get("lead_sla_hours") == {"A": 12, "B": 48, "C": None}
    assert setting_get("customer_cadence_days")["B"] is None
    assert setting_get("dormant_days") == 60
    bad = client.post(
        reverse("settings:clocks"), {**data, "dormant_days": "0", "lead_sla_hours_A": "x"}
    )
    assert bad.status_code == 422
    assert setting_get("dormant_days") == 60 and setting_get("lead_sla_hours")["A"] == 12
    assert _client(org.manager).get(reverse("settings:clocks")).status_code == 403


@pytest.mark.parametrize("n", [1, 5])
def test_dormant_page_query_count_constant(org, n, django_assert_num_queries):
    _overdue_world(org, n=n)
    client = _client(org.admin)
    client.get(reverse("customers:dormant"))
    with django_assert_num_queries(7):
        assert client.get(reverse("customers:dormant")).status_code == 200


def test_counts_computed_without_a_sweep_serve_the_next_views(db, django_assert_num_queries):
    """An emptied cache (Redis restarted) costs the first view the grouped counts, not every
    view until the next sweep."""
    from django.core.cache import cache

    from crm.activities.clocks import COUNTS_KEY, overdue_counts

    cache.delete(COUNTS_KEY)
    first = overdue_counts()
    with django_assert_num_queries(0):
        assert overdue_counts() == first
