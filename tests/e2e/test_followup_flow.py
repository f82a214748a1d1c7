"""A rep's follow-up day in Debian's chromium (issue 6 §2, §7): log a follow-up with a next
plan from the customer page, find the plan under "my follow-ups", log it with one click, be
told off for a time in the future; the manager's recycle bin. Desktop (1440 px) and phone
(390 px) screenshots of each page land in test-artifacts/e2e/fup-*."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.activities.services import followup_delete
from crm.tests_support.activities import followup_make
from crm.tests_support.factories import PASSWORD, customer_make, org_build
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
WIDTHS = {"desktop": 1440, "phone": 390}


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _no_horizontal_page_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def local_input(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_a_rep_logs_a_follow_up_plans_the_next_and_logs_it_from_my_follow_ups(browser, live_server):
    org = org_build()
    customer = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    older = customer_make(owner=org.rep1, name="上海远洋贸易有限公司")
    for i in range(3):
        followup_make(customer=older, ago=dt.timedelta(days=i + 1), summary=f"第{i + 1}次沟通报价")
    base = live_server.url
    for label, width in WIDTHS.items():
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, base, "rep1")

        # the customer page's follow-ups tab, then "log follow-up"
        page.goto(f"{base}/customers/{customer.pk}/?tab=followups")
        page.wait_for_selector("[data-testid=followups-tab]")
        shot(page, f"fup-{label}-customer-tab-empty")
        page.click("[data-testid=log-followup]")
        page.wait_for_selector("#followup-form")

        # a time in the future is refused with the field's message, the input kept
        page.fill("#id_occurred_at", local_input(timezone.now() + dt.timedelta(days=1)))
        page.fill("#id_summary", "电话沟通交付时间，客户要求下周演示")
        page.click("[data-testid=save]")
        page.wait_for_selector("[data-error-summary]")
        assert page.input_value("#id_summary") == "电话沟通交付时间，客户要求下周演示"
        assert page.locator(".field.has-error #id_occurred_at").count() == 1
        shot(page, f"fup-{label}-form-errors")
        assert _no_horizontal_page_scroll(page)

        # corrected, with a plan for tomorrow
        page.fill("#id_occurred_at", local_input(timezone.now() - dt.timedelta(minutes=30)))
        page.select_option("#id_method", "phone")
        page.fill("#id_feedback", "预算已批，希望看到实物演示")
        page.fill("#id_next_at", local_input(timezone.now() + dt.timedelta(hours=20)))
        page.select_option("#id_next_method", "visit")
        page.fill("#id_next_goal", f"上门演示方案（{label}）")
        shot(page, f"fup-{label}-form")
        page.click("[data-testid=save]")
        page.wait_for_selector("[data-testid=followups-tab] [data-testid=followup-item]")
        shot(page, f"fup-{label}-customer-tab")
        assert _no_horizontal_page_scroll(page)

        # "my follow-ups", this week: the plan, with "log it"
        page.goto(f"{base}/followups/?tab=week")
        row = page.locator("[data-testid=plan-row]", has_text=f"上门演示方案（{label}）")
        row.wait_for()
        shot(page, f"fup-{label}-mine-week")
        assert _no_horizontal_page_scroll(page)
        row.locator("[data-testid=log-it]").click()
        page.wait_for_selector("[data-testid=plan-carried]")
        assert page.input_value("#id_method") == "visit"
        page.fill("#id_summary", "按计划上门演示，客户满意")
        page.click("[data-testid=save]")
        page.wait_for_url(f"{base}/followups/?tab=week")
        assert (
            page.locator("[data-testid=plan-row]", has_text=f"上门演示方案（{label}）").count() == 0
        )

        page.goto(f"{base}/followups/?tab=recent")
        page.wait_for_selector("[data-testid=followup-item]")
        shot(page, f"fup-{label}-mine-recent")
        assert _no_horizontal_page_scroll(page)

        # the follow-up's page
        page.locator("[data-testid=followup-item] .fup-when").first.click()
        page.wait_for_selector("[data-testid=plan-card]")
        shot(page, f"fup-{label}-detail")
        assert _no_horizontal_page_scroll(page)

        # the customer chooser
        page.goto(f"{base}/followups/new/?q=华科")
        page.wait_for_selector("[data-testid=choose-customer]")
        shot(page, f"fup-{label}-choose")
        context.close()

    assert FollowUp.objects.filter(customer=customer).count() == 4
    assert FollowUp.objects.filter(customer=customer, next_done_by__isnull=False).count() == 2

    # the manager's recycle bin
    followup_delete(actor=org.manager, followup=FollowUp.objects.filter(customer=older).first())
    for label, width in WIDTHS.items():
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        login(page, base, "manager")
        page.goto(f"{base}/followups/recycle-bin/")
        page.wait_for_selector("[data-testid=deleted-row]")
        shot(page, f"fup-{label}-recycle-bin")
        assert _no_horizontal_page_scroll(page)
        page.goto(f"{base}/followups/?tab=recent&author={org.rep1.pk}")
        page.wait_for_selector("[data-testid=author-filter]")
        shot(page, f"fup-{label}-mine-manager")
        context.close()
