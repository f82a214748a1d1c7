"""The sales flow of issue 6 §7, driven through Debian's chromium: a rep creates an opportunity
from the customer page, logs a follow-up on it with an attachment and a next plan, drags the
card on the kanban to 方案提交, is refused a win without a contract number and wins with one;
the manager sees the team's pipeline in the forecast; the reminder of the plan appears in the
rep's bell after `crm sweep --now`. Screenshots of every page at
desktop and phone width land in test-artifacts/e2e/ (and in CRM_SHOTS_DIR when set).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.cli import cmd_sweep
from crm.core.models import Attachment
from crm.customers.models import Customer
from crm.sales.models import Opportunity
from crm.tests_support.factories import customer_make, org_build
from crm.tests_support.files import pdf_bytes
from crm.tests_support.sales import opportunity_make
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


def test_rep_creates_moves_and_wins_an_opportunity(page, live_server, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    org = org_build()
    base = live_server.url
    customer = customer_make(owner=org.rep1, name="北京华科智能设备有限公司", status="intent")
    opportunity_make(owner=org.rep1, name="服务器扩容项目", amount="250000")
    opportunity_make(owner=org.rep2, name="培训服务采购", amount="80000")

    # Given rep1 on the customer's opportunities tab
    login(page, base, "rep1", org.password)
    page.goto(f"{base}/customers/{customer.pk}/?tab=opportunities")
    page.click("[data-testid=new-opportunity]")

    # When they create an opportunity from there
    page.fill("#id_name", "A公司2027年Q1办公设备采购")
    page.fill("#id_amount", "120000")
    page.fill("#id_expected_close_date", "2027-03-31")
    _shots(page, "sales-01-create")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=stage-path]")
    opp = Opportunity.objects.get(name="A公司2027年Q1办公设备采购")
    assert opp.stage.code == "initial" and opp.customer == customer
    _shots(page, "sales-02-detail")

    # And log a follow-up on it, with the proposal attached and the next step planned
    page.goto(f"{base}/opportunities/{opp.pk}/?tab=followups")
    page.click("[data-testid=log-followup]")
    page.fill("#id_summary", "电话沟通需求，客户要求下周提供方案。")
    plan_at = timezone.localtime() + dt.timedelta(days=2)
    page.fill("#id_next_at", plan_at.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_next_method", "visit")
    page.fill("#id_next_goal", "上门讲解方案")
    page.set_input_files(
        "#id_file",
        files=[{"name": "方案.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}],
    )
    page.click("[data-testid=save]")
    page.wait_for_url(lambda url: "/followups/new/" not in url)
    followup = FollowUp.objects.get(opportunity=opp)
    assert followup.next_at is not None
    assert Attachment.objects.filter(object_id=followup.pk, name="方案.pdf").exists()

    # And drag its card on the kanban to 方案提交
    page.goto(f"{base}/opportunities/kanban/")
    page.wait_for_selector(f"[data-id='{opp.pk}']")
    _shots(page, "sales-03-kanban")
    card = page.locator(f".kanban-card[data-id='{opp.pk}']")
    target = page.locator(".kanban-cards").nth(2)  # 方案提交
    card.drag_to(target)
    page.wait_for_function(
        f"document.querySelectorAll('.kanban-cards')[2].querySelector(\"[data-id='{opp.pk}']\")"
    )
    page.wait_for_timeout(800)
    opp.refresh_from_db()
    assert opp.stage.code == "proposal", opp.stage.code

    # Then they win it with a contract number
    page.goto(f"{base}/opportunities/{opp.pk}/")
    page.click("[data-testid=win]")
    page.fill("#id_contract_no", "")
    page.click("[data-testid=win-submit]")
    page.wait_for_selector("#win-dialog[open] .has-error")
    _shots(page, "sales-04-win-refused")
    page.fill("#id_contract_no", "HT-2027-001")
    page.click("[data-testid=win-submit]")
    page.wait_for_selector(".stage-path li.current.status-won")
    opp.refresh_from_db()
    assert opp.status == "won" and opp.contract_no == "HT-2027-001"
    assert Customer.objects.get(pk=customer.pk).status == "deal"
    page.goto(f"{base}/opportunities/{opp.pk}/?tab=stages")
    _shots(page, "sales-05-stage-history")
    page.goto(f"{base}/opportunities/")
    _shots(page, "sales-06-list")

    # And the manager sees the team's pipeline in the forecast
    page.context.clear_cookies()
    login(page, base, "manager", org.password)
    page.goto(f"{base}/opportunities/forecast/")
    page.wait_for_selector("[data-testid=forecast-month]")
    page.wait_for_timeout(500)
    assert "培训服务采购" not in page.content()
    _shots(page, "sales-07-forecast")
    page.goto(f"{base}/opportunities/kanban/")
    _shots(page, "sales-08-kanban-manager")
    page.goto(f"{base}/customers/{customer.pk}/?tab=opportunities")
    _shots(page, "sales-09-customer-tab")

    # And the administrator's Settings → Stages
    page.context.clear_cookies()
    login(page, base, "admin", org.password)
    page.goto(f"{base}/settings/stages/")
    _shots(page, "sales-10-settings-stages")
    page.goto(f"{base}/opportunities/new/?q=华科")
    _shots(page, "sales-11-customer-chooser")

    # And when the sweeps run as of 20 minutes before the planned visit, the rep is reminded
    when = timezone.localtime(followup.next_at) - dt.timedelta(minutes=20)
    assert cmd_sweep(["--now", when.strftime("%Y-%m-%dT%H:%M")]) == 0  # `crm sweep --now`
    page.context.clear_cookies()
    login(page, base, "rep1", org.password)
    bell = page.locator("[data-testid=notify-bell]")
    assert "1" in bell.inner_text()
    bell.click()
    page.wait_for_selector("[data-testid=notification]")
    assert "上门讲解方案" in page.content() or customer.name in page.content()
    _shots(page, "sales-12-reminder-in-the-bell")
