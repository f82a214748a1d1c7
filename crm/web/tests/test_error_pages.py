"""Error pages speak the CRM's language in its layout (issue 5 §4): Django's own 400/403/404/
500 pages are bare English. DEBUG is off in the test settings, as in production."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path

import crm.urls

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("an unexpected failure")


def _forbidden(request):
    raise PermissionDenied


urlpatterns = [
    path("test-boom/", _boom),
    path("test-forbidden/", _forbidden),
    *crm.urls.urlpatterns,
]


def test_a_missing_page_shows_the_404_page_in_the_layout_and_in_chinese(client, org):
    """Fails without templates/404.html: Django answers "<h1>Not Found</h1>" in English."""
    assert settings.DEBUG is False
    # given a logged-in user
    client.force_login(org.rep1)
    # when they open an address that does not exist
    response = client.get("/no-such-page/")
    html = response.content.decode()
    # then the 404 page has the sidebar and top bar, and speaks Chinese
    assert response.status_code == 404
    assert 'data-testid="error-404"' in html
    assert 'class="sidebar"' in html and 'class="topbar"' in html
    assert "页面不存在" in html and "返回工作台" in html
    assert "Not Found" not in html and "The requested resource" not in html


def test_a_missing_page_for_an_anonymous_visitor_offers_the_login(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在" in html and "/account/login/" in html
    assert 'class="sidebar"' not in html


def test_the_404_page_follows_the_chosen_language(client, org):
    client.force_login(org.rep1)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get("/no-such-page/").content.decode()
    assert "Page not found" in html and "页面不存在" not in html


@override_settings(ROOT_URLCONF=__name__)
def test_a_permission_error_shows_the_403_page_in_the_layout(client, org):
    client.force_login(org.rep1)
    response = client.get("/test-forbidden/")
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="error-403"' in html and 'class="sidebar"' in html
    assert "您没有打开此页面的权限" in html and "403 Forbidden" not in html


def test_a_bad_request_shows_the_400_page_in_chinese(client):
    """A request for a host not in ALLOWED_HOSTS is refused with 400 (SuspiciousOperation)."""
    response = client.get("/", HTTP_HOST="evil.example.com")
    html = response.content.decode()
    assert response.status_code == 400
    assert "无法处理该请求" in html and "Bad Request" not in html


def test_a_form_posted_without_its_csrf_token_shows_the_crm_page(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.rep1)
    response = client.post("/account/tokens/", {"name": "x"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "表单已失效" in html and "CSRF verification failed" not in html


def test_the_500_page_renders_without_a_request_or_the_database():
    """Django renders 500.html with no context at all, possibly while the database is down:
    the page must need neither."""
    with CaptureQueriesContext(connection) as queries:
        html = render_to_string("500.html")
    assert len(queries) == 0
    assert "系统出现了问题" in html and 'href="/"' in html and "app.css" in html


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_answers_the_crm_500_page(org):
    client = Client(raise_request_exception=False)
    client.force_login(org.rep1)
    response = client.get("/test-boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert 'data-testid="error-500"' in html and "系统出现了问题" in html
    assert "Server Error (500)" not in html


def test_favicon_ico_is_served(client, org):
    """Browsers ask for /favicon.ico whatever the page links; it must never 404."""
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    # also for a user who must still change their password (no redirect to the form)
    org.rep1.must_change_password = True
    org.rep1.save()
    client.force_login(org.rep1)
    assert client.get("/favicon.ico").status_code == 200


def test_every_page_links_the_svg_icon(client, org):
    client.force_login(org.rep1)
    html = client.get("/").content.decode()
    assert 'rel="icon"' in html and "favicon.svg" in html
