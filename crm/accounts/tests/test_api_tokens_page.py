"""The API-token page is post/redirect/get (issue 5 §7): reloading it never makes a token."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.accounts.models import ApiToken

pytestmark = pytest.mark.django_db

TOKENS = reverse("api_tokens")


def test_creating_a_token_redirects_and_shows_the_raw_value_once(client, org):
    """Without post/redirect/get the POST answers the page itself, and the browser's reload
    sends the POST again: a second token. Here the POST redirects, the next view shows the raw
    value, and a reload shows nothing and creates nothing."""
    client.force_login(org.rep1)

    # when rep1 creates a token
    response = client.post(TOKENS, {"name": "ERP"})

    # then exactly one token exists and the answer is a redirect to the page
    assert response.status_code == 302 and response["Location"] == TOKENS
    [token] = ApiToken.objects.filter(user=org.rep1)

    # and the page shown after the redirect carries the raw value, which is that token's
    shown = client.get(TOKENS)
    raw = shown.context["new_token"]
    assert raw and raw.startswith(token.prefix)
    assert raw in shown.content.decode()
    assert ApiToken.objects.filter(token_hash=token.token_hash).count() == 1

    # when the page is reloaded, the raw value is gone and no token was added
    again = client.get(TOKENS)
    assert again.status_code == 200 and again.context["new_token"] is None
    assert raw not in again.content.decode()
    assert ApiToken.objects.filter(user=org.rep1).count() == 1


def test_a_token_without_a_name_is_refused_on_the_page_itself(client, org):
    client.force_login(org.rep1)
    response = client.post(TOKENS, {"name": "  "})
    assert response.status_code == 422
    assert response.context["errors"]["name"]
    assert not ApiToken.objects.filter(user=org.rep1).exists()
