"""A sales manager's day with the customer archive, driven through Debian's chromium.

Log in, create a customer with two contacts, find it by pinyin initials, edit it, run into a
stale-edit conflict (someone else saved first), delete it and restore it from the recycle bin.
Screenshots of every step land in test-artifacts/e2e/ for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from crm.customers.models import Customer
from crm.customers.services import customer_update
from crm.tests_support.factories import org_build
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NAME = "北京华科智能设备有限公司"


def login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_customer_lifecycle_through_the_browser(page, live_server):
    org = org_build()
    base = live_server.url

    # Given a sales manager who logs in
    login(page, base, "manager", org.password)
    shot(page, "01-dashboard")

    # When they create a customer with two contacts
    page.goto(f"{base}/customers/new/")
    page.fill("#id_name", NAME)
    page.select_option("#id_industry", "manufacturing")
    page.select_option("#id_grade", "A")
    page.fill("#id_phone", "010-62345678")
    page.fill("#contacts-0-name", "王建国")
    page.fill("#contacts-0-title", "采购经理")
    page.fill("#contacts-0-phone", "13812345678")
    page.click("[data-add-contact]")
    page.fill("#contacts-1-name", "李秀英")
    page.fill("#contacts-1-phone", "13987654321")
    shot(page, "02-create-form")
    page.click("[data-testid=save]")

    # Then the customer page shows its number and both contacts
    page.wait_for_selector("[data-testid=customer-number]")
    number = page.inner_text("[data-testid=customer-number]").strip()
    assert re.fullmatch(r"KH\d{6}\d{4}", number), number
    customer = Customer.objects.get(number=number)
    assert customer.contacts.count() == 2
    assert customer.contacts.get(is_primary=True).name == "王建国"
    shot(page, "03-customer-page")

    # When they search the list by pinyin initials
    page.goto(f"{base}/customers/?q=bjhkzn")
    rows = page.locator("[data-testid=customer-row]")
    assert rows.count() == 1
    assert NAME in rows.first.inner_text()
    shot(page, "04-search-pinyin")

    # When they edit it
    page.goto(f"{base}/customers/{customer.pk}/edit/")
    page.fill("#id_address", "北京市海淀区中关村大街1号")
    page.click("[data-testid=save]")
    page.wait_for_url(f"{base}/customers/{customer.pk}/")
    assert "中关村大街1号" in page.content()

    # And open the edit form again, while a colleague saves a change first
    page.goto(f"{base}/customers/{customer.pk}/edit/")
    customer.refresh_from_db()
    customer_update(
        actor=org.admin, customer=customer, data={"grade": "B"}, version=customer.version
    )
    page.fill("#id_remarks", "下周二上门演示")
    page.click("[data-testid=save]")

    # Then the save is refused with who changed it, and their input is still there
    conflict = page.locator("[data-testid=conflict]")
    conflict.wait_for()
    assert "管理员" in conflict.inner_text()
    assert page.input_value("#id_remarks") == "下周二上门演示"
    customer.refresh_from_db()
    assert customer.remarks == "" and customer.grade == "B"
    shot(page, "05-stale-edit-conflict")

    # When they apply their change onto the current version, both changes survive
    page.click("[data-testid=apply-onto]")
    page.wait_for_url(f"{base}/customers/{customer.pk}/")
    customer.refresh_from_db()
    assert customer.remarks == "下周二上门演示" and customer.grade == "B"

    # When they delete it (confirming in the app's dialog), it leaves the list and waits in
    # the recycle bin
    page.click("[data-testid=delete]")
    page.click("#confirm-dialog [data-testid=confirm-ok]")
    page.wait_for_url(re.compile(r".*/customers/$"))
    customer.refresh_from_db()
    assert customer.deleted_at is not None
    page.goto(f"{base}/customers/recycle-bin/")
    assert NAME in page.inner_text("body")
    shot(page, "06-recycle-bin")

    # And restoring it brings it back
    page.locator("[data-testid=deleted-row]", has_text=NAME).locator(
        "[data-testid=restore]"
    ).click()
    page.wait_for_load_state()
    customer.refresh_from_db()
    assert customer.deleted_at is None
    page.goto(f"{base}/customers/?q={number}")
    assert page.locator("[data-testid=customer-row]").count() == 1
    shot(page, "07-restored")


def test_phone_layout_and_english(page, live_server):
    org = org_build()
    base = live_server.url
    login(page, base, "rep1", org.password)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/customers/")
    shot(page, "08-list-phone")
    # The language switch in the top bar turns the interface English
    page.set_viewport_size({"width": 1366, "height": 900})
    page.click(".lang-switch button")
    page.wait_for_load_state()
    assert "Customers" in page.inner_text("body")
    shot(page, "09-list-english")
