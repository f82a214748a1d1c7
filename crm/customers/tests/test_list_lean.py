"""Issue 5 §6: a list page's cost is its SQL and formatting, nothing per row besides.

A 20-row API page runs four queries (the token with its user, the configuration stamp, the
page, its contacts) and never reaches Django's cache or unpickles anything: dictionary labels,
grants and scope come from the process's parsed configuration.
"""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.accounts.models import ApiToken
from crm.accounts.services import api_token_authenticate, api_token_create
from crm.tests_support.api import ApiClient
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


def two_contacts(i: int) -> list[dict]:
    return [
        {"name": f"联系人{i}甲", "phone": f"1381234{i:04d}", "is_primary": True},
        {"name": f"联系人{i}乙", "phone": f"1391234{i:04d}"},
    ]


def test_a_twenty_row_api_page_runs_four_queries_and_unpickles_nothing(org, monkeypatch):
    for i in range(20):
        customer_make(owner=org.rep1 if i % 2 else org.rep2, contacts=two_contacts(i))
    _token, raw = api_token_create(user=org.manager, name="ERP")
    api = ApiClient(token=raw)
    assert api.get("customers").status_code == 200  # the process parses the configuration

    def refuse(*args, **kwargs):
        raise AssertionError("a list page must not read Django's cache or unpickle")

    monkeypatch.setattr(cache, "get", refuse)
    monkeypatch.setattr(cache, "get_many", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("customers")
    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == 20
    assert all(len(item["contacts"]) == 2 for item in body["items"])
    assert {item["industry_label"] for item in body["items"]} <= {"信息技术", "制造业"}
    tables = [q["sql"].split(" FROM ")[1].split()[0].strip('"') for q in ctx.captured_queries]
    assert tables == [
        "accounts_apitoken",  # joined with its user
        "core_configstamp",
        "customers_customer",  # joined with the owner
        "customers_contact",
    ]


def test_token_authentication_is_one_query_and_stamps_its_use_once_a_minute(
    org, django_assert_num_queries
):
    token, raw = api_token_create(user=org.rep1, name="ERP")
    with django_assert_num_queries(2):  # the token with its user; its first use is recorded
        assert api_token_authenticate(raw) == org.rep1
    with django_assert_num_queries(1):  # used seconds ago: nothing to record
        user = api_token_authenticate(raw)
    assert user == org.rep1 and user.department_id == org.rep1.department_id
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now() - dt.timedelta(seconds=61)
    )
    with django_assert_num_queries(2):
        api_token_authenticate(raw)


def test_the_web_list_reads_labels_and_grants_without_the_cache_either(org, client, monkeypatch):
    for i in range(20):
        customer_make(owner=org.rep1, contacts=two_contacts(i))
    client.force_login(org.manager)
    assert client.get("/customers/").status_code == 200  # the process parses the configuration

    def refuse(*args, **kwargs):
        raise AssertionError("the customer list must not read Django's cache or unpickle")

    monkeypatch.setattr(cache, "get", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/customers/")
    assert response.status_code == 200
    assert len(response.context["page"].items) == 20
    stamp_reads = [q for q in ctx.captured_queries if "core_configstamp" in q["sql"]]
    assert len(stamp_reads) == 1
