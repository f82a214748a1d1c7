"""Issue 5 §2: a body over the size limit is a clear 413, never Django's HTML 400 page and an
ERROR traceback in the log."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

LIMIT = 4096


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


def big_customer_body() -> str:
    return json.dumps({"name": "大数据科技有限公司", "remarks": "长" * LIMIT})


def assert_no_error_logged(caplog) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()}" for r in errors]


@pytest.mark.parametrize(("lang", "word"), [("en", "too large"), ("zh-hans", "过大")])
def test_an_api_body_over_the_limit_is_413_in_the_api_format(org, caplog, lang, word):
    # given a sales rep with an API token
    api = api_as(org.rep1, lang=lang)
    # when they post a customer whose body is larger than the limit
    with caplog.at_level(logging.INFO):
        response = api.client.post(
            "/api/v1/customers", data=big_customer_body(), content_type="application/json"
        )
    # then the answer is the API's JSON error body with 413, in their language
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "too_large"
    assert word in body["message"]
    assert "4.0" in body["message"]  # names the limit (4.0 KB)
    # and no ERROR record (Django's traceback for RequestDataTooBig) is logged
    assert_no_error_logged(caplog)


def test_a_patch_over_the_limit_is_413_and_changes_nothing(org, caplog):
    customer = customer_make(owner=org.rep1, name="限额测试科技有限公司")
    api = api_as(org.rep1, lang="en")
    body = json.dumps({"version": customer.version, "remarks": "x" * (LIMIT + 1)})
    with caplog.at_level(logging.INFO):
        response = api.client.patch(
            f"/api/v1/customers/{customer.pk}", data=body, content_type="application/json"
        )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    customer.refresh_from_db()
    assert customer.remarks == ""
    assert_no_error_logged(caplog)


def test_a_form_over_the_limit_gets_the_crms_own_413_page(org, caplog):
    # given a logged-in sales rep in the Chinese UI
    client = Client(headers={"Accept-Language": "zh-hans"})
    client.force_login(org.rep1)
    # when they submit the new-customer form with too much text
    with caplog.at_level(logging.INFO):
        response = client.post("/customers/new/", {"name": "大数据", "remarks": "长" * LIMIT})
    # then they see a 413 page in the CRM's layout and language, and nothing is logged as ERROR
    assert response.status_code == 413
    html = response.content.decode()
    assert 'data-testid="error-413"' in html
    assert "请求数据过大" in html
    assert 'class="sidebar"' in html  # the app's layout, not Django's bare page
    assert_no_error_logged(caplog)


def test_a_form_within_the_limit_is_unaffected(org):
    client = Client()
    client.force_login(org.rep1)
    response = client.post("/customers/new/", {"name": ""})
    assert response.status_code == 422  # the form again, with its field errors


def test_login_form_over_the_limit_gets_the_413_page_without_the_app_menu(db, caplog):
    with caplog.at_level(logging.INFO):
        response = Client().post("/account/login/", {"username": "x" * LIMIT, "password": "y"})
    assert response.status_code == 413
    html = response.content.decode()
    assert 'data-testid="error-413"' in html
    assert 'class="sidebar"' not in html
    assert_no_error_logged(caplog)


def test_a_failed_login_with_an_unreadable_form_body_is_400_json_not_djangos_page(db, caplog):
    """Found by the schemathesis run: django-axes reads request.POST on a failed token
    exchange; a multipart body without a boundary raised there and got Django's HTML 400."""
    with caplog.at_level(logging.INFO):
        response = Client(headers={"Accept-Language": "en"}).post(
            "/api/v1/auth/token",
            data=json.dumps({"username": "nobody", "password": "wrong"}),
            content_type="multipart/form-data",
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_body"
    assert "Send JSON" in response.json()["message"]


def test_a_form_with_too_many_fields_is_413_in_the_api_and_the_ui(org, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10**6  # only the number of fields is over
    fields = {f"f{i}": "x" for i in range(60)}
    # JSON that is also a form of 60 fields: ninja parses it, django-axes then reads the form
    login = {"username": "nobody", "password": "wrong&" + "&".join(fields)}
    with caplog.at_level(logging.INFO):
        api = Client(headers={"Accept-Language": "en"}).post(
            "/api/v1/auth/token",
            json.dumps(login),
            content_type="application/x-www-form-urlencoded",
        )
        client = Client()
        client.force_login(org.rep1)
        page = client.post("/customers/new/", fields)
    assert api.status_code == 413
    assert api.json() == {
        "error": "too_large",
        "message": "The request has too many fields (at most 50).",
    }
    assert page.status_code == 413
    assert "请求包含的字段过多（最多 50 个）" in page.content.decode()
    assert_no_error_logged(caplog)
