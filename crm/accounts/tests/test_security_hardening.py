"""Holes a second review found in accounts and the Settings area, each proven closed.

- The forced password change at first login (ORG-1) cannot be satisfied with the initial
  password itself, and cannot be side-stepped through the API with the browser session.
- A new API token is shown on a page no cache keeps.
- The audit log (SYS-2) shows customers only within the viewer's data scope, masks their
  contact details for roles without "view contact details" (SYS-5), and names fields by label.
- Odd input in Settings (calendar-edge dates, ids no table can hold) is a 4xx, never a 500.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm.accounts.models import Role, RolePermission, User
from crm.accounts.services import user_create, user_password_reset
from crm.core.masking import mask_phone
from crm.customers.models import Customer
from crm.customers.selectors import customer_get
from crm.customers.services import customer_update
from crm.tests_support.factories import UserFactory, customer_make

pytestmark = pytest.mark.django_db

PASSWORD_CHANGE = "/account/password/change/"
AUDIT = reverse("settings:audit")


def first_login(client: Client, org) -> tuple[User, str]:
    """A user an administrator just created, logged in with the initial password."""
    rep_role = Role.objects.get(code="sales_rep")
    user, initial = user_create(
        actor=org.admin, data={"username": "newbie", "full_name": "新同事", "roles": [rep_role]}
    )
    response = client.post("/account/login/", {"username": "newbie", "password": initial})
    assert response.status_code == 302
    return user, initial


# --- forced password change -----------------------------------------------------------------


def test_the_forced_change_does_not_accept_the_initial_password_again(client, org):
    # given a user at first login
    user, initial = first_login(client, org)

    # when they "change" the password to the initial one
    response = client.post(
        PASSWORD_CHANGE,
        {"old_password": initial, "new_password1": initial, "new_password2": initial},
    )

    # then the form refuses it and they still must change it
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    user.refresh_from_db()
    assert user.must_change_password is True
    assert client.get("/").status_code == 302


def test_a_session_that_must_change_its_password_cannot_use_the_api(client, org):
    # given a user at first login, in the browser
    _user, initial = first_login(client, org)

    # when the session calls the API, with or without a bogus token beside it
    plain = client.get("/api/v1/customers")
    with_junk_token = client.get(
        "/api/v1/customers", headers={"Authorization": "Bearer not-a-token"}
    )

    # then both are refused with a body that says why
    assert (plain.status_code, with_junk_token.status_code) == (403, 403)
    assert plain.json()["error"] == "password_change_required"

    # and once they chose their own password, the API answers
    client.post(
        PASSWORD_CHANGE,
        {
            "old_password": initial,
            "new_password1": "My-own-Passw0rd-2026",
            "new_password2": "My-own-Passw0rd-2026",
        },
    )
    assert client.get("/api/v1/customers").status_code == 200


def test_an_administrator_reset_also_closes_the_api_to_the_session(client, org):
    # given rep1 logged in, whose password an administrator then resets
    client.force_login(org.rep1)
    assert client.get("/api/v1/me").status_code == 200
    new_password = user_password_reset(actor=org.admin, user=org.rep1)
    client.post("/account/login/", {"username": "rep1", "password": new_password})

    # then their session cannot use the API until they choose a password
    assert client.get("/api/v1/me").status_code == 403


# --- API tokens -----------------------------------------------------------------------------


def test_a_new_api_token_is_shown_on_a_page_no_cache_keeps(client, org):
    client.force_login(org.rep1)
    response = client.post(reverse("api_tokens"), {"name": "ERP"}, follow=True)
    assert response.status_code == 200 and response.context["new_token"]
    cache_control = response["Cache-Control"]
    assert "no-store" in cache_control or "no-cache" in cache_control
    assert "private" in cache_control or "max-age=0" in cache_control


# --- audit log ------------------------------------------------------------------------------


@pytest.fixture
def configurator(org):
    """A user who configures Settings and reads the whole audit log but only sees their own
    customers, without contact details: a custom role an administrator could define."""
    role = Role.objects.create(code="configurator", name="配置员")
    RolePermission.objects.create(role=role, module="settings", actions=["view", "configure"])
    RolePermission.objects.create(role=role, module="audit", actions=["view"], scope="all")
    # An owner must be able to work the record (customers' owner_actions).
    RolePermission.objects.create(
        role=role, module="customers", actions=["view", "edit"], scope="own"
    )
    return UserFactory(username="configurator", department=org.dept1, roles=[role])


def _change_phone(customer: Customer, actor, phone: str) -> None:
    current = customer_get(user=actor, customer_id=customer.pk)
    customer_update(actor=actor, customer=current, data={"phone": phone}, version=current.version)


def test_audit_log_keeps_to_the_viewers_customer_scope_and_masks_contact_details(
    client, org, configurator
):
    # given a customer of the configurator and one of rep3, both with a changed phone, and a
    # change to a user account
    mine = customer_make(owner=configurator, actor=org.admin, name="本人客户科技有限公司")
    theirs = customer_make(owner=org.rep3, name="他人客户科技有限公司")
    _change_phone(mine, org.admin, "13911112222")
    _change_phone(theirs, org.admin, "13933334444")
    user_password_reset(actor=org.admin, user=org.rep2)
    client.force_login(configurator)

    # when the configurator opens the audit log
    response = client.get(AUDIT, {"action": "update"})
    html = response.content.decode()
    rows = response.context["rows"]

    # then the other team's customer is not there at all
    assert response.status_code == 200
    assert "他人客户科技有限公司" not in html and "13933334444" not in html
    assert all(r["entry"].object_id != theirs.pk or r["kind"] != "customer" for r in rows)
    # and their own customer's phone change is there, masked, under the field's label
    change = next(
        c for r in rows if r["entry"].object_repr.startswith("本人客户") for c in r["changes"]
    )
    assert change["after"] == mask_phone("13911112222")
    assert "13911112222" not in html
    assert change["field"] == str(Customer._meta.get_field("phone").verbose_name)
    # and configuration entries stay visible
    assert client.get(AUDIT, {"action": "password_change"}).context["rows"]


def test_audit_log_shows_everything_to_a_viewer_with_the_all_scope(client, org):
    # given a customer of rep3 whose phone changed
    theirs = customer_make(owner=org.rep3, name="他人客户科技有限公司")
    _change_phone(theirs, org.admin, "13933334444")
    client.force_login(org.admin)

    # when the administrator (all records, contact details) opens the audit log
    html = client.get(AUDIT, {"action": "update"}).content.decode()

    # then the customer and the full number are shown
    assert "他人客户科技有限公司" in html and "13933334444" in html


@pytest.mark.parametrize(
    "dates",
    [
        {"date_from": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
    ],
)
def test_audit_log_takes_dates_at_both_ends_of_the_calendar(client, org, dates):
    client.force_login(org.admin)
    response = client.get(AUDIT, dates)
    assert response.status_code == 200


# --- user form ------------------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["settings:user_create", "settings:user_edit"])
def test_a_role_id_no_table_can_hold_is_a_field_error(client, org, url_name):
    client.force_login(org.admin)
    url = reverse(url_name, args=[org.rep1.pk] if url_name.endswith("edit") else [])
    response = client.post(url, {"username": "huge", "full_name": "大号", "roles": "9" * 25})
    assert response.status_code == 422
    assert response.context["form"].errors["roles"]
    assert not User.objects.filter(username="huge").exists()
