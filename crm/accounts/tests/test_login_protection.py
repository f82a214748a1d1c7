"""Login protection that cannot be turned against users (issue 5 §3, ORG-4).

Three limits, each proven through the web login form (POST /account/login/) and the token
endpoint (POST /api/v1/auth/token), from client addresses set per request:

a. 5 failures lock a username at one address only: its owner still logs in from elsewhere;
b. 20 failures from one address, whatever the usernames, lock that address (429);
c. 50 failures for one username from all addresses together lock the account for everybody
   and tell the administrators (audit entry, email), who can unlock it.

And the client address comes from REMOTE_ADDR unless trusted proxies are configured: a client
cannot pick its own address with X-Forwarded-For, neither to escape a lock nor in the audit
trail.
"""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from crm.accounts.models import LoginFailure
from crm.accounts.services import (
    configurers,
    user_unlock,
    users_locked_for_everybody,
    users_locked_out,
)
from crm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

LOGIN = "/account/login/"
TOKEN = "/api/v1/auth/token"
WRONG = "wrong-password"


def web_login(username: str, password: str, *, ip: str = "127.0.0.1", **headers):
    return Client().post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers
    )


def api_login(username: str, password: str, *, ip: str = "127.0.0.1", **headers):
    return Client(headers={"Accept-Language": "en"}).post(
        TOKEN,
        json.dumps({"username": username, "password": password}),
        content_type="application/json",
        REMOTE_ADDR=ip,
        **headers,
    )


def succeeded(response) -> bool:
    """A web login redirects; a token exchange answers 200 with the token."""
    if response.status_code == 302:
        return True
    json_answer = response.get("Content-Type", "").startswith("application/json")
    return response.status_code == 200 and json_answer and "token" in response.json()


LOGINS = pytest.mark.parametrize("login", [web_login, api_login], ids=["web", "api"])


# --- a. a username is locked at one address, not everywhere --------------------------------


@LOGINS
def test_a_username_locked_from_one_address_still_logs_in_from_another(org, login):
    # Given five failed logins for rep1 from a stranger's address
    for _ in range(5):
        login("rep1", WRONG, ip="203.0.113.9")
    # Then that address is refused even with the right password
    refused = login("rep1", org.password, ip="203.0.113.9")
    assert refused.status_code == 429
    # But rep1 logs in from the office
    assert succeeded(login("rep1", org.password, ip="198.51.100.20"))


@LOGINS
def test_the_lockout_at_an_address_spares_the_other_usernames_there(org, login):
    for _ in range(5):
        login("rep1", WRONG, ip="198.51.100.20")
    assert login("rep1", org.password, ip="198.51.100.20").status_code == 429
    assert succeeded(login("rep2", org.password, ip="198.51.100.20"))


def test_a_successful_token_exchange_forgives_only_the_failures_at_its_own_address(org):
    """The token endpoint resets the lockout like the web login does, for its own address only:
    a stranger's failures elsewhere must not be wiped by the owner's login."""
    for _ in range(4):
        api_login("rep1", WRONG, ip="203.0.113.9")
    assert succeeded(api_login("rep1", org.password, ip="198.51.100.20"))
    # The stranger has one guess left at their address, not five
    assert api_login("rep1", WRONG, ip="203.0.113.9").status_code == 429


# --- b. one address, many usernames ---------------------------------------------------------


@LOGINS
def test_twenty_failures_from_one_address_lock_it_for_every_username(org, login):
    # Given 20 failures from one address, each for another (mostly unknown) username
    for n in range(19):
        assert login(f"guess{n}", WRONG, ip="203.0.113.7").status_code in (200, 401)
    assert login("guess19", WRONG, ip="203.0.113.7").status_code == 429
    # When the 21st attempt names a username not tried before, with its right password
    response = login("rep2", org.password, ip="203.0.113.7")
    # Then it is refused with 429 and the lockout message
    assert response.status_code == 429
    if login is api_login:
        body = response.json()
        assert body["error"] == "locked_out"
        assert "network address" in body["message"]
    else:
        assert "accounts/locked_out.html" in [t.name for t in response.templates]
    # While other addresses are unaffected
    assert succeeded(login("rep2", org.password, ip="198.51.100.20"))


