"""Lifecycle with approvals (issue 7 §5, §8), in Debian's chromium: a rep asks to mark a deal
customer lost; the customer page says the change waits for approval; the manager opens the
notification from the bell, lands on the approval page, approves it; the customer is lost,
with the loss reason, and the rep is told. Screenshots: test-artifacts/e2e/approval-*."""

from __future__ import annotations

import pytest

from crm.core.models import Approval
from crm.customers.models import Customer
from crm.notify.models import Notification
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_rep_asks_to_mark_a_deal_customer_lost_and_the_manager_approves(browser, live_server):
    org = org_build()
    base = live_server.url
    customer = customer_make(owner=org.rep1, name="北京华科智能设备有限公司", status="deal")

    def new_page():
        context = browser.new_context(
            viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        return context, page

    # Given the rep on the deal customer's page
    rep_context, rep = new_page()
    login(rep, base, "rep1", org.password)
    rep.goto(f"{base}/customers/{customer.pk}/")

    # When they ask to change the status to 流失 with a reason
    rep.click("[data-testid=lifecycle] summary")
    rep.select_option("[data-testid=lifecycle-status]", "lost")
    rep.select_option("[data-testid=lifecycle-reason]", "competitor")
    rep.fill("[data-testid=lifecycle-note]", "客户选择了竞品的整体方案")
    shot(rep, "approval-01-rep-asks")
    rep.click("[data-testid=lifecycle-submit]")

    # Then the change waits for approval and the page says so
    rep.wait_for_selector("[data-testid=approval-banner]")
    assert "王经理" in rep.inner_text(".messages")
    assert Customer.objects.get(pk=customer.pk).status == "deal"
    approval = Approval.objects.get(object_id=customer.pk, state="pending")
    shot(rep, "approval-02-customer-waiting")

    # When the manager opens the notification from the bell
    manager_context, manager = new_page()
    login(manager, base, "manager", org.password)
    assert manager.inner_text("[data-testid=nav-badge]") == "1"
    manager.click("[data-testid=notify-bell]")
    manager.wait_for_selector("[data-testid=notification]")
    shot(manager, "approval-03-manager-notification")
    manager.click("[data-testid=notification-open]")
    manager.wait_for_url(f"{base}/approvals/{approval.pk}/")
    assert "北京华科智能设备有限公司" in manager.inner_text("h1 + .sub")
    shot(manager, "approval-04-approval-page")

    # And approves it with a comment
    manager.fill("[data-testid=approval-comment]", "同意，已与客户确认")
    manager.click("[data-testid=approve]")
    manager.wait_for_selector(
        "[data-testid=approval-state]:has-text('已批准'), "
        "[data-testid=approval-state]:has-text('Approved')"
    )
    shot(manager, "approval-05-approved")

    # Then the customer is lost with the reason, and the rep is told
    lost = Customer.objects.get(pk=customer.pk)
    assert (lost.status, lost.lost_reason) == ("lost", "competitor")
    assert Notification.objects.filter(recipient=org.rep1, kind="approval_approved").exists()
    manager.click("[data-testid=approval-object]")
    manager.wait_for_url(f"{base}/customers/{customer.pk}/")
    assert manager.locator("[data-testid=approval-banner]").count() == 0
    shot(manager, "approval-06-customer-lost")

    rep.goto(f"{base}/approvals/?tab=mine&state=any")
    rep.wait_for_selector("[data-testid=approval-row]")
    shot(rep, "approval-07-rep-requests")
    manager_context.close()
    rep_context.close()

    # The administrator's Settings → Approvals: the transitions that wait (deal/loyal → lost)
    admin_context, admin = new_page()
    login(admin, base, "admin", org.password)
    admin.goto(f"{base}/settings/approvals/")
    assert admin.is_checked("[data-testid='transition-deal:lost']")
    assert not admin.is_checked("[data-testid='transition-potential:intent']")
    shot(admin, "approval-08-settings")
    admin_context.close()
