"""Issue 5 §6: no session write per request; the 30-minute idle timeout still holds.

The session is saved (its deadline pushed SESSION_COOKIE_AGE forward) only when its last
refresh is over a minute old, instead of on every request.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from crm.accounts.middleware import SESSION_SEEN_KEY

pytestmark = pytest.mark.django_db

LOGIN = "/account/login/"


@pytest.fixture
def browser(org) -> Client:
    client = Client()
    response = client.post(LOGIN, {"username": "rep1", "password": org.password})
    assert response.status_code == 302
    return client


def last_refresh_ago(client: Client, seconds: int, *, expires_in: dt.timedelta) -> str:
    """Make the stored session look refreshed `seconds` ago, its deadline `expires_in` away."""
    session = client.session
    session[SESSION_SEEN_KEY] = int(timezone.now().timestamp()) - seconds
    session.save()
    Session.objects.filter(pk=session.session_key).update(expire_date=timezone.now() + expires_in)
    return session.session_key


@pytest.fixture
def saves(monkeypatch) -> list[str]:
    """Every write to the session store (the test settings use the database backend)."""
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    written: list[str] = []
    real_save = SessionStore.save

    def save(self, *args, **kwargs):
        written.append(self.session_key)
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(SessionStore, "save", save)
    return written


def test_sessions_are_not_saved_on_every_request():
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_a_request_30_seconds_after_the_last_refresh_writes_nothing(browser, saves):
    key = last_refresh_ago(browser, 30, expires_in=dt.timedelta(minutes=29, seconds=30))
    saves.clear()
    before = Session.objects.get(pk=key)
    response = browser.get("/")
    assert response.status_code == 200
    assert saves == []
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    after = Session.objects.get(pk=key)
    assert (after.expire_date, after.session_data) == (before.expire_date, before.session_data)


def test_a_request_61_seconds_after_the_last_refresh_pushes_the_deadline(browser, saves):
    key = last_refresh_ago(browser, 61, expires_in=dt.timedelta(minutes=28, seconds=59))
    saves.clear()
    response = browser.get("/")
    assert response.status_code == 200
    assert saves == [key]
    remaining = Session.objects.get(pk=key).expire_date - timezone.now()
    assert remaining > dt.timedelta(minutes=29, seconds=50)
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 30 * 60


def test_api_calls_with_the_browser_session_write_nothing_either(browser, saves):
    last_refresh_ago(browser, 10, expires_in=dt.timedelta(minutes=29))
    saves.clear()
    assert browser.get("/api/v1/customers").status_code == 200
    assert saves == []


def test_an_idle_session_past_its_deadline_is_logged_out(browser):
    last_refresh_ago(browser, 31 * 60, expires_in=-dt.timedelta(seconds=1))
    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
