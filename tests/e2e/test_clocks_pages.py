"""The clocks' pages in Debian's chromium (issue 7 §3, §6): the overdue follow-ups page with
the manager's per-rep summary, a follow-up taking a customer off it, the dormant page, the
customer list's overdue filter and Settings → Clocks. Desktop and phone screenshots land in
test-artifacts/e2e/clocks-*."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.activities.clocks import followup_cadence_sweep
from crm.customers.clocks import customers_dormant_sweep
from crm.tests_support.clocks import backdate
from crm.tests_support.factories import PASSWORD, customer_make, org_build
from crm.tests_support.leads import lead_make
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
WIDTHS = {"desktop": 1440, "phone": 390}
DAY = dt.timedelta(days=1)


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_overdue_and_dormant_pages(browser, live_server):
    org = org_build()
    now = timezone.now()
    names = ["北京华科信息技术有限公司", "上海远洋贸易有限公司", "深圳瑞丰网络科技有限公司"]
    for i, name in enumerate(names):
        backdate(
            customer_make(owner=org.rep1 if i < 2 else org.rep2, name=name, grade="AB"[i % 2]),
            last_followup_at=now - (10 + i * 5) * DAY,
            last_activity_at=now - (95 + i) * DAY,
        )
    lead = lead_make(owner=org.rep1, company="杭州云帆智能制造有限公司", grade="B")
    backdate(lead, created_at=now - 40 * DAY, assigned_at=now - 40 * DAY)
    followup_cadence_sweep(now=now)
    customers_dormant_sweep(now=now)
    base = live_server.url
    for label, width in WIDTHS.items():
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, base, "manager")
        page.goto(f"{base}/followups/overdue/")
        page.wait_for_selector("[data-testid=overdue-summary]")
        assert page.locator("[data-testid=overdue-row]").count() == 4
        shot(page, f"clocks-{label}-overdue-manager")
        page.goto(f"{base}/customers/dormant/")
        page.wait_for_selector("[data-testid=dormant-table]")
        shot(page, f"clocks-{label}-dormant")
        page.goto(f"{base}/customers/?overdue=1")
        page.wait_for_selector("[data-testid=customer-row]")
        shot(page, f"clocks-{label}-customers-overdue-filter")
        context.close()
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    login(page, base, "rep1")
    page.goto(f"{base}/followups/overdue/")
    page.wait_for_selector("[data-testid=overdue-table]")
    assert page.locator("[data-testid=overdue-row]").count() == 3
    shot(page, "clocks-desktop-overdue-rep")
    context.close()
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    login(page, base, "admin")
    page.goto(f"{base}/settings/clocks/")
    page.wait_for_selector("[data-testid=clocks-form]")
    shot(page, "clocks-desktop-settings")
    page.fill("#id_dormant_days", "0")
    page.click("[data-testid=clocks-form] button[type=submit]")
    page.wait_for_selector(".has-error")
    shot(page, "clocks-desktop-settings-error")
    context.close()
