"""Request plumbing: request ids, and HTMX requests that meet a login redirect."""

from __future__ import annotations

import pytest

from crm.tests_support.factories import customer_make


def test_every_response_carries_a_request_id(client):
    response = client.get("/account/login/")
    assert len(response["X-Request-ID"]) == 32


def test_an_htmx_request_after_the_session_expired_reloads_the_login_page_whole(client, db):
    # given no session (it expired); when a tab is fetched through HTMX
    response = client.get("/customers/1/contacts/", HTTP_HX_REQUEST="true")
    # then HTMX is told to navigate, instead of swapping the login form into the tab
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/account/login/")


def test_an_htmx_request_of_a_user_who_must_change_the_password_goes_to_the_form(client, org):
    customer = customer_make(owner=org.rep1)
    org.rep1.must_change_password = True
    org.rep1.save(update_fields=["must_change_password"])
    client.force_login(org.rep1)
    response = client.get(f"/customers/{customer.pk}/contacts/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/account/password/change/"


def test_ordinary_requests_keep_their_redirects(client, db):
    response = client.get("/customers/")
    assert response.status_code == 302


# --- request ids (issue 5 §2): a client's id is kept only if it looks like one ---------------


def _audited_request_ids(client, org, request_id: str) -> tuple[str, set[str]]:
    from crm.core.models import AuditEntry

    response = client.post(
        "/account/login/",
        {"username": "rep1", "password": "wrong-password"},
        HTTP_X_REQUEST_ID=request_id,
    )
    ids = set(
        AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED).values_list(
            "request_id", flat=True
        )
    )
    return response["X-Request-ID"], ids


def test_a_script_request_id_is_replaced_by_a_generated_one(client, org):
    """Without the shape check, the markup would be echoed and stored in the audit trail."""
    echoed, audited = _audited_request_ids(client, org, "<script>alert(1)</script>")
    assert echoed != "<script>alert(1)</script>"
    assert len(echoed) == 32 and all(c in "0123456789abcdef" for c in echoed)
    assert audited == {echoed}


def test_a_uuid_request_id_is_kept_in_the_header_and_the_audit_trail(client, org):
    rid = "3f2b8c1e-9d4a-4c6b-8e2f-1a2b3c4d5e6f"
    echoed, audited = _audited_request_ids(client, org, rid)
    assert echoed == rid
    assert audited == {rid}


def test_nginx_request_ids_are_kept(client):
    rid = "0123456789abcdef0123456789abcdef"
    response = client.get("/account/login/", HTTP_X_REQUEST_ID=rid)
    assert response["X-Request-ID"] == rid


@pytest.mark.parametrize(
    "sent",
    ["short", "x" * 65, "abc def ghi", "abcdefgh\n", "'; DROP TABLE--", 'a"b<c>d&e'],
    ids=["too-short", "too-long", "space", "newline", "quote", "markup"],
)
def test_request_ids_of_any_other_shape_are_replaced(client, sent):
    response = client.get("/account/login/", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] != sent
    assert len(response["X-Request-ID"]) == 32
