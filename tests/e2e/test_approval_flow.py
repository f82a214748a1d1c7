"""Lifecycle with approvals (issue 7 §5), in Debian's chromium: the paths the issue 7 story
(tests/e2e/test_issue7_flow.py: deal → lost asked, approved from the notification) does not
walk. A rep asks to mark a loyal customer lost; the customer page says the change waits; the
manager finds it in the "waiting for me" list (the nav badge counts it), cannot reject it
without a comment, rejects it with one; the customer stays loyal and the rep is told. The rep
asks again and withdraws the request; their requests list shows both; the administrator's
Settings → Approvals. Screenshots: test-artifacts/e2e/approval-*."""

from __future__ import annotations

import pytest

from crm.core.models import Approval
from crm.customers.models import Customer
from crm.notify.models import Notification
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _ask_lost(page, base: str, customer) -> None:
    page.goto(f"{base}/customers/{customer.pk}/")
    page.click("[data-testid=lifecycle] summary")
    page.select_option("[data-testid=lifecycle-status]", "lost")
    page.select_option("[data-testid=lifecycle-reason]", "price_high")
    page.fill("[data-testid=lifecycle-note]", "客户嫌续约价格过高")


def test_a_request_is_rejected_from_the_list_and_another_withdrawn(browser, live_server):
    org = org_build()
    base = live_server.url
    customer = customer_make(owner=org.rep1, name="北京华科智能设备有限公司", status="loyal")

    def new_page():
        context = browser.new_context(
            viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        return context, page

    # Given the rep asks to change the loyal customer to 流失 with a reason
    rep_context, rep = new_page()
    login(rep, base, "rep1", org.password)
    _ask_lost(rep, base, customer)
    shot(rep, "approval-01-rep-asks")
    rep.click("[data-testid=lifecycle-submit]")

    # Then the change waits for approval and the page says who decides
    rep.wait_for_selector("[data-testid=approval-banner]")
    assert "王经理" in rep.inner_text(".messages")
    assert Customer.objects.get(pk=customer.pk).status == "loyal"
    first = Approval.objects.get(object_id=customer.pk, state="pending")
    shot(rep, "approval-02-customer-waiting")

    # When the manager opens it from the "waiting for me" list the nav badge counts
    manager_context, manager = new_page()
    login(manager, base, "manager", org.password)
    assert manager.inner_text("[data-testid=nav-badge]") == "1"
    manager.click("nav a[href='/approvals/']")
    manager.wait_for_selector("[data-testid=approval-row]")
    shot(manager, "approval-03-waiting-for-me")
    manager.click("[data-testid=approval-open]")
    manager.wait_for_url(f"{base}/approvals/{first.pk}/")
    assert "北京华科智能设备有限公司" in manager.inner_text("h1 + .sub")

    # Then a rejection needs a comment, and with one it is rejected
    manager.click("[data-testid=reject]")
    manager.wait_for_selector("[data-testid=approval-error]")
    assert Approval.objects.get(pk=first.pk).state == "pending"
    shot(manager, "approval-04-reject-needs-a-comment")
    manager.fill("[data-testid=approval-comment]", "老客户，先由我来谈续约价格")
    manager.click("[data-testid=reject]")
    manager.wait_for_selector(
        "[data-testid=approval-state]:has-text('已驳回'), "
        "[data-testid=approval-state]:has-text('Rejected')"
    )
    shot(manager, "approval-05-rejected")
    assert Customer.objects.get(pk=customer.pk).status == "loyal"
    told = Notification.objects.get(recipient=org.rep1, kind="approval_rejected")
    assert "老客户，先由我来谈续约价格" in told.text
    manager.click("[data-testid=approval-object]")
    manager.wait_for_url(f"{base}/customers/{customer.pk}/")
    assert manager.locator("[data-testid=approval-banner]").count() == 0
    manager_context.close()

    # When the rep asks again and thinks better of it, they withdraw the request
    _ask_lost(rep, base, customer)
    rep.click("[data-testid=lifecycle-submit]")
    rep.wait_for_selector("[data-testid=approval-banner]")
    second = Approval.objects.get(object_id=customer.pk, state="pending")
    rep.goto(f"{base}/approvals/{second.pk}/")
    rep.click("[data-testid=withdraw]")
    rep.click("[data-testid=confirm-ok]")
    rep.wait_for_selector(
        "[data-testid=approval-state]:has-text('已撤回'), "
        "[data-testid=approval-state]:has-text('Withdrawn')"
    )
    assert Approval.objects.get(pk=second.pk).state == "withdrawn"
    assert Customer.objects.get(pk=customer.pk).status == "loyal"

    # Then their requests list shows both
    rep.goto(f"{base}/approvals/?tab=mine&state=any")
    rep.wait_for_selector("[data-testid=approval-row]")
    assert rep.locator("[data-testid=approval-row]").count() == 2
    shot(rep, "approval-06-rep-requests")
    rep_context.close()

    # The administrator's Settings → Approvals: the transitions that wait (deal/loyal → lost)
    admin_context, admin = new_page()
    login(admin, base, "admin", org.password)
    admin.goto(f"{base}/settings/approvals/")
    assert admin.is_checked("[data-testid='transition-deal:lost']")
    assert admin.is_checked("[data-testid='transition-loyal:lost']")
    assert not admin.is_checked("[data-testid='transition-potential:intent']")
    shot(admin, "approval-07-settings")
    admin_context.close()
