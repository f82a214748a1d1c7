"""Request plumbing: request ids, and HTMX requests that meet a login redirect."""

from __future__ import annotations

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
