"""The global search's results page (/search/?q=, issue 6 §4): each module's hits within the
viewer's data scope, "see all" links to the module's list, the top bar's form."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.tests_support.factories import UserFactory, customer_make
from crm.web import search as search_registry
from crm.web.search import SearchHit, search_provider_register

pytestmark = pytest.mark.django_db
SEARCH = reverse("search")


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def hits_in(html: str) -> list[str]:
    return re.findall(r'<a class="search-hit-title" href="[^"]+">([^<]+)</a>', html)


def test_a_query_lists_matching_customers_with_number_owner_and_grade(client, org):
    customer = customer_make(owner=org.rep1, name="北京华科信息技术有限公司", grade="A")
    customer_make(owner=org.rep1, name="上海振华重工股份有限公司")
    client.force_login(org.rep1)
    html = client.get(SEARCH, {"q": "华科"}).content.decode()
    assert hits_in(html) == ["北京华科信息技术有限公司"]
    assert f'href="/customers/{customer.pk}/"' in html
    assert f"{customer.number} · {org.rep1.display_name} · A (key)" in html
    assert 'href="/customers/?q=%E5%8D%8E%E7%A7%91"' in html  # see all, in the list


def test_pinyin_initials_and_phone_digits_find_the_customer(client, org):
    customer_make(owner=org.rep1, name="北京华科信息技术有限公司", phone="13812345678")
    client.force_login(org.rep1)
    assert hits_in(client.get(SEARCH, {"q": "bjhk"}).content.decode()) == [
        "北京华科信息技术有限公司"
    ]
    assert hits_in(client.get(SEARCH, {"q": "12345678"}).content.decode()) == [
        "北京华科信息技术有限公司"
    ]


def test_the_search_stays_inside_the_viewers_scope(client, org):
    # given rep1's customer
    customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    # when rep3 (the other team) searches for it, then nothing is found
    client.force_login(org.rep3)
    html = client.get(SEARCH, {"q": "华科"}).content.decode()
    assert hits_in(html) == [] and 'data-testid="search-empty"' in html
    # while the manager of rep1's team finds it
    client.force_login(org.manager)
    assert hits_in(client.get(SEARCH, {"q": "华科"}).content.decode()) == [
        "北京华科信息技术有限公司"
    ]


def test_at_most_eight_hits_per_module_with_a_link_to_all(client, org):
    for i in range(10):
        customer_make(owner=org.rep1, name=f"华科第{i}分公司有限公司")
    client.force_login(org.rep1)
    html = client.get(SEARCH, {"q": "华科"}).content.decode()
    assert len(hits_in(html)) == 8
    assert "See all" in html and "The first 8 matches are shown." in html


def test_a_customer_number_with_a_single_hit_opens_the_customer(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    response = client.get(SEARCH, {"q": customer.number.lower()})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    # a name with a single hit is listed, not opened
    assert client.get(SEARCH, {"q": customer.name}).status_code == 200


def test_an_empty_query_asks_what_to_look_for(client, org):
    client.force_login(org.rep1)
    html = client.get(SEARCH).content.decode()
    assert "What are you looking for?" in html and hits_in(html) == []
    assert "What are you looking for?" in client.get(SEARCH, {"q": "   "}).content.decode()


def test_odd_queries_are_answered(client, org):
    client.force_login(org.rep1)
    for q in ("\x00", "%", "_", "'", "x" * 5000, "😀", "KH"):
        assert client.get(SEARCH, {"q": q}).status_code == 200, q


def test_a_user_without_any_searchable_module_is_told_so(client, org):
    client.force_login(UserFactory())
    html = client.get(SEARCH, {"q": "华科"}).content.decode()
    assert "Nothing to search" in html


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(SEARCH, {"q": "x"})
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_every_visible_provider_gets_its_section_in_position_order(client, org):
    customer_make(owner=org.rep1, name="华科信息技术有限公司")
    saved = dict(search_registry._PROVIDERS)
    try:
        search_provider_register(
            code="t_first",
            label="First module",
            position=1,
            search=lambda *, user, q, limit: [SearchHit(title=f"hit {q}", url="/x/")],
            more_url=lambda q: "/first/?q=" + q,
            visible=lambda user: True,
        )
        search_provider_register(
            code="t_hidden",
            label="Hidden module",
            position=2,
            search=lambda *, user, q, limit: [SearchHit(title="secret", url="/y/")],
            more_url=lambda q: "/hidden/",
            visible=lambda user: False,
        )
        client.force_login(org.rep1)
        html = client.get(SEARCH, {"q": "华科"}).content.decode()
    finally:
        search_registry._PROVIDERS.clear()
        search_registry._PROVIDERS.update(saved)
    assert hits_in(html) == ["hit 华科", "华科信息技术有限公司"]
    assert "Hidden module" not in html and "secret" not in html
    assert 'href="/first/?q=华科"' in html


def test_the_top_bar_form_searches_everything(client, org):
    client.force_login(org.rep1)
    html = client.get(reverse("home")).content.decode()
    assert f'<form class="global-search" action="{SEARCH}"' in html
    assert "Search customers and opportunities: name, number, phone, pinyin initials" in html


def test_the_page_costs_the_same_queries_for_1_and_for_8_hits(client, org):
    customer_make(owner=org.rep1, name="华科第0分公司有限公司")
    client.force_login(org.manager)
    client.get(SEARCH, {"q": "华科"})  # warm the caches
    with CaptureQueriesContext(connection) as one:
        assert len(hits_in(client.get(SEARCH, {"q": "华科"}).content.decode())) == 1
    for i in range(1, 9):
        customer_make(owner=org.rep1 if i % 2 else org.rep2, name=f"华科第{i}分公司有限公司")
    with CaptureQueriesContext(connection) as eight:
        assert len(hits_in(client.get(SEARCH, {"q": "华科"}).content.decode())) == 8
    assert len(eight) == len(one)
