"""The public pool's pages and API (issue 7 §4, §7): masked contact details, the claim and its
409 messages, the release with its reason, Settings → Public pool, constant query counts, and
no server error anywhere a customer has no owner."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.core.config import setting_get, setting_set
from crm.customers.models import Customer, PoolMove
from crm.customers.pool import customer_release
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


def pooled(org, n: int = 1, owner=None) -> list[Customer]:
    rows = []
    for i in range(n):
        c = customer_make(
            owner=owner or org.rep2,
            phone=f"1381234{i:04d}",
            email=f"boss{i}@example.com",
            contacts=[
                {"name": f"王总{i}", "phone": f"1391234{i:04d}", "is_primary": True},
                {"name": f"李经理{i}", "phone": f"1371234{i:04d}", "email": f"li{i}@example.com"},
            ],
        )
        customer_release(actor=org.admin, customer=c, reason="无人跟进")
        rows.append(c)
    return rows


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- API ----------------------------------------------------------------------------------


def test_pool_api_lists_pool_customers_masked(org):
    owned = customer_make(owner=org.rep1)
    (c,) = pooled(org)
    body = api_as(org.rep1).get("pool").json()
    ids = [item["id"] for item in body["items"]]
    assert ids == [c.pk] and owned.pk not in ids
    item = body["items"][0]
    assert item["owner_id"] is None and item["in_pool"] is True
    assert item["phone"] == "138****0000" and item["email"] == "b***@example.com"
    assert {x["phone"] for x in item["contacts"]} == {"139****0000", "137****0000"}
    assert all("****" in x["phone"] for x in item["contacts"])
    # The ordinary customer list leaves it out, for everyone.
    for user in (org.admin, org.rep1, org.exec):
        listed = [x["id"] for x in api_as(user).get("customers").json()["items"]]
        assert c.pk not in listed


def test_pool_api_filters(org):
    a, b = pooled(org, 2)
    Customer.objects.filter(pk=a.pk).update(grade="A", industry="manufacturing")
    api = api_as(org.rep1)
    assert [x["id"] for x in api.get("pool", {"grade": "A"}).json()["items"]] == [a.pk]
    assert [x["id"] for x in api.get("pool", {"industry": "manufacturing"}).json()["items"]] == [
        a.pk
    ]
    assert [x["id"] for x in api.get("pool", {"q": b.name[-8:]}).json()["items"]] == [b.pk]
    today = dt.date.today().isoformat()
    assert len(api.get("pool", {"entered_from": today}).json()["items"]) == 2
    assert api.get("pool", {"entered_to": "2000-01-01"}).json()["items"] == []
    assert api.get("pool", {"entered_from": "2026-02-30"}).status_code == 422


def test_pool_api_needs_the_pool_permission(org):
    pooled(org)
    for user in (org.service, org.finance):
        assert api_as(user).get("pool").status_code == 403
    assert api_as(org.exec).get("pool").status_code == 200


def test_claim_api(org):
    (c,) = pooled(org)
    response = api_as(org.rep1).post(f"pool/{c.pk}/claim")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["owner_id"] == org.rep1.pk and body["in_pool"] is False
    assert body["phone"] == "13812340000"  # the new owner reads them in full
    assert body == api_as(org.rep1).get(f"customers/{c.pk}").json()
    # Claimed meanwhile: 409 saying so.
    refused = api_as(org.rep3).post(f"pool/{c.pk}/claim")
    assert refused.status_code == 409 and refused.json()["reason"] == "claimed"


def test_claim_api_409_says_limit_or_cool_down(org):
    setting_set(key="pool_claim_limit", value=1)
    customer_make(owner=org.rep3)
    (c,) = pooled(org)
    refused = api_as(org.rep3, lang="en").post(f"pool/{c.pk}/claim")
    assert refused.status_code == 409
    assert refused.json()["reason"] == "limit" and "limit" in refused.json()["message"]
    (mine,) = pooled(org, owner=org.rep1)
    refused = api_as(org.rep1, lang="en").post(f"pool/{mine.pk}/claim")
    assert refused.status_code == 409
    assert refused.json()["reason"] == "cooldown" and "Cool-down" in refused.json()["message"]
    assert api_as(org.exec).post(f"pool/{c.pk}/claim").status_code == 403
    assert api_as(org.rep1).post("pool/99999999/claim").status_code == 404


def test_release_api(org):
    c = customer_make(owner=org.rep1)
    api = api_as(org.rep1)
    refused = api.post(f"customers/{c.pk}/release", {})
    assert refused.status_code == 422 and "reason" in refused.json()["fields"]
    assert api.post(f"customers/{c.pk}/release", {"reason": "  "}).status_code == 422
    response = api.post(f"customers/{c.pk}/release", {"reason": "客户已倒闭"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["owner_id"] is None and body["in_pool"] and body["pool_entered_at"]
    assert PoolMove.objects.get(customer=c).reason == "客户已倒闭"
    # Gone from the releaser's customers.
    assert api.get(f"customers/{c.pk}").status_code == 404
    # Already in the pool (what a user with pool.view may know): 409.
    assert api.post(f"customers/{c.pk}/release", {"reason": "x"}).status_code == 409
    other = customer_make(owner=org.rep3)
    assert api.post(f"customers/{other.pk}/release", {"reason": "x"}).status_code == 404
    assert (
        api_as(org.service).post(f"customers/{other.pk}/release", {"reason": "x"}).status_code
        == 403
    )


def test_pool_list_api_query_count_is_constant(org):
    pooled(org, 2)
    api = api_as(org.rep1)
    api.get("pool")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("pool").status_code == 200
        return len(ctx.captured_queries)

    few = count()
    pooled(org, 6)
    assert count() == few == 4  # token + user, configuration stamp, the page, its contacts


# --- pages --------------------------------------------------------------------------------


def test_pool_list_page(org):
    (c,) = pooled(org)
    owned = customer_make(owner=org.rep1)
    response = client_of(org.rep1).get(reverse("pool:list"))
    assert response.status_code == 200
    text = response.content.decode()
    assert c.name in text and owned.name not in text
    assert "13812340000" not in text and "138****0000" in text
    assert 'data-testid="claim"' in text
    # Executives look but do not claim; the nav shows 公海 to those with pool.view only.
    text = client_of(org.exec).get(reverse("pool:list")).content.decode()
    assert c.name in text and 'data-testid="claim"' not in text
    assert reverse("pool:list") in client_of(org.rep1).get("/").content.decode()
    assert reverse("pool:list") not in client_of(org.service).get("/").content.decode()
    assert client_of(org.service).get(reverse("pool:list")).status_code == 403


def test_pool_list_page_filters_and_htmx(org):
    a, b = pooled(org, 2)
    Customer.objects.filter(pk=a.pk).update(grade="A")
    client = client_of(org.rep1)
    text = client.get(reverse("pool:list"), {"grade": "A"}).content.decode()
    assert a.name in text and b.name not in text
    partial = client.get(reverse("pool:list"), {"q": b.name[-8:]}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content
    assert b.name in partial.content.decode() and a.name not in partial.content.decode()
    for odd in ({"entered_from": "2026-02-30"}, {"page": "-1"}, {"grade": "ZZ"}, {"q": "\x00"}):
        assert client.get(reverse("pool:list"), odd).status_code == 200


def test_pool_list_page_query_count_is_constant(org):
    pooled(org, 2)
    client = client_of(org.rep1)
    client.get(reverse("pool:list"))

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("pool:list")).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    pooled(org, 6)
    assert count() == few


def test_pool_detail_masks_until_claimed(org):
    (c,) = pooled(org)
    client = client_of(org.rep1)
    text = client.get(reverse("pool:detail", args=[c.pk])).content.decode()
    assert "王总0" in text and "139****0000" in text and "13912340000" not in text
    assert "boss0@example.com" not in text and "无人跟进" in text
    # An owned customer is not in the pool.
    owned = customer_make(owner=org.rep1)
    assert client.get(reverse("pool:detail", args=[owned.pk])).status_code == 404
    response = client.post(reverse("pool:claim", args=[c.pk]))
    assert response.status_code == 302 and response["Location"] == reverse(
        "customers:detail", args=[c.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert "13912340000" in page or "13812340000" in page
    assert client.get(reverse("pool:detail", args=[c.pk])).status_code == 404


def test_claim_refusal_is_shown_inline(org):
    (c,) = pooled(org, owner=org.rep1)  # rep1 lost it: cool-down
    response = client_of(org.rep1).post(reverse("pool:claim", args=[c.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    text = response.content.decode()
    assert 'data-testid="claim-error"' in text and "<html" not in text
    assert Customer.objects.get(pk=c.pk).owner_id is None
    ok = client_of(org.rep3).post(reverse("pool:claim", args=[c.pk]), HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and ok["HX-Redirect"] == reverse("customers:detail", args=[c.pk])


def test_cool_down_is_said_on_the_page(org):
    (c,) = pooled(org, owner=org.rep1)
    text = client_of(org.rep1).get(reverse("pool:detail", args=[c.pk])).content.decode()
    assert 'data-testid="cooldown"' in text


def test_release_from_the_customer_page(org):
    c = customer_make(owner=org.rep1)
    client = client_of(org.rep1)
    page = client.get(reverse("customers:detail", args=[c.pk])).content.decode()
    assert 'data-testid="release"' in page
    # Read-only roles and the other team see no release.
    assert (
        'data-testid="release"'
        not in client_of(org.service).get(reverse("customers:detail", args=[c.pk])).content.decode()
    )
    refused = client.post(reverse("customers:release", args=[c.pk]), {"reason": ""})
    assert refused.status_code == 302 and Customer.objects.get(pk=c.pk).owner_id == org.rep1.pk
    done = client.post(reverse("customers:release", args=[c.pk]), {"reason": "重复客户"})
    assert done.status_code == 302 and done["Location"] == reverse("pool:detail", args=[c.pk])
    assert Customer.objects.get(pk=c.pk).owner_id is None
    # The former owner's link to the customer page leads to the pool now.
    back = client.get(reverse("customers:detail", args=[c.pk]))
    assert back.status_code == 302 and back["Location"] == reverse("pool:detail", args=[c.pk])


def test_a_pool_customer_breaks_no_page_of_an_all_scope_user(org):
    from crm.tests_support.activities import followup_make
    from crm.tests_support.sales import opportunity_make

    c = customer_make(owner=org.rep1)
    followup_make(customer=c)
    opportunity = opportunity_make(owner=org.rep1, customer=c)
    customer_release(actor=org.rep1, customer=c, reason="x")
    admin = client_of(org.admin)
    for tab in (
        "details",
        "timeline",
        "contacts",
        "history",
        "opportunities",
        "followups",
        "files",
    ):
        response = admin.get(reverse("customers:detail", args=[c.pk]), {"tab": tab})
        assert response.status_code == 200, tab
    assert (
        'data-testid="in-pool"'
        in admin.get(reverse("customers:detail", args=[c.pk])).content.decode()
    )
    assert admin.get(reverse("customers:edit", args=[c.pk])).status_code == 200
    assert admin.get(reverse("sales:detail", args=[opportunity.pk])).status_code == 200
    assert admin.get(reverse("sales:list")).status_code == 200
    assert admin.get(reverse("search"), {"q": c.name[:4]}).status_code == 200
    assert admin.get(reverse("customers:list"), {"q": c.name}).status_code == 200
    listed = admin.get(reverse("customers:list"), {"q": c.name}).content.decode()
    assert 'data-testid="customer-row"' not in listed
    assert admin.get("/").status_code == 200
    api = api_as(org.admin)
    for path in ("", "/timeline", "/history", "/contacts"):
        assert api.get(f"customers/{c.pk}{path}").status_code == 200, path
    # An edit that leaves the owner blank keeps it in the pool.
    from crm.customers.services import customer_update

    customer_update(
        actor=org.admin,
        customer=c,
        data={"remarks": "公海", "owner": ""},
        version=Customer.objects.get(pk=c.pk).version,
    )
    assert Customer.objects.get(pk=c.pk).owner_id is None
    # The transfer form assigns it from the pool.
    response = admin.post(reverse("customers:transfer", args=[c.pk]), {"to_user": org.rep3.pk})
    assert response.status_code == 302 and Customer.objects.get(pk=c.pk).owner_id == org.rep3.pk
    assert PoolMove.objects.filter(customer=c, kind="assign").exists()


# --- settings -----------------------------------------------------------------------------


def test_pool_settings_page(org):
    client = client_of(org.admin)
    response = client.get(reverse("pool_settings:index"))
    assert response.status_code == 200
    assert reverse("pool_settings:index") in response.content.decode()
    data = {
        "enabled": "on",
        "followup_A": "15",
        "followup_B": "30",
        "followup_C": "",
        "won_A": "60",
        "won_B": "90",
        "won_C": "90",
        "notice_days": "2",
        "protected_statuses": ["loyal"],
        "claim_limit": "50",
        "reclaim_days": "0",
    }
    response = client.post(reverse("pool_settings:index"), data)
    assert response.status_code == 302
    assert setting_get("pool_rules") == {
        "enabled": True,
        "followup_days": {"A": 15, "B": 30, "C": None},
        "won_days": {"A": 60, "B": 90, "C": 90},
        "notice_days": 2,
        "protected_statuses": ["loyal"],
    }
    assert setting_get("pool_claim_limit") == 50 and setting_get("pool_reclaim_days") == 0
    bad = client.post(
        reverse("pool_settings:index"), {**data, "followup_A": "-1", "claim_limit": "x"}
    )
    assert bad.status_code == 422
    assert setting_get("pool_claim_limit") == 50
    assert setting_get("pool_rules")["followup_days"]["A"] == 15
    off = client.post(reverse("pool_settings:index"), {**data, "enabled": ""})
    assert off.status_code == 302 and setting_get("pool_rules")["enabled"] is False
    assert client_of(org.manager).get(reverse("pool_settings:index")).status_code == 403
