"""The customer pages as a new user meets them (issue 5 §4), driven through Debian's chromium
started with --lang=zh-CN.

A failed save with only a contact error shows the banner and focuses the field; a transfer is
an explicit choice, confirmed in the app's dialog; a delete goes through that dialog by keyboard
alone; a bulk grade change works from the list. Screenshots of the list, the form with errors,
the customer page and the recycle bin, at 1440 px and 390 px with 100-character names, land in
test-artifacts/e2e/ui-list-*.png for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from crm.customers.models import Customer
from crm.customers.services import customer_delete
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import ARTIFACTS, shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def long_name(n: int) -> str:
    """A distinct 100-character company name."""
    name = f"北京{n:02d}号" + "华科智能装备与工业互联网系统集成" * 6
    return (name[:96] + "有限公司")[:100]


def active_testid(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.dataset.testid || ''")


def active_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id || ''")


def both_widths(page, name: str, *, viewport_only: bool = False) -> None:
    """Screenshots at both widths; `viewport_only` keeps what the user sees after the page
    scrolled (a full-page shot of a scrolled page repeats the sticky bars mid-image)."""
    for label, size in (("1440", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        if viewport_only:
            page.evaluate(
                "document.activeElement && document.activeElement.scrollIntoView({block: 'center'})"
            )
            page.screenshot(path=str(ARTIFACTS / f"ui-list-{name}-{label}.png"))
        else:
            shot(page, f"ui-list-{name}-{label}")
    page.set_viewport_size(DESKTOP)


def test_failed_save_with_only_a_contact_error_shows_the_banner_and_focuses_the_field(
    page, live_server
):
    org = org_build()
    base = live_server.url
    page.set_viewport_size(DESKTOP)
    login(page, base, "manager", org.password)

    # Given a complete customer whose second contact has a mistyped email
    page.goto(f"{base}/customers/new/")
    page.fill("#id_name", "深圳前海云帆科技有限公司")
    page.select_option("#id_industry", "it")
    page.fill("#id_phone", "0755-86001234")
    page.fill("#contacts-0-name", "陈思远")
    page.fill("#contacts-0-phone", "13812345678")
    page.click("[data-add-contact]")
    page.fill("#contacts-1-name", "林晓")
    page.fill("#contacts-1-email", "linxiao@example")

    # When they save
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=form-errors]")

    # Then nothing is saved, the banner says so, and the bad field has the focus, in view
    assert not Customer.objects.exists()
    assert page.is_visible("[data-testid=form-errors]")
    page.wait_for_function(
        "document.activeElement && document.activeElement.id === 'contacts-1-email'"
    )
    assert page.get_attribute("#contacts-1-email", "aria-invalid") == "true"
    assert page.evaluate(
        "(() => { const r = document.activeElement.getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; })()"
    )
    both_widths(page, "form-errors", viewport_only=True)
    # the banner lists the problem with a link to the field
    assert "联系人 2 · 邮箱" in page.inner_text("[data-testid=form-errors]")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "ui-list-form-errors-top-1440")


def test_transfer_is_an_explicit_choice_confirmed_in_the_app_dialog(page, live_server):
    org = org_build()
    base = live_server.url
    customer = customer_make(owner=org.rep1, name="杭州西溪湿地文化旅游有限公司")
    page.set_viewport_size(DESKTOP)
    login(page, base, "manager", org.password)
    page.on("dialog", lambda d: pytest.fail(f"native dialog opened: {d.message}"))

    page.goto(f"{base}/customers/{customer.pk}/")
    page.click("[data-testid=transfer] summary")
    # nobody is pre-selected and the current owner is not offered
    assert page.input_value("#id_to_user") == ""
    offered = page.eval_on_selector_all("#id_to_user option", "os => os.map(o => o.textContent)")
    assert "李明" not in offered and "张芳" in offered

    # pressing "Transfer" without a choice opens nothing and changes nothing
    page.click("[data-testid=transfer-submit]")
    assert not page.is_visible("#confirm-dialog")

    page.select_option("#id_to_user", label="张芳")
    page.click("[data-testid=transfer-submit]")
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    assert "杭州西溪湿地文化旅游有限公司" in dialog.inner_text() and "张芳" in dialog.inner_text()
    shot(page, "ui-list-transfer-confirm-1440")
    customer.refresh_from_db()
    assert customer.owner == org.rep1  # nothing happens before the confirmation

    page.click("[data-testid=confirm-ok]")
    page.wait_for_selector(".alert-success")
    customer.refresh_from_db()
    assert customer.owner == org.rep2


def test_delete_through_the_app_dialog_with_the_keyboard(page, live_server):
    org = org_build()
    base = live_server.url
    customer = customer_make(owner=org.rep1, name="成都锦城数字营销有限公司")
    page.set_viewport_size(DESKTOP)
    login(page, base, "manager", org.password)
    page.on("dialog", lambda d: pytest.fail(f"native dialog opened: {d.message}"))
    page.goto(f"{base}/customers/{customer.pk}/")

    # Enter on the delete button opens the app's dialog, which names the record
    page.focus("[data-testid=delete]")
    page.keyboard.press("Enter")
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    assert "删除客户「成都锦城数字营销有限公司」？可在回收站恢复" in dialog.inner_text()
    assert active_testid(page) == "confirm-cancel"  # the harmless choice has the focus
    both_widths(page, "delete-dialog")

    # Esc cancels and the focus returns to the button
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert active_testid(page) == "delete"
    customer.refresh_from_db()
    assert customer.deleted_at is None

    # Tab stays inside the dialog
    page.keyboard.press("Enter")
    dialog.wait_for(state="visible")
    page.keyboard.press("Tab")
    assert active_testid(page) == "confirm-ok"
    page.keyboard.press("Tab")
    assert active_testid(page) == "confirm-cancel"
    page.keyboard.press("Shift+Tab")
    assert active_testid(page) == "confirm-ok"

    # Enter on the confirm button submits the delete form
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/customers/$"))
    customer.refresh_from_db()
    assert customer.deleted_at is not None


def test_bulk_change_grade_from_the_list(page, live_server):
    org = org_build()
    base = live_server.url
    first = customer_make(owner=org.rep1, grade="C", name="南京紫金山天文仪器有限公司")
    second = customer_make(owner=org.rep2, grade="C", name="苏州工业园区精密模具有限公司")
    untouched = customer_make(owner=org.rep1, grade="C", name="无锡太湖新城建设有限公司")
    page.set_viewport_size(DESKTOP)
    login(page, base, "manager", org.password)
    page.goto(f"{base}/customers/")

    assert page.is_disabled("[data-testid=bulk-grade]")  # nothing selected yet
    for customer in (first, second):
        page.check(f"input[name=ids][value='{customer.pk}']")
    assert page.inner_text("[data-bulk-count]") == "2"
    page.select_option("#bulk-grade", "A")
    shot(page, "ui-list-bulk-selected-1440")
    page.click("[data-testid=bulk-grade]")
    page.wait_for_selector(".alert-success")
    assert "2" in page.inner_text(".alert-success")

    grades = dict(Customer.objects.values_list("pk", "grade"))
    assert grades[first.pk] == "A" and grades[second.pk] == "A" and grades[untouched.pk] == "C"

    # select all on the page, then delete through the dialog
    page.check("[data-select-all]")
    assert page.inner_text("[data-bulk-count]") == "3"
    page.click("[data-testid=bulk-delete]")
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    assert "3" in dialog.inner_text()
    page.click("[data-testid=confirm-cancel]")
    assert Customer.objects.filter(deleted_at__isnull=True).count() == 3


def test_screenshots_of_long_names_at_1440_and_390(page, live_server):
    """Long names and contacts stay inside their columns; the filter bar keeps one row."""
    org = org_build()
    base = live_server.url
    customers = []
    for n in range(6):
        customers.append(
            customer_make(
                owner=org.rep1 if n % 2 else org.rep2,
                name=long_name(n),
                contacts=[
                    {
                        "name": "欧阳" + "慕容司马上官" * 4,
                        "title": "华东大区采购与供应链管理中心高级总监",
                        "phone": f"1391234{n:04d}",
                        "is_primary": True,
                    }
                ],
            )
        )
    for c in customers[4:]:
        customer_delete(actor=org.manager, customer=c)
    page.set_viewport_size(DESKTOP)
    login(page, base, "manager", org.password)

    page.goto(f"{base}/customers/")
    # the filter bar: every field on the same row at 1440 px
    tops = page.eval_on_selector_all(
        ".filters-grid > .field", "fs => fs.map(f => Math.round(f.getBoundingClientRect().top))"
    )
    assert len(tops) == 8 and len(set(tops)) == 1, tops
    # the table fits: no horizontal scrolling at 1440 px, the names are cut with a tooltip
    assert page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap');"
        " return w.scrollWidth <= w.clientWidth + 1; })()"
    )
    name_link = page.locator(f"a[title='{customers[0].name}']")
    assert name_link.evaluate("a => a.scrollWidth > a.clientWidth")  # truncated
    assert page.locator("[data-testid=list-total]").inner_text().strip() == "共 4 个客户"
    assert page.get_attribute("input[name=created_from]", "lang") == "zh-CN"
    both_widths(page, "list")
    page.set_viewport_size(PHONE)  # on a phone too, the visible columns fit
    page.wait_for_timeout(150)
    assert page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap');"
        " return w.scrollWidth <= w.clientWidth + 1; })()"
    )
    page.set_viewport_size(DESKTOP)

    page.goto(f"{base}/customers/{customers[0].pk}/")
    both_widths(page, "detail")

    page.goto(f"{base}/customers/recycle-bin/")
    restore = page.locator("[data-testid=restore]").first
    box = restore.bounding_box()
    assert box and box["x"] + box["width"] <= DESKTOP["width"]
    assert page.evaluate(
        "(() => { const w = document.querySelector('.table-wrap');"
        " return w.scrollWidth <= w.clientWidth + 1; })()"
    )
    both_widths(page, "recycle-bin")

    page.goto(f"{base}/customers/new/")
    page.fill("#id_first_contact_date", "2026-03-15")
    both_widths(page, "form")


def test_an_inline_contact_form_that_fails_focuses_its_field_after_the_htmx_swap(page, live_server):
    org = org_build()
    base = live_server.url
    customer = customer_make(owner=org.rep1, name="厦门鼓浪屿海洋科技有限公司")
    page.set_viewport_size(DESKTOP)
    login(page, base, "rep1", org.password)
    page.goto(f"{base}/customers/{customer.pk}/?tab=contacts")

    page.click("[data-testid=add-contact]")
    page.wait_for_selector("[data-testid=contact-new-form]")
    page.fill("#id_new-phone", "12")
    page.click("[data-testid=contact-new-form] button[type=submit]")

    page.wait_for_selector("[data-testid=contact-new-form] [data-testid=form-errors]")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_new-name'")
    assert page.get_attribute("#id_new-name", "aria-invalid") == "true"
    shot(page, "ui-list-contact-inline-errors-1440")
