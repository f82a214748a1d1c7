"""The public pool of issue 7 §4 and §8, driven through Debian's chromium: a rep's neglected
customer is announced 3 days before and returns to the pool after `crm sweep --now` +30 days;
the rep is refused the claim (cool-down) inline, another rep claims it and sees its contact
details in full; that rep releases another customer with a reason from the customer page.
Screenshots of every page land in test-artifacts/e2e/ (and in CRM_SHOTS_DIR when set).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone

from crm.cli import cmd_sweep
from crm.customers.models import Customer
from crm.notify.models import Notification
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _shots(page, name: str) -> None:
    shot(page, name)
    folder = os.environ.get("CRM_SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for width, suffix in ((1440, "desktop"), (390, "phone")):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(150)
            page.screenshot(path=f"{folder}/{name}-{suffix}.png", full_page=True)
        page.set_viewport_size({"width": 1366, "height": 900})


def _sweep(at: dt.datetime) -> None:
    assert cmd_sweep(["--now", timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")]) == 0


def test_a_neglected_customer_returns_to_the_pool_and_another_rep_claims_it(page, live_server):
    org = org_build()
    base = live_server.url
    neglected = customer_make(
        owner=org.rep1,
        name="杭州云帆信息技术有限公司",
        phone="13812345678",
        contacts=[
            {"name": "张伟", "title": "采购经理", "phone": "13987654321", "is_primary": True}
        ],
    )
    since = Customer.objects.get(pk=neglected.pk).owned_since

    # Given three days before the rule runs out, the owner is told once
    _sweep(since + dt.timedelta(days=27, minutes=1))
    assert Notification.objects.filter(recipient=org.rep1, kind="pool_notice").count() == 1
    # When nobody follows it up for 30 days
    _sweep(since + dt.timedelta(days=30, minutes=1))
    assert Customer.objects.get(pk=neglected.pk).owner_id is None

    # Then rep1 finds it in the pool, with the contact details masked, and may not take it back
    login(page, base, "rep1", org.password)
    page.click("nav a[href='/pool/']")  # 公海
    page.wait_for_selector("[data-testid=pool-row]")
    assert "138****5678" in page.content() and "13812345678" not in page.content()
    _shots(page, "pool-01-list")
    page.click(f"text={neglected.name}")
    page.wait_for_selector("[data-testid=pool-moves]")
    assert "139****4321" in page.content() and "13987654321" not in page.content()
    assert page.locator("[data-testid=cooldown]").count() == 1
    page.click("[data-testid=claim]")
    page.wait_for_selector("[data-testid=claim-error]")
    refusal = page.inner_text("[data-testid=claim-error]")
    assert "冷却期" in refusal or "Cool-down" in refusal  # before or after compilemessages
    _shots(page, "pool-02-detail-cool-down")

    # And rep3 claims it and reads the contact details in full
    page.context.clear_cookies()
    login(page, base, "rep3", org.password)
    page.goto(f"{base}/pool/{neglected.pk}/")
    page.click("[data-testid=claim]")
    page.wait_for_url(f"{base}/customers/{neglected.pk}/")
    assert "13812345678" in page.content()
    assert Customer.objects.get(pk=neglected.pk).owner_id == org.rep3.pk
    _shots(page, "pool-03-claimed")

    # And rep3 releases another customer of theirs with a reason, from the customer page
    other = customer_make(owner=org.rep3, name="苏州恒通精密机械有限公司")
    page.goto(f"{base}/customers/{other.pk}/")
    page.click("[data-testid=release] summary")
    page.fill("#release-reason", "客户已转向竞品，暂无需求")
    _shots(page, "pool-04-release-dialog")
    page.click("[data-testid=release-submit]")
    page.click("[data-testid=confirm-ok]")
    page.wait_for_url(f"{base}/pool/{other.pk}/")
    assert "客户已转向竞品" in page.content()
    _shots(page, "pool-05-released")
    assert Customer.objects.get(pk=other.pk).owner_id is None

    # And the administrator's settings page
    page.context.clear_cookies()
    login(page, base, "admin", org.password)
    page.goto(f"{base}/settings/pool/")
    page.wait_for_selector("[data-testid=pool-settings-form]")
    _shots(page, "pool-06-settings")
