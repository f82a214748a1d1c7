"""The accounts API: tokens (with the login lockout), the current user, deactivation."""

from __future__ import annotations

import pytest

from crm.accounts.models import ApiToken
from crm.core.models import AuditEntry
from crm.customers.models import Customer
from crm.tests_support.api import ApiClient, api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


def ask_token(username: str, password: str, *, lang: str | None = None, **extra):
    return ApiClient(lang=lang).post(
        "auth/token", {"username": username, "password": password, **extra}
    )


# --- tokens ---------------------------------------------------------------------------------


def test_a_user_exchanges_username_and_password_for_a_working_token(org):
    response = ask_token("rep1", org.password, name="ERP sync")
    assert response.status_code == 200
    raw = response.json()["token"]
    token = ApiToken.objects.get(user=org.rep1)
    assert token.name == "ERP sync"
    assert raw not in token.token_hash  # only the hash is stored
    me = ApiClient(token=raw).get("me")
    assert me.status_code == 200
    assert me.json()["username"] == "rep1"


def test_a_token_gets_a_default_name(org):
    ask_token("rep1", org.password)
    assert ApiToken.objects.get(user=org.rep1).name


def test_wrong_password_is_401_and_audited_as_a_failed_login(org):
    response = ask_token("rep1", "wrong-password", lang="en")
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_credentials"
    assert body["message"] == "Wrong username or password, or the account is disabled."
    assert AuditEntry.objects.filter(action="login_failed", object_repr="rep1").exists()
    assert not ApiToken.objects.exists()


def test_missing_fields_are_422(org):
    response = ApiClient().post("auth/token", {"username": "rep1"})
    assert response.status_code == 422
    assert "password" in response.json()["fields"]


def test_five_failures_lock_the_username_at_that_address_even_for_the_right_password(org):
    for _ in range(4):
        assert ask_token("rep1", "wrong-password").status_code == 401
    assert ask_token("rep1", "wrong-password").status_code == 429
    locked = ask_token("rep1", org.password, lang="en")
    assert locked.status_code == 429
    assert locked.json()["error"] == "locked_out"
    assert "Too many failed logins" in locked.json()["message"]
    assert not ApiToken.objects.exists()
    # Another account is not affected.
    assert ask_token("rep2", org.password).status_code == 200


def test_a_successful_exchange_clears_earlier_failures(org):
    for _ in range(4):
        ask_token("rep1", "wrong-password")
    assert ask_token("rep1", org.password).status_code == 200
    for _ in range(4):
        assert ask_token("rep1", "wrong-password").status_code == 401
    assert ask_token("rep1", org.password).status_code == 200


def test_a_deactivated_user_gets_no_token(org):
    org.rep1.is_active = False
    org.rep1.save()
    assert ask_token("rep1", org.password).status_code == 401


def test_an_initial_password_must_be_changed_before_a_token_is_issued(org):
    org.rep1.must_change_password = True
    org.rep1.save()
    response = ask_token("rep1", org.password)
    assert response.status_code == 403
    assert response.json()["error"] == "password_change_required"


# --- me -------------------------------------------------------------------------------------


def test_me_describes_the_user_roles_and_effective_permissions(org):
    response = api_as(org.rep1, lang="en").get("me")
    assert response.status_code == 200
    me = response.json()
    assert (me["id"], me["username"], me["full_name"]) == (org.rep1.pk, "rep1", "李明")
    assert me["department"] == {"id": org.dept1.pk, "name": "销售一部"}
    assert me["supervisor_id"] == org.manager.pk
    assert me["roles"] == [{"code": "sales_rep", "name": "Sales rep"}]
    assert me["permissions"] == {
        "customers": {"actions": ["view", "create", "edit", "view_contact"], "scope": "own"},
        "opportunities": {"actions": ["view", "create", "edit"], "scope": "own"},
        "followups": {"actions": ["view", "create", "edit"], "scope": "own"},
        "leads": {"actions": ["view", "create", "edit"], "scope": "own"},
        "pool": {"actions": ["view", "claim"], "scope": None},
    }


