"""A sales manager merges two duplicate customers (CUS-6, issue 8 §4), through Debian's chromium.

Open the possible duplicates from the customer list, compare a pair entered twice by two reps
(the same phone in two formats), keep the address and remarks of the other record, merge
(confirming in the app's dialog), land on the survivor with the other record's contacts, and
see the old record's URL lead to the survivor. Screenshots: test-artifacts/e2e/merge-*.png.
"""

from __future__ import annotations

import re

import pytest

from crm.customers.models import Customer
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_manager_merges_a_duplicate_pair(page, live_server):
    org = org_build()
    base = live_server.url
    survivor = customer_make(
        owner=org.rep1,
        name="杭州云帆信息技术有限公司",
        phone="0571-8888 6601",
        address="",
        contacts=[
            {"name": "陈立新", "title": "采购经理", "phone": "13905710001", "is_primary": True}
        ],
    )
    other = customer_make(
        owner=org.rep2,
        name="云帆信息（杭州）有限公司",
        phone="057188886601",
        address="杭州市西湖区文三路 90 号",
        remarks="展会上认识，关注数据采集",
        contacts=[
            {"name": "孙敏", "title": "IT 主管", "phone": "13905710002", "is_primary": True},
            {"name": "赵海涛", "title": "财务", "phone": "13905710003"},
        ],
    )

    # Given a sales manager on the customer list
    login(page, base, "manager", org.password)
    page.goto(f"{base}/customers/")
    page.click("[data-testid=duplicates-link]")
    page.wait_for_url(re.compile(r".*/customers/duplicates/"))
    page.click("[data-testid=dup-kind-phone]")
    page.wait_for_selector("[data-testid=dup-group]")
    assert page.locator("[data-testid=dup-group]").count() == 1
    group = page.locator("[data-testid=dup-group]")
    assert survivor.number in group.inner_text() and other.number in group.inner_text()
    shot(page, "merge-01-duplicates")

    # When they compare the pair
    group.locator("[data-testid=dup-compare]").first.click()
    page.wait_for_selector("[data-testid=merge-form]")
    moves = page.inner_text("[data-testid=merge-moves]")
    assert "2" in moves
    # The survivor's empty address defaults to the other's; its name stays.
    assert page.is_checked("[data-testid=keep-address-other]")
    assert page.is_checked("[data-testid=keep-name-self]")
    # ... and keep the other's remarks too
    page.check("[data-testid=keep-remarks-other]")
    shot(page, "merge-02-compare")

    # And merge, confirming in the app's dialog
    page.click("[data-testid=merge-submit]")
    page.wait_for_selector("#confirm-dialog[open]")
    shot(page, "merge-03-confirm")
    page.click("#confirm-dialog [data-testid=confirm-ok]")

    # Then they land on the survivor, with the moved contacts and the kept values
    page.wait_for_url(f"{base}/customers/{survivor.pk}/")
    page.wait_for_selector("[data-testid=customer-number]")
    assert page.inner_text("[data-testid=customer-number]").strip() == survivor.number
    body = page.inner_text("body")
    assert "杭州市西湖区文三路 90 号" in body
    survivor.refresh_from_db()
    assert survivor.remarks == "展会上认识，关注数据采集"
    assert survivor.name == "杭州云帆信息技术有限公司"
    assert survivor.contacts.count() == 3
    shot(page, "merge-04-survivor")
    page.goto(f"{base}/customers/{survivor.pk}/?tab=contacts")
    for name in ("陈立新", "孙敏", "赵海涛"):
        assert name in page.inner_text("body")
    shot(page, "merge-05-contacts")

    # And the old record's URL leads to the survivor
    page.goto(f"{base}/customers/{other.pk}/")
    page.wait_for_url(f"{base}/customers/{survivor.pk}/")
    assert Customer.objects.get(pk=other.pk).merged_into_id == survivor.pk
    # The duplicates page no longer shows the pair
    page.goto(f"{base}/customers/duplicates/?kind=phone")
    assert page.locator("[data-testid=dup-group]").count() == 0
    shot(page, "merge-06-no-duplicates")


def test_manager_compares_duplicate_leads(page, live_server):
    from crm.tests_support.leads import lead_make

    org = org_build()
    base = live_server.url
    first = lead_make(owner=org.rep1, company="苏州启明光电科技有限公司", phone="13862001122")
    second = lead_make(
        owner=org.rep2, company="苏州启明光电科技有限公司", phone="138 6200 1122", notes="官网留言"
    )
    login(page, base, "manager", org.password)
    page.goto(f"{base}/leads/")
    page.click("[data-testid=duplicates-link]")
    page.wait_for_selector("[data-testid=dup-group]")
    text = page.inner_text("[data-testid=dup-group]")
    assert first.number in text and second.number in text
    shot(page, "merge-07-lead-duplicates")
    page.click("[data-testid=dup-compare]")
    page.wait_for_selector("[data-testid=merge-form]")
    assert page.is_checked("[data-testid=keep-notes-other]")
    shot(page, "merge-08-lead-compare")
    page.click("[data-testid=merge-submit]")
    page.click("#confirm-dialog [data-testid=confirm-ok]")
    page.wait_for_url(f"{base}/leads/{first.pk}/")
    assert "官网留言" in page.inner_text("body")
    shot(page, "merge-09-lead-survivor")
    page.goto(f"{base}/leads/{second.pk}/")
    page.wait_for_url(f"{base}/leads/{first.pk}/")
