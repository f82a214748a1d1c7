"""Issue 7 §8 as one story, in Debian's chromium: the life of one web-site enquiry.

A visitor submits the public web form; the assignment rule gives the lead to 李明 (rep1), who
sees it on time; after `crm sweep --now` +25 h its first-contact SLA is breached and his
supervisor 王经理 (manager) is notified. 李明 qualifies it and converts it into a customer with
an opportunity; the customer becomes a deal; he asks to mark it lost, and 王经理 approves from
the notification. Nobody follows the lost customer up: three days before the rule runs out
李明 is told, after 30 days it returns to the public pool, and 刘洋 (rep3, another team)
claims it.

The pieces' own edges stay in their tests: the form's settings and embedding
(test_webform_flow), the rules and assign dialogs (test_lead_actions_flow), the approval's
banner, list and settings (test_approval_flow), the pool's masking, cool-down and release
(test_pool_flow). Screenshots: test-artifacts/e2e/issue7-*.png.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.cli import cmd_sweep
from crm.core.models import Approval
from crm.customers.models import Customer
from crm.leads.models import AssignmentRule, Lead
from crm.leads.webforms import web_form_create
from crm.notify.models import Notification
from crm.tests_support.factories import org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

COMPANY = "苏州工业园精密制造有限公司"


def _sweep(at: dt.datetime) -> None:
    assert cmd_sweep(["--now", timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")]) == 0


def test_issue7_one_lead_from_the_web_form_to_the_pool(page, browser, live_server):
    org = org_build()
    base = live_server.url
    AssignmentRule.objects.create(
        name="官网表单给李明", match_source="web_form", target="user", user=org.rep1
    )
    web_form = web_form_create(actor=org.admin, data={"name": "官网咨询", "grade": "A"})

    # 1. A visitor (no account, no cookie) submits the web form.
    page.goto(f"{base}/f/{web_form.key}/")
    page.fill("#wf-company", COMPANY)
    page.fill("#wf-name", "陈静")
    page.fill("#wf-phone", "13700001111")
    page.fill("#wf-email", "chenjing@example.com")
    page.fill("#wf-requirement", "需要一套销售管理系统，50 人左右。")
    shot(page, "issue7-01-webform")
    page.wait_for_timeout(3200)  # a person takes longer than the minimum fill time
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=webform-done]")
    shot(page, "issue7-02-webform-thanks")
    assert not page.context.cookies()
    lead = Lead.objects.get()
    assert (lead.owner_id, lead.grade, lead.source) == (org.rep1.pk, "A", "web_form")

    # 2. The rule gave it to rep1, who sees it on time in the lead list.
    login(page, base, "rep1", org.password)
    page.goto(f"{base}/leads/")
    row = page.locator("[data-testid=lead-row]").filter(has_text=COMPANY)
    assert row.locator("[data-testid=sla-badge]").get_attribute("data-sla") == "on_time"
    shot(page, "issue7-03-rep-leads-on-time")

    # 3. A day and an hour later nobody has called: the sweep marks it breached and tells the
    # owner and his supervisor, once each.
    _sweep(lead.created_at + dt.timedelta(hours=25))
    _sweep(lead.created_at + dt.timedelta(hours=26))
    assert Lead.objects.get(pk=lead.pk).sla_state == "breached"
    for user in (org.rep1, org.manager):
        assert Notification.objects.filter(recipient=user, kind="lead_sla_breached").count() == 1
    page.reload()
    row = page.locator("[data-testid=lead-row]").filter(has_text=COMPANY)
    assert row.locator("[data-testid=sla-badge]").get_attribute("data-sla") == "breached"
    shot(page, "issue7-04-rep-leads-breached")

    manager_context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    manager = manager_context.new_page()
    manager.set_default_timeout(15_000)
    login(manager, base, "manager", org.password)
    manager.goto(f"{base}/notifications/")
    manager.locator("[data-testid=notification]").filter(has_text=COMPANY).wait_for()
    shot(manager, "issue7-05-supervisor-notified")

    # 4. rep1 qualifies the lead and converts it into a customer with an opportunity.
    row.locator("a").filter(has_text=COMPANY).first.click()
    page.wait_for_selector("[data-testid=qualify]")
    shot(page, "issue7-06-lead-page")
    page.click("[data-testid=qualify]")
    page.wait_for_selector("[data-testid=lead-status]")
    assert Lead.objects.get(pk=lead.pk).status == "qualified"
    assert Lead.objects.get(pk=lead.pk).sla_state == "breached"  # qualifying is no contact
    assert page.locator("[data-testid=qualify]").count() == 0
    shot(page, "issue7-07-lead-qualified")
    page.click("[data-testid=convert]")
    page.wait_for_selector("[data-testid=convert-form]")
    page.select_option("#id_industry", "manufacturing")
    page.check("#id_with_opportunity")
    page.fill("#id_opportunity_name", "销售管理系统 50 用户")
    page.fill("#id_opportunity_amount", "180000")
    # The page is taller than the window and its actions bar sticks to the window's foot:
    # a window as tall as the page shows it as a person sees it at the end of the form.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1366, "height": height})
    shot(page, "issue7-08-convert")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.click("[data-testid=convert-submit]")
    page.wait_for_url("**/customers/**")
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.converted_opportunity.amount == 180000
    customer = lead.converted_customer
    assert (customer.name, customer.owner_id) == (COMPANY, org.rep1.pk)
    # The customer's timeline says where it came from, with a link back to the lead.
    assert page.locator(f"a[href='/leads/{lead.pk}/']").count() >= 1
    shot(page, "issue7-09-customer")

    # 5. The customer signs (a deal, applied at once), then is lost to a competitor: that
    # change waits for the manager.
    page.click("[data-testid=lifecycle] summary")
    page.select_option("[data-testid=lifecycle-status]", "deal")
    page.click("[data-testid=lifecycle-submit]")
    page.wait_for_selector(".messages")
    assert Customer.objects.get(pk=customer.pk).status == "deal"
    page.click("[data-testid=lifecycle] summary")
    page.select_option("[data-testid=lifecycle-status]", "lost")
    page.select_option("[data-testid=lifecycle-reason]", "competitor")
    page.fill("[data-testid=lifecycle-note]", "客户选择了竞品的整体方案")
    shot(page, "issue7-10-rep-asks-lost")
    page.click("[data-testid=lifecycle-submit]")
    page.wait_for_selector("[data-testid=approval-banner]")
    assert Customer.objects.get(pk=customer.pk).status == "deal"
    approval = Approval.objects.get(object_id=customer.pk, state="pending")
    shot(page, "issue7-11-waiting-for-approval")

    # 6. The manager approves from the notification the bell shows.
    asked = Notification.objects.get(recipient=org.manager, kind="approval_requested")
    assert COMPANY in asked.text
    manager.click("[data-testid=notify-bell]")
    note = manager.locator("[data-testid=notification]").filter(has_text=asked.text)
    note.wait_for()
    shot(manager, "issue7-12-manager-notifications")
    note.locator("[data-testid=notification-open]").click()
    manager.wait_for_url(f"{base}/approvals/{approval.pk}/")
    shot(manager, "issue7-13-approval-page")
    manager.fill("[data-testid=approval-comment]", "同意，已与客户确认")
    manager.click("[data-testid=approve]")
    manager.wait_for_selector("[data-testid=approval-state]")
    lost = Customer.objects.get(pk=customer.pk)
    assert (lost.status, lost.lost_reason, lost.owner_id) == ("lost", "competitor", org.rep1.pk)
    shot(manager, "issue7-14-approved")
    manager_context.close()

    # 7. Nobody follows the lost customer up: 27 days on rep1 is told, 30 days on it returns
    # to the pool (the sweep is idempotent).
    since = Customer.objects.get(pk=customer.pk).owned_since
    _sweep(since + dt.timedelta(days=27, minutes=1))
    assert Notification.objects.filter(recipient=org.rep1, kind="pool_notice").count() == 1
    page.goto(f"{base}/notifications/")
    page.locator("[data-testid=notification]").first.wait_for()
    shot(page, "issue7-15-rep-pool-notice")
    _sweep(since + dt.timedelta(days=30, minutes=1))
    _sweep(since + dt.timedelta(days=30, minutes=2))
    assert Customer.objects.get(pk=customer.pk).owner_id is None
    assert Notification.objects.filter(recipient=org.rep1, kind="pool_notice").count() == 1

    # 8. Another rep finds it in the pool, contact details masked, and claims it.
    page.context.clear_cookies()
    login(page, base, "rep3", org.password)
    page.click("nav a[href='/pool/']")
    pool_row = page.locator("[data-testid=pool-row]").filter(has_text=COMPANY)
    pool_row.wait_for()
    assert "13700001111" not in page.content()
    shot(page, "issue7-16-pool")
    pool_row.locator("a").filter(has_text=COMPANY).first.click()
    page.wait_for_selector("[data-testid=pool-moves]")
    assert "13700001111" not in page.content()
    shot(page, "issue7-17-pool-customer")
    page.click("[data-testid=claim]")
    page.wait_for_url(f"{base}/customers/{customer.pk}/")
    assert "13700001111" in page.content()
    assert Customer.objects.get(pk=customer.pk).owner_id == org.rep3.pk
    shot(page, "issue7-18-claimed")