def test_me_for_an_administrator_lists_every_module(org):
    me = api_as(org.admin).get("me").json()
    assert me["permissions"]["customers"]["scope"] == "all"
    assert "delete" in me["permissions"]["customers"]["actions"]
    assert me["permissions"]["settings"] == {"actions": ["view", "configure"], "scope": None}
    assert me["department"] is None


def test_me_without_credentials_is_401(org):
    response = ApiClient(lang="en").get("me")
    assert response.status_code == 401
    assert response.json()["message"] == "Log in or send a valid API token."


# --- deactivation ---------------------------------------------------------------------------


def test_deactivating_a_user_transfers_their_customers_and_revokes_their_tokens(org):
    leaving = api_as(org.rep1)
    customers = [customer_make(owner=org.rep1) for _ in range(3)]
    response = api_as(org.admin).post(
        f"users/{org.rep1.pk}/deactivate", {"transfer_to": org.rep2.pk}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["is_active"] is False
    assert body["deactivated_at"]
    assert body["transferred"]["customers"] == 3
    assert set(Customer.objects.filter(owner=org.rep2).values_list("pk", flat=True)) == {
        c.pk for c in customers
    }
    assert leaving.get("me").status_code == 401
    assert ask_token("rep1", org.password).status_code == 401


def test_deactivation_refuses_a_recipient_who_could_not_own_the_records(org):
    """ORG-3 with issue 5 §4: the records of a leaving rep may not go to an executive, who
    reads every customer but may not work one; nothing is deactivated then."""
    customer_make(owner=org.rep1)
    response = api_as(org.admin).post(
        f"users/{org.rep1.pk}/deactivate", {"transfer_to": org.exec.pk}
    )
    assert response.status_code == 422
    assert "transfer_to" in response.json()["fields"]
    org.rep1.refresh_from_db()
    assert org.rep1.is_active
    assert Customer.objects.filter(owner=org.rep1).count() == 1


def test_the_deactivation_form_offers_only_users_who_could_own_the_records(org, client):
    client.force_login(org.admin)
    html = client.get(f"/settings/users/{org.rep1.pk}/deactivate/").content.decode()
    assert f'value="{org.rep2.pk}"' in html
    for reader in (org.exec, org.finance, org.service):
        assert f'value="{reader.pk}"' not in html


def test_deactivating_without_a_transfer_keeps_the_records(org):
    customer_make(owner=org.rep1)
    response = api_as(org.admin).post(f"users/{org.rep1.pk}/deactivate", {})
    assert response.status_code == 200
    assert response.json()["transferred"] == {}
    assert Customer.objects.filter(owner=org.rep1).count() == 1


def test_deactivation_needs_the_configure_permission(org):
    response = api_as(org.manager).post(f"users/{org.rep1.pk}/deactivate", {})
    assert response.status_code == 403
    org.rep1.refresh_from_db()
    assert org.rep1.is_active


def test_deactivation_errors(org):
    admin = api_as(org.admin, lang="en")
    assert admin.post("users/999999/deactivate", {}).status_code == 404
    unknown_target = admin.post(f"users/{org.rep1.pk}/deactivate", {"transfer_to": 999999})
    assert unknown_target.status_code == 422
    assert "transfer_to" in unknown_target.json()["fields"]
    to_self = admin.post(f"users/{org.rep1.pk}/deactivate", {"transfer_to": org.rep1.pk})
    assert to_self.status_code == 422
    own_account = admin.post(f"users/{org.admin.pk}/deactivate", {})
    assert own_account.status_code == 422
    assert own_account.json()["fields"]["user"] == ["You cannot deactivate your own account."]
    assert admin.post(f"users/{org.rep1.pk}/deactivate", {"transfer_to": "x"}).status_code == 422
    org.rep1.refresh_from_db()
    assert org.rep1.is_active