def test_an_ipv6_client_cannot_escape_the_address_limit_by_rotating_within_its_64(org):
    """One line gets a whole IPv6 /64: counted per single address, it would never be limited."""
    for n in range(20):
        web_login(f"guess{n}", WRONG, ip=f"2001:db8:1:2::{n + 1:x}")
    assert web_login("rep2", org.password, ip="2001:db8:1:2::ffff").status_code == 429
    # A neighbouring /64 is another line
    assert succeeded(web_login("rep2", org.password, ip="2001:db8:1:3::1"))


def test_the_address_limit_counts_web_and_api_failures_together(org):
    for n in range(10):
        web_login(f"web{n}", WRONG, ip="203.0.113.7")
    for n in range(10):
        api_login(f"api{n}", WRONG, ip="203.0.113.7")
    assert api_login("rep2", org.password, ip="203.0.113.7").status_code == 429
    assert web_login("rep2", org.password, ip="203.0.113.7").status_code == 429


def test_the_address_limit_is_configurable(org, settings):
    settings.CRM_LOGIN_IP_FAILURE_LIMIT = 3
    for n in range(3):
        web_login(f"guess{n}", WRONG, ip="203.0.113.7")
    assert web_login("rep2", org.password, ip="203.0.113.7").status_code == 429


def test_nineteen_failures_from_one_address_do_not_lock_it(org):
    for n in range(19):
        web_login(f"guess{n}", WRONG, ip="203.0.113.7")
    assert succeeded(web_login("rep2", org.password, ip="203.0.113.7"))


def test_failures_older_than_the_window_do_not_count_for_the_address(org):
    import datetime as dt

    from django.utils import timezone

    for n in range(20):
        web_login(f"guess{n}", WRONG, ip="203.0.113.7")
    LoginFailure.objects.update(at=timezone.now() - dt.timedelta(minutes=16))
    assert succeeded(web_login("rep2", org.password, ip="203.0.113.7"))


# --- c. one username, many addresses --------------------------------------------------------


def _addresses(count: int, *, start: int = 1) -> list[str]:
    return [f"10.0.{n // 250}.{n % 250 + 1}" for n in range(start, start + count)]


@LOGINS
def test_fifty_failures_from_fifty_addresses_lock_the_account_and_tell_the_admins(
    org, login, django_capture_on_commit_callbacks
):
    # Given 49 failed logins for rep1, each from another address
    for ip in _addresses(49):
        assert login("rep1", WRONG, ip=ip).status_code in (200, 401)
    assert mail.outbox == []
    # When the 50th failure comes from yet another address
    with django_capture_on_commit_callbacks(execute=True):
        assert login("rep1", WRONG, ip="10.9.9.9").status_code == 429
    # Then rep1 cannot log in from anywhere, not even with the right password
    for ip in ("198.51.100.20", "127.0.0.1"):
        refused = login("rep1", org.password, ip=ip)
        assert refused.status_code == 429
    if login is api_login:
        assert "administrators have been told" in refused.json()["message"]
    # While other accounts log in as usual
    assert succeeded(login("rep2", org.password, ip="198.51.100.20"))
    # And the lock is in the audit trail, once
    locks = AuditEntry.objects.filter(action=AuditEntry.Action.ACCOUNT_LOCKED)
    assert list(locks.values_list("object_id", flat=True)) == [org.rep1.pk]
    # And the administrators were emailed, once, with a link to unlock
    admins = set(configurers().exclude(email="").values_list("email", flat=True))
    assert "admin@example.com" in admins and "rep1@example.com" not in admins
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert set(message.to) == admins
    assert "rep1" in message.subject
    assert "50" in message.body
    assert reverse("settings:user_edit", args=[org.rep1.pk]) in message.body
    # And Settings → Users lists the account as locked for everybody
    assert users_locked_for_everybody() == [org.rep1]
    assert users_locked_out(usernames=["rep1", "rep2"]) == {"rep1"}


