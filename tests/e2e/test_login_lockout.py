"""Login protection as people meet it (issue 5 §3), driven through Debian's chromium.

Someone guesses rep1's password from 50 addresses: rep1 sees that the account is locked and
that the administrators know; the administrator finds it on Settings → Users and unlocks it;
rep1 logs in again. Screenshots at desktop and phone width land in test-artifacts/e2e/.
"""

from __future__ import annotations

import pytest
from django.test import Client

from crm.tests_support.factories import org_build
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def submit_login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_an_attacked_account_is_locked_shown_to_the_admin_and_unlocked(page, live_server):
    org = org_build()
    base = live_server.url
    # Given 50 failed logins for rep1, from 50 addresses
    for n in range(50):
        Client().post(
            "/account/login/",
            {"username": "rep1", "password": "wrong-password"},
            REMOTE_ADDR=f"10.0.0.{n + 1}",
        )

    # When rep1 logs in with the right password
    page.set_viewport_size(DESKTOP)
    submit_login(page, base, "rep1", org.password)
    # Then the lockout page says the account is locked and the administrators were told
    page.wait_for_selector("text=账号已被暂时锁定", state="attached")
    body = page.inner_text("body")
    assert "已通知管理员" in body, body
    shot(page, "lockout-account-1440")
    page.set_viewport_size(PHONE)
    shot(page, "lockout-account-390")

    # When the administrator opens Settings → Users
    page.set_viewport_size(DESKTOP)
    submit_login(page, base, "admin", org.password)
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/settings/users/")
    banner = page.locator("[data-testid=locked-accounts]")
    # Then the locked account is listed with an unlock button
    assert "rep1" in banner.inner_text()
    shot(page, "users-locked-banner-1440")
    page.set_viewport_size(PHONE)
    shot(page, "users-locked-banner-390")
    page.set_viewport_size(DESKTOP)
    # When they unlock it
    banner.get_by_role("button").click()
    page.wait_for_selector(".alert-success")
    page.goto(f"{base}/settings/users/")
    assert page.locator("[data-testid=locked-accounts]").count() == 0

    # Then rep1 logs in again
    page.context.clear_cookies()
    submit_login(page, base, "rep1", org.password)
    page.wait_for_url(f"{base}/")


def test_five_typos_lock_the_username_at_this_address_with_a_plain_message(page, live_server):
    org = org_build()
    base = live_server.url
    page.set_viewport_size(DESKTOP)
    for _ in range(5):
        submit_login(page, base, "rep2", "wrong-password")
    page.wait_for_selector("text=登录失败次数过多", state="attached")
    shot(page, "lockout-username-at-address-1440")
    page.set_viewport_size(PHONE)
    shot(page, "lockout-username-at-address-390")
    # Another colleague at the same address still logs in
    submit_login(page, base, "rep1", org.password)
    page.wait_for_url(f"{base}/")
