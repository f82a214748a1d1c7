"""The customers API (issue §5): every route, every error code, scope, masking, paging."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.accounts.models import ApiToken
from crm.accounts.services import api_token_revoke, user_deactivate
from crm.core.models import AuditEntry
from crm.customers.models import Contact, Customer
from crm.tests_support.api import ApiClient, api_as
from crm.tests_support.factories import UserFactory, customer_make, mobile_number

pytestmark = pytest.mark.django_db


def new_customer(**overrides: Any) -> dict[str, Any]:
    """A valid create body with two contacts (the first primary)."""
    n = mobile_number()
    body: dict[str, Any] = {
        "type": "enterprise",
        "name": f"杭州云帆{n[-5:]}信息技术有限公司",
        "industry": "it",
        "source": "trade_show",
        "grade": "A",
        "phone": n,
        "email": f"info{n[-5:]}@yunfan.example.com",
        "address": "杭州市西湖区文三路 90 号",
        "budget": "150000.00",
        "first_contact_date": "2026-01-15",
        "contacts": [
            {"name": "王强", "title": "采购总监", "phone": mobile_number(), "is_primary": True},
            {"name": "赵敏", "title": "IT 经理", "email": "zhaomin@yunfan.example.com"},
        ],
    }
    body.update(overrides)
    return body


# --- authentication -------------------------------------------------------------------------

ROUTES = [
    ("get", "customers"),
    ("post", "customers"),
    ("get", "customers/{id}"),
    ("patch", "customers/{id}"),
    ("delete", "customers/{id}"),
    ("post", "customers/{id}/restore"),
    ("get", "customers/{id}/history"),
    ("get", "customers/{id}/contacts"),
    ("post", "customers/{id}/contacts"),
    ("patch", "contacts/{contact}"),
    ("delete", "contacts/{contact}"),
]


def call(api: ApiClient, method: str, path: str, customer: Customer):
    contact = customer.contacts.first()
    url = path.format(id=customer.pk, contact=contact.pk)
    if method in ("post", "patch"):
        return getattr(api, method)(url, {})
    return getattr(api, method)(url)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_refuses_callers_without_credentials(org, method, path):
    customer = customer_make(owner=org.rep1)
    response = call(ApiClient(), method, path, customer)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_refuses_an_unknown_token_with_401_not_a_csrf_error(org, method, path):
    customer = customer_make(owner=org.rep1)
    response = call(ApiClient(token="crm_not-a-real-token"), method, path, customer)
    assert response.status_code == 401


def test_a_revoked_token_stops_working_at_once(org):
    api = api_as(org.rep1)
    assert api.get("customers").status_code == 200
    token = ApiToken.objects.get(user=org.rep1)
    api_token_revoke(actor=org.rep1, token=token)
    assert api.get("customers").status_code == 401


def test_a_deactivated_users_token_stops_working(org):
    api = api_as(org.rep1)
    user_deactivate(actor=org.admin, user=org.rep1, transfer_to=org.rep2)
    assert api.get("customers").status_code == 401


def test_browser_session_works_and_its_writes_need_the_csrf_token(org):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(org.rep1)
    assert browser.get("/api/v1/customers").status_code == 200

    refused = browser.post(
        "/api/v1/customers", data=new_customer(), content_type="application/json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"

    browser.get("/api/v1/docs")  # any page that sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/customers",
        data=new_customer(),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 201


# --- create ---------------------------------------------------------------------------------


def test_create_returns_the_numbered_customer_with_its_contacts(org):
    api = api_as(org.rep1)
    response = api.post("customers", new_customer())
    assert response.status_code == 201
    body = response.json()
    assert body["number"].startswith("KH" + dt.date.today().strftime("%Y%m"))
    assert body["owner_id"] == org.rep1.pk
    assert body["owner_name"] == "李明"
    assert body["grade"] == "A"
    assert body["industry"] == "it"
    assert body["budget"] == "150000.00"
    assert body["version"] == 1
    assert [(c["name"], c["is_primary"]) for c in body["contacts"]] == [
        ("王强", True),
        ("赵敏", False),
    ]
    assert Customer.objects.get(pk=body["id"]).created_by == org.rep1
    assert AuditEntry.objects.filter(object_id=body["id"], action="create").exists()


def test_create_without_a_function_permission_is_403(org):
    response = api_as(org.finance).post("customers", new_customer())
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert not Customer.objects.exists()


def test_create_names_every_bad_field_and_saves_nothing(org):
    body = new_customer(phone="12345", credit_code="91330100MA27XXXX")
    body["contacts"][1]["email"] = "not-an-email"
    response = api_as(org.rep1, lang="en").post("customers", body)
    assert response.status_code == 422
    data = response.json()
    assert data["error"] == "validation_failed"
    assert set(data["fields"]) >= {"phone", "credit_code", "contacts.1.email"}
    assert "valid phone number" in data["fields"]["phone"][0]
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"grade": 5}, "grade"),
        ({"grade": "Z"}, "grade"),
        ({"type": "company"}, "type"),
        ({"contacts": "王强"}, "contacts"),
        ({"contacts": [{"title": "no name"}]}, "contacts.0.name"),
        ({"budget": "a lot"}, "budget"),
        ({"first_contact_date": "last spring"}, "first_contact_date"),
        ({"owner_id": "me"}, "owner_id"),
        ({"owner_id": 10**30}, "owner_id"),
        ({"address": "杭州\x00"}, "address"),
        ({"remarks": "\ud800"}, "remarks"),
        ({"confirm_duplicates": "perhaps"}, "confirm_duplicates"),
    ],
)
def test_type_errors_are_422_naming_the_field_never_500(org, change, field):
    response = api_as(org.rep1, lang="en").post("customers", new_customer(**change))
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]


def test_a_body_that_is_not_json_is_400_with_the_standard_body(org):
    api = api_as(org.rep1)
    response = api.client.post("/api/v1/customers", data="{name:", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


def test_messages_follow_accept_language(org):
    body = new_customer()
    del body["name"]
    english = api_as(org.rep1, lang="en").post("customers", body).json()
    chinese = api_as(org.rep1).post("customers", body).json()
    assert english["message"] == "Please correct the fields marked below."
    assert english["fields"]["name"] == ["This field is required."]
    # zh-Hans by default: whichever catalogue words it, the message is Chinese.
    assert re.search(r"[\u4e00-\u9fff]", chinese["fields"]["name"][0])


def test_a_duplicate_name_is_refused_with_the_existing_record_when_visible(org):
    api = api_as(org.rep1, lang="en")
    first = api.post("customers", new_customer(name="宁波海天塑机集团有限公司")).json()
    response = api.post("customers", new_customer(name="宁波海天塑机集团有限公司"))
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "duplicate"
    assert body["existing"]["number"] == first["number"]
    assert body["existing"]["id"] == first["id"]
    assert first["number"] in body["fields"]["name"][0]


def test_a_duplicate_outside_the_scope_names_only_the_owner(org):
    api_as(org.rep1).post("customers", new_customer(name="宁波海天塑机集团有限公司"))
    response = api_as(org.rep3).post("customers", new_customer(name="宁波海天塑机集团(有限公司)"))
    assert response.status_code == 409
    body = response.json()
    assert body["existing"]["owner"] == "李明"
    assert "number" not in body["existing"] and "id" not in body["existing"]


def test_same_phone_warns_until_confirmed(org):
    api = api_as(org.rep1)
    phone = mobile_number()
    api.post("customers", new_customer(phone=phone))
    warned = api.post("customers", new_customer(phone=phone))
    assert warned.status_code == 409
    assert warned.json()["error"] == "duplicate_warning"
    assert warned.json()["warnings"][0]["field"] == "phone"
    confirmed = api.post("customers", new_customer(phone=phone, confirm_duplicates=True))
    assert confirmed.status_code == 201


# --- read, scope, masking -------------------------------------------------------------------


def test_detail_is_limited_to_the_scope_with_404_outside_it(org):
    customer = customer_make(owner=org.rep1)
    assert api_as(org.rep1).get(f"customers/{customer.pk}").status_code == 200
    assert api_as(org.manager).get(f"customers/{customer.pk}").status_code == 200
    outside = api_as(org.rep3).get(f"customers/{customer.pk}")
    missing = api_as(org.rep3).get("customers/999999")
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()


def test_list_shows_only_the_callers_scope(org):
    mine = customer_make(owner=org.rep1)
    colleague = customer_make(owner=org.rep2)
    other_team = customer_make(owner=org.rep3)

    def ids(user):
        return {c["id"] for c in api_as(user).get("customers").json()["items"]}

    assert ids(org.rep1) == {mine.pk}
    assert ids(org.manager) == {mine.pk, colleague.pk}
    assert ids(org.manager2) == {other_team.pk}
    assert ids(org.exec) == {mine.pk, colleague.pk, other_team.pk}


def test_a_user_without_the_view_permission_gets_403(org):
    nobody = UserFactory()
    assert api_as(nobody).get("customers").status_code == 403


def test_contact_details_are_masked_without_the_view_contact_permission(org):
    customer = customer_make(
        owner=org.rep1,
        phone="13812345678",
        email="boss@example.com",
        contacts=[{"name": "王强", "phone": "13987654321", "email": "wq@example.com"}],
    )
    api_as(org.admin).patch(f"customers/{customer.pk}", {"version": 1, "phone": "13811112222"})
    finance = api_as(org.finance)
    detail = finance.get(f"customers/{customer.pk}").json()
    assert detail["phone"] == "138****2222"
    assert detail["email"] == "b***@example.com"
    assert detail["contacts"][0]["phone"] == "139****4321"
    assert detail["contacts"][0]["email"] == "w***@example.com"
    listed = finance.get("customers").json()["items"][0]
    assert listed["phone"] == "138****2222"
    assert listed["contacts"][0]["phone"] == "139****4321"
    contacts = finance.get(f"customers/{customer.pk}/contacts").json()["items"]
    assert contacts[0]["phone"] == "139****4321"
    history = finance.get(f"customers/{customer.pk}/history").json()["items"]
    phone_change = next(c for c in history[0]["changes"] if c["field"] == "phone")
    assert (phone_change["before"], phone_change["after"]) == ("138****5678", "138****2222")

    owner_view = api_as(org.rep1).get(f"customers/{customer.pk}").json()
    assert owner_view["phone"] == "13811112222"
    assert owner_view["contacts"][0]["email"] == "wq@example.com"


def test_list_filters_search_and_sort(org):
    a = customer_make(owner=org.rep1, name="北京字节跳动科技有限公司", grade="A", industry="it")
    b = customer_make(owner=org.rep1, name="上海振华重工股份有限公司", grade="B",
                      industry="manufacturing", source="referral")  # fmt: skip
    api = api_as(org.rep1)

    def ids(**params):
        response = api.get("customers", params)
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["items"]]

    assert ids(grade="A") == [a.pk]
    assert ids(industry="manufacturing") == [b.pk]
    assert ids(source="referral") == [b.pk]
    assert ids(q="字节") == [a.pk]
    assert ids(q="shzh") == [b.pk]  # pinyin initials of 上海振华
    assert ids(owner_id=org.rep1.pk, sort="created") == [b.pk, a.pk]
    assert ids(sort="-created") == [a.pk, b.pk]
    today = dt.date.today().isoformat()
    assert set(ids(created_from=today, created_to=today)) == {a.pk, b.pk}
    assert ids(created_to="2000-01-01") == []
    # A search form's empty fields mean "any".
    assert set(ids(type="", grade="", owner_id="", created_from="", sort="")) == {a.pk, b.pk}
    assert api.get("customers", {"sort": "bogus"}).status_code == 422
    assert api.get("customers", {"grade": "Z"}).status_code == 422


def test_pagination_follows_next_without_counting(org):
    made = [customer_make(owner=org.rep1, grade="B") for _ in range(5)]
    customer_make(owner=org.rep1, grade="C")
    api = api_as(org.rep1)
    first = api.get("customers", {"grade": "B", "page_size": 2}).json()
    assert (first["page"], first["page_size"], first["has_next"]) == (1, 2, True)
    assert "count" not in first and "total" not in first
    seen = [c["id"] for c in first["items"]]
    page = first
    while page["next"]:
        assert "grade=B" in page["next"]
        page = api.get(page["next"]).json()
        seen += [c["id"] for c in page["items"]]
    assert page["has_next"] is False
    assert seen == [c.pk for c in reversed(made)]


def test_list_query_count_does_not_grow_with_rows(org):
    api = api_as(org.manager)
    customer_make(owner=org.rep1)
    api.get("customers")  # warm the token's last-used stamp and the list caches

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get("customers", {"page_size": 50})
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["items"])

    one, rows_one = count()
    for i in range(19):
        customer_make(owner=org.rep2 if i % 2 else org.rep1)
    twenty, rows_twenty = count()
    assert (rows_one, rows_twenty) == (1, 20)
    assert one == twenty


def queries_for(api: ApiClient, path: str) -> tuple[int, int]:
    """(queries run, rows answered) for one GET of a list."""
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, {"page_size": 50})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["items"])


def test_history_and_contacts_query_counts_do_not_grow_with_rows(org):
    customer = customer_make(owner=org.rep1)
    api = api_as(org.rep1)
    api.get(f"customers/{customer.pk}/history")  # warm-up
    history_one = queries_for(api, f"customers/{customer.pk}/history")
    contacts_one = queries_for(api, f"customers/{customer.pk}/contacts")
    for i in range(19):
        api.patch(f"customers/{customer.pk}", {"version": i + 1, "remarks": f"第{i}次"})
        api.post(
            f"customers/{customer.pk}/contacts", {"name": f"联系人{i}", "phone": mobile_number()}
        )
    history_twenty = queries_for(api, f"customers/{customer.pk}/history")
    contacts_twenty = queries_for(api, f"customers/{customer.pk}/contacts")
    assert history_one[1] == 1 and history_twenty[1] == 39  # 19 edits + 19 contact additions
    assert contacts_one[1] == 1 and contacts_twenty[1] == 20
    assert history_one[0] == history_twenty[0]
    assert contacts_one[0] == contacts_twenty[0]


# --- update ---------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent_and_bumps_the_version(org):
    customer = customer_make(owner=org.rep1, address="旧地址")
    response = api_as(org.rep1).patch(
        f"customers/{customer.pk}", {"version": 1, "grade": "A", "remarks": "重点跟进"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["grade"], body["remarks"], body["address"]) == ("A", "重点跟进", "旧地址")
    assert body["version"] == 2


def test_a_stale_patch_is_refused_with_who_changed_it_and_nothing_is_overwritten(org):
    customer = customer_make(owner=org.rep1)
    assert (
        api_as(org.manager)
        .patch(f"customers/{customer.pk}", {"version": 1, "remarks": "经理的备注"})
        .status_code
        == 200
    )
    response = api_as(org.rep1).patch(
        f"customers/{customer.pk}", {"version": 1, "remarks": "代表的备注"}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert body["changed_by"] == "王经理"
    assert body["current_version"] == 2
    assert body["changed_at"]
    customer.refresh_from_db()
    assert customer.remarks == "经理的备注"


def test_patch_requires_the_version(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).patch(f"customers/{customer.pk}", {"grade": "A"})
    assert response.status_code == 422
    assert "version" in response.json()["fields"]


def test_patch_refuses_null_for_fields_that_cannot_be_empty(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).patch(
        f"customers/{customer.pk}", {"version": 1, "owner_id": None, "type": None}
    )
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"owner_id", "type"}


def test_patch_bad_phone_is_422_and_nothing_changes(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).patch(
        f"customers/{customer.pk}", {"version": 1, "phone": "123", "grade": "A"}
    )
    assert response.status_code == 422
    assert "phone" in response.json()["fields"]
    customer.refresh_from_db()
    assert (customer.grade, customer.version) == ("B", 1)


def test_changing_the_owner_needs_the_transfer_permission(org):
    customer = customer_make(owner=org.rep1)
    refused = api_as(org.rep1).patch(
        f"customers/{customer.pk}", {"version": 1, "owner_id": org.rep2.pk}
    )
    assert refused.status_code == 422
    assert "owner" in refused.json()["fields"]
    moved = api_as(org.manager).patch(
        f"customers/{customer.pk}", {"version": 1, "owner_id": org.rep2.pk}
    )
    assert moved.status_code == 200
    assert moved.json()["owner_id"] == org.rep2.pk


def test_patch_by_a_read_only_role_is_403_and_outside_the_scope_404(org):
    customer = customer_make(owner=org.rep1)
    assert (
        api_as(org.finance)
        .patch(f"customers/{customer.pk}", {"version": 1, "grade": "A"})
        .status_code
        == 403
    )
    assert (
        api_as(org.rep3).patch(f"customers/{customer.pk}", {"version": 1, "grade": "A"}).status_code
        == 404
    )


# --- delete, restore, history ---------------------------------------------------------------


def test_a_rep_may_not_delete(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).delete(f"customers/{customer.pk}")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    customer.refresh_from_db()
    assert customer.deleted_at is None


def test_delete_moves_to_the_recycle_bin_and_restore_brings_it_back(org):
    customer = customer_make(owner=org.rep1)
    manager = api_as(org.manager)
    assert manager.delete(f"customers/{customer.pk}").status_code == 204
    assert manager.get(f"customers/{customer.pk}").status_code == 404
    assert api_as(org.rep1).get("customers").json()["items"] == []

    assert api_as(org.rep1).post(f"customers/{customer.pk}/restore").status_code == 403
    restored = manager.post(f"customers/{customer.pk}/restore")
    assert restored.status_code == 200
    assert restored.json()["id"] == customer.pk
    assert manager.get(f"customers/{customer.pk}").status_code == 200

    actions = [e["action"] for e in manager.get(f"customers/{customer.pk}/history").json()["items"]]
    assert actions == ["restore", "delete", "create"]


def test_the_recycle_bin_lists_deleted_customers_in_scope_for_restore(
    org, django_assert_num_queries
):
    # given the manager deleted one of rep1's customers and manager2 one of rep3's
    mine = customer_make(owner=org.rep1)
    theirs = customer_make(owner=org.rep3)
    manager = api_as(org.manager)
    assert manager.delete(f"customers/{mine.pk}").status_code == 204
    assert api_as(org.manager2).delete(f"customers/{theirs.pk}").status_code == 204

    # when the manager opens the recycle bin
    body = manager.get("recycle-bin/customers").json()

    # then only the customer inside the manager's scope is there, marked deleted
    assert [item["id"] for item in body["items"]] == [mine.pk]
    assert body["items"][0]["deleted_at"] is not None
    assert body["has_next"] is False
    # and a rep, who may not delete or restore, is refused
    assert api_as(org.rep1).get("recycle-bin/customers").status_code == 403


def test_recycle_bin_query_count_does_not_grow_with_rows(org):
    admin = api_as(org.admin)
    counts = []
    for batch in (1, 19):
        for _ in range(batch):
            customer = customer_make(owner=org.rep1)
            assert admin.delete(f"customers/{customer.pk}").status_code == 204
        with CaptureQueriesContext(connection) as queries:
            body = admin.get("recycle-bin/customers").json()
        counts.append(len(queries))
        assert len(body["items"]) == (1 if batch == 1 else 20)
    assert counts[0] == counts[1]


def test_delete_with_a_stale_version_is_409(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.manager).delete(f"customers/{customer.pk}?version=7")
    assert response.status_code == 409
    assert response.json()["current_version"] == 1


def test_a_second_delete_with_the_same_version_is_409_and_one_without_is_a_no_op(org):
    """Issue 5 §1: a repeated DELETE is answered by the version check, not by the order the
    requests arrived in: with the old version 409 `conflict`, without a version 204."""
    customer = customer_make(owner=org.rep1)
    manager = api_as(org.manager)
    assert manager.delete(f"customers/{customer.pk}?version=1").status_code == 204

    again = manager.delete(f"customers/{customer.pk}?version=1")
    assert again.status_code == 409
    assert again.json()["error"] == "conflict" and again.json()["current_version"] == 2

    assert manager.delete(f"customers/{customer.pk}").status_code == 204
    assert manager.delete(f"customers/{customer.pk}?version=2").status_code == 204
    actions = [e.action for e in AuditEntry.objects.filter(object_id=customer.pk)]
    assert actions.count("delete") == 1


def test_restore_checks_the_version_when_one_is_sent(org):
    """POST /customers/{id}/restore?version= : the version the recycle bin listed."""
    customer = customer_make(owner=org.rep1)
    manager = api_as(org.manager)
    manager.delete(f"customers/{customer.pk}")
    listed = manager.get("recycle-bin/customers").json()["items"][0]["version"]
    assert listed == 2

    stale = manager.post(f"customers/{customer.pk}/restore?version=1")
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert manager.post(f"customers/{customer.pk}/restore?version=abc").status_code == 422
    assert manager.get(f"customers/{customer.pk}").status_code == 404  # still in the bin

    restored = manager.post(f"customers/{customer.pk}/restore?version={listed}")
    assert restored.status_code == 200 and restored.json()["version"] == 3
    again = manager.post(f"customers/{customer.pk}/restore?version={listed}")
    assert again.status_code == 409
    assert manager.post(f"customers/{customer.pk}/restore").status_code == 200  # no-op


def test_delete_and_restore_outside_the_scope_are_404(org):
    customer = customer_make(owner=org.rep3)
    manager = api_as(org.manager)
    assert manager.delete(f"customers/{customer.pk}").status_code == 404
    assert manager.post(f"customers/{customer.pk}/restore").status_code == 404


def test_history_lists_each_change_with_actor_and_fields(org):
    customer = customer_make(owner=org.rep1)
    api = api_as(org.rep1, lang="en")
    api.patch(f"customers/{customer.pk}", {"version": 1, "grade": "A"})
    response = api.get(f"customers/{customer.pk}/history", {"page_size": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["has_next"] is True
    latest = body["items"][0]
    assert (latest["action"], latest["action_label"]) == ("update", "Updated")
    assert latest["actor_id"] == org.rep1.pk
    assert latest["changes"] == [{"field": "grade", "before": "B", "after": "A", "contact": None}]
    older = api.get(body["next"]).json()
    assert older["items"][0]["action"] == "create"
    assert api_as(org.rep3).get(f"customers/{customer.pk}/history").status_code == 404


# --- contacts -------------------------------------------------------------------------------


def test_contacts_list_create_update_delete(org):
    customer = customer_make(owner=org.rep1)
    first = customer.contacts.get()
    api = api_as(org.rep1)

    listed = api.get(f"customers/{customer.pk}/contacts").json()
    assert [c["id"] for c in listed["items"]] == [first.pk]

    created = api.post(
        f"customers/{customer.pk}/contacts",
        {"name": "孙丽", "title": "财务", "phone": "021-62345678", "is_primary": True},
    )
    assert created.status_code == 201
    new = created.json()
    assert (new["phone"], new["is_primary"]) == ("021-62345678", True)
    first.refresh_from_db()
    assert first.is_primary is False

    updated = api.patch(f"contacts/{new['id']}", {"title": "财务总监"})
    assert updated.status_code == 200
    assert (updated.json()["title"], updated.json()["name"]) == ("财务总监", "孙丽")

    assert api.delete(f"contacts/{first.pk}").status_code == 204
    assert not Contact.objects.filter(pk=first.pk).exists()
    detail = api.get(f"customers/{customer.pk}").json()
    assert [c["name"] for c in detail["contacts"]] == ["孙丽"]


def test_the_last_contact_of_an_enterprise_cannot_be_removed(org):
    customer = customer_make(owner=org.rep1)
    response = api_as(org.rep1).delete(f"contacts/{customer.contacts.get().pk}")
    assert response.status_code == 422
    assert "contacts" in response.json()["fields"]


def test_contact_errors(org):
    customer = customer_make(owner=org.rep1)
    contact = customer.contacts.get()
    rep1, rep3, finance = api_as(org.rep1, lang="en"), api_as(org.rep3), api_as(org.finance)

    bad = rep1.post(f"customers/{customer.pk}/contacts", {"name": "孙丽", "email": "x@"})
    assert bad.status_code == 422
    assert "email" in bad.json()["fields"]
    assert rep1.patch(f"contacts/{contact.pk}", {"name": None}).status_code == 422
    assert rep1.patch(f"contacts/{contact.pk}", {"phone": "1"}).status_code == 422

    assert rep3.get(f"customers/{customer.pk}/contacts").status_code == 404
    new_contact = {"name": "孙丽", "phone": "13800001111"}
    assert rep3.post(f"customers/{customer.pk}/contacts", new_contact).status_code == 404
    assert rep3.patch(f"contacts/{contact.pk}", {"title": "x"}).status_code == 404
    assert rep3.delete(f"contacts/{contact.pk}").status_code == 404

    assert finance.patch(f"contacts/{contact.pk}", {"title": "x"}).status_code == 403
    assert finance.delete(f"contacts/{contact.pk}").status_code == 403
    assert rep1.patch("contacts/999999", {"title": "x"}).status_code == 404


# --- fuzzing: no input is a 500 -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = [
    "type", "name", "industry", "source", "grade", "status", "owner_id", "phone", "email",
    "credit_code", "address", "budget", "first_contact_date", "contacts", "confirm_duplicates",
    "version", "remarks",
]  # fmt: skip
SAMPLE_VALUES = [
    "enterprise", "individual", "A", "B", "it", "website", "13812345678", "a@b.cn",
    "2026-01-01", "1e400", "NaN", "-1", "９１",
]  # fmt: skip
field_values = st.one_of(
    json_values,
    st.sampled_from(SAMPLE_VALUES),
    st.lists(
        st.dictionaries(
            st.sampled_from(["name", "title", "phone", "email", "notes", "is_primary"]),
            json_values,
        ),
        max_size=3,
    ),
)
bodies = st.one_of(
    json_values, st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=10)
)
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(body=bodies)
def test_random_json_never_makes_create_fail_with_500(org, body):
    response = api_as(org.rep1).post("customers", body)
    assert response.status_code in (201, 400, 409, 422), response.content


LIST_PARAMS = [
    "q", "type", "industry", "grade", "source", "status", "owner_id", "created_from",
    "created_to", "sort", "page", "page_size",
]  # fmt: skip


@FUZZ
@given(params=st.dictionaries(st.sampled_from(LIST_PARAMS), st.text(max_size=12), max_size=6))
def test_random_list_parameters_never_fail_with_500(org, params):
    response = api_as(org.manager).get("customers", params)
    assert response.status_code in (200, 422), response.content


@FUZZ
@given(body=bodies)
def test_random_json_never_makes_patch_fail_with_500(org, body):
    customer = Customer.objects.filter(owner=org.rep1).first() or customer_make(owner=org.rep1)
    response = api_as(org.manager).patch(f"customers/{customer.pk}", body)
    assert response.status_code in (200, 400, 409, 422), response.content
