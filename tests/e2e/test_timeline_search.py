"""The customer timeline tab and the global search in a real browser, at desktop and phone
width (issue 6 §4): chips filter by HTMX, the top bar searches, nothing scrolls sideways."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.accounts.models import User
from crm.customers.models import Customer
from crm.customers.services import contact_create, customer_transfer, customer_update
from crm.demo import demo_load
from crm.tests_support.timeline import kinds_registered, timeline_line_make
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "demo-Passw0rd!"
WIDTHS = {"desktop": 1440, "phone": 390}


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _no_horizontal_page_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _story(customer: Customer) -> None:
    """A customer with a few weeks of history: edits, a contact, a transfer, and lines of
    other modules (registered for the test) on the same timeline."""
    manager = User.objects.get(username="manager")
    customer = customer_update(
        actor=customer.owner,
        customer=customer,
        data={"grade": "A", "requirement": "计划采购 200 台办公电脑，Q2 前完成招标"},
        version=customer.version,
    )
    contact_create(
        actor=customer.owner,
        customer=customer,
        data={"name": "王采购", "title": "采购经理", "phone": "13800138000"},
    )
    now = timezone.now()
    for days, kind, note in (
        (20, "t_stage", "初步接触 → 需求分析"),
        (12, "t_stage", "需求分析 → 方案提交"),
        (3, "t_won", "合同 HT-2026-018，¥1,280,000.00"),
    ):
        timeline_line_make(
            customer=customer,
            kind=kind,
            owner=customer.owner,
            actor=customer.owner,
            at=now - dt.timedelta(days=days),
            data={"note": note},
            object_type="opportunity",
        )
    customer_transfer(actor=manager, customer=customer, to_user=manager)


def test_timeline_tab_and_search_page(browser, live_server):
    demo_load(password=PASSWORD, customers=40)
    customer = (
        Customer.objects.filter(deleted_at__isnull=True, owner__username="rep1")
        .order_by("created_at")
        .first()
    )
    base = live_server.url
    with kinds_registered(("t_stage", "opportunities"), ("t_won", "opportunities")):
        _story(customer)
        for label, width in WIDTHS.items():
            context = browser.new_context(
                viewport={"width": width, "height": 900},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            login(page, base, "manager")

            page.goto(f"{base}/customers/{customer.pk}/")
            page.wait_for_selector("[data-testid=recent-activity] [data-testid=timeline-line]")
            shot(page, f"timeline-{label}-details")
            assert _no_horizontal_page_scroll(page)

            page.click("[data-testid=open-timeline]")
            page.wait_for_selector("[data-testid=timeline] [data-testid=timeline-line]")
            assert "tab=timeline" in page.url
            count = page.locator("[data-testid=timeline-line]").count()
            assert count >= 6
            shot(page, f"timeline-{label}-tab")
            assert _no_horizontal_page_scroll(page)

            # a chip filters in place (HTMX) and shows only its kind
            page.click("[data-testid=timeline-chip][data-kind=transfer]")
            page.wait_for_url("**kind=transfer**")
            page.wait_for_selector("[data-testid=timeline-chip][data-kind=transfer].active")
            assert page.locator("[data-testid=timeline-line]").count() == 1
            assert page.locator("[data-testid=timeline-line][data-kind=transfer]").count() == 1
            shot(page, f"timeline-{label}-filtered")

            # the top bar searches customers (and whatever else is registered)
            if label == "desktop":
                page.fill("[data-testid=global-search]", customer.name[:4])
                page.press("[data-testid=global-search]", "Enter")
            else:
                page.goto(f"{base}/search/?q={customer.name[:4]}")
            page.wait_for_selector("[data-testid=search-hit]")
            assert "/search/" in page.url
            assert customer.name in page.inner_text("[data-testid=search-group]")
            shot(page, f"search-{label}-results")
            assert _no_horizontal_page_scroll(page)

            page.goto(f"{base}/search/?q=没有这个客户")
            page.wait_for_selector("[data-testid=search-empty]")
            shot(page, f"search-{label}-empty")
            context.close()