def test_an_administrator_unlocks_the_account_and_a_new_attack_is_reported_again(
    org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for ip in _addresses(50):
            web_login("rep1", WRONG, ip=ip)
    assert len(mail.outbox) == 1
    # When an administrator unlocks rep1
    user_unlock(actor=org.admin, user=org.rep1)
    # Then rep1 logs in again
    assert succeeded(web_login("rep1", org.password, ip="198.51.100.20"))
    assert users_locked_for_everybody() == []
    # And a new run of 50 failures locks and reports again
    with django_capture_on_commit_callbacks(execute=True):
        for ip in _addresses(50, start=100):
            web_login("rep1", WRONG, ip=ip)
    assert web_login("rep1", org.password, ip="198.51.100.20").status_code == 429
    assert len(mail.outbox) == 2
    assert AuditEntry.objects.filter(action=AuditEntry.Action.ACCOUNT_LOCKED).count() == 2


def test_the_users_page_shows_the_locked_accounts_with_an_unlock_button(org):
    for ip in _addresses(50):
        web_login("rep1", WRONG, ip=ip)
    admin = Client()
    admin.force_login(org.admin)
    page = admin.get(reverse("settings:users")).content.decode()
    assert 'data-testid="locked-accounts"' in page
    assert reverse("settings:user_unlock", args=[org.rep1.pk]) in page


def test_an_unknown_username_is_refused_as_well_but_nobody_is_told(
    org, django_capture_on_commit_callbacks
):
    """The same answer for every username, so the lock reveals no account; no alert though."""
    with django_capture_on_commit_callbacks(execute=True):
        for ip in _addresses(50):
            web_login("nobody", WRONG, ip=ip)
    assert web_login("nobody", WRONG, ip="198.51.100.20").status_code == 429
    assert mail.outbox == []
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.ACCOUNT_LOCKED).exists()


def test_a_locked_out_clients_retries_do_not_count_towards_the_account_limit(org):
    """Refused attempts check no password: one address that keeps retrying after its lockout
    must not lock the account for everybody on its own."""
    for _ in range(60):
        web_login("rep1", WRONG, ip="203.0.113.9")
    assert LoginFailure.objects.filter(username="rep1").count() == 5
    assert succeeded(web_login("rep1", org.password, ip="198.51.100.20"))
    assert mail.outbox == []


def test_the_account_limit_is_configurable(org, settings, django_capture_on_commit_callbacks):
    settings.CRM_LOGIN_ACCOUNT_FAILURE_LIMIT = 3
    with django_capture_on_commit_callbacks(execute=True):
        for ip in _addresses(3):
            web_login("rep1", WRONG, ip=ip)
    assert web_login("rep1", org.password, ip="198.51.100.20").status_code == 429
    assert len(mail.outbox) == 1


# --- d. the client address: REMOTE_ADDR unless trusted proxies are configured ---------------


@LOGINS
def test_x_forwarded_for_does_not_change_the_address_without_proxy_config(org, login):
    """A guard rather than a mend: the address already came from REMOTE_ADDR, and must keep
    doing so now that a proxy header can be configured (CRM_TRUSTED_PROXY_COUNT = 0)."""
    # Given a client that sends another X-Forwarded-For with each failure
    for n in range(5):
        login("rep1", WRONG, ip="203.0.113.9", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}")
    # Then it is locked all the same, whatever it claims next
    refused = login("rep1", org.password, ip="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert refused.status_code == 429
    # And the audit trail shows the address it really came from
    failures = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED)
    assert set(failures.values_list("ip", flat=True)) == {"203.0.113.9"}


@LOGINS
def test_behind_a_trusted_proxy_the_address_comes_from_the_proxy_header(org, login, settings):
    settings.CRM_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    # Given failures the proxy forwarded for one client, who also wrote its own header
    for n in range(5):
        login("rep1", WRONG, ip=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.9")
    # Then that client is locked, and a colleague behind the same proxy is not
    assert (
        login("rep1", org.password, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    )
    assert succeeded(login("rep1", org.password, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.20"))
    # And the audit trail names the clients, not the proxy
    ips = set(
        AuditEntry.objects.filter(
            action__in=[AuditEntry.Action.LOGIN_FAILED, AuditEntry.Action.LOGIN]
        ).values_list("ip", flat=True)
    )
    assert "203.0.113.9" in ips
    assert proxy not in ips
