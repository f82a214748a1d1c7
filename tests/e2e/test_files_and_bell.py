"""Files on the customer page and the notifications bell (issue 6 §3, §5), in chromium, at
desktop (1440 px) and phone (390 px) width: a rep uploads two files on the customer's files
tab (HTMX), a refused file is explained inline, a file is deleted after the confirm dialog;
the bell shows the unread count and the notifications page marks them read.
Screenshots: test-artifacts/e2e/files-*."""

from __future__ import annotations

import pytest

from crm.customers.models import Customer
from crm.demo import demo_load
from crm.notify.models import Notification
from crm.notify.services import notification_send
from crm.tests_support import files as samples
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


def test_files_tab_and_bell_at_desktop_and_phone_width(browser, live_server, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    demo_load(password=PASSWORD, customers=40)
    from crm.accounts.models import User

    rep = User.objects.get(username="rep1")
    # The demo's own recent notices read, so the bell counts the three below.
    Notification.objects.filter(recipient=rep).update(is_read=True)
    customer = Customer.objects.filter(owner=rep, deleted_at__isnull=True).order_by("id").first()
    for text, link in (
        (f"跟进提醒：{customer.name} 今天 15:00 电话回访", f"/customers/{customer.pk}/"),
        (
            f"跟进已逾期：{customer.name} 的方案讲解（计划于昨天 10:00）",
            f"/customers/{customer.pk}/",
        ),
        ("商机“年度办公设备采购”已进入商务谈判阶段", "/customers/"),
    ):
        notification_send(recipient=rep, kind="followup_due", text=text, link=link)
    base = live_server.url
    for label, width in WIDTHS.items():
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, base, "rep1")
        assert page.inner_text("[data-testid=notify-count]") in {"3", "2"}

        page.goto(f"{base}/customers/{customer.pk}/?tab=files")
        page.wait_for_selector("[data-testid=attachments-panel]")
        files = [
            {
                "name": f"报价单-{label}.docx",
                "mimeType": "application/octet-stream",
                "buffer": samples.docx_bytes(),
            },
            {
                "name": f"现场照片-{label}.png",
                "mimeType": "image/png",
                "buffer": samples.png_bytes(),
            },
        ]
        page.set_input_files("[data-testid=attachments-panel] input[type=file]", files)
        page.click("[data-testid=attachments-submit]")
        page.wait_for_selector(f"text=现场照片-{label}.png")
        shot(page, f"files-{label}-customer-files-tab")

        page.set_input_files(
            "[data-testid=attachments-panel] input[type=file]",
            [
                {
                    "name": "合同.docx",
                    "mimeType": "application/octet-stream",
                    "buffer": samples.exe_bytes(),
                }
            ],
        )
        page.click("[data-testid=attachments-submit]")
        page.wait_for_selector("[data-testid=attachments-errors]")
        assert "EXE" in page.inner_text("[data-testid=attachments-errors]")
        shot(page, f"files-{label}-refused")

        page.locator("[data-testid=attachment-delete]").first.click()
        page.wait_for_selector("#confirm-dialog[open]")
        page.click("[data-testid=confirm-ok]")
        page.wait_for_selector("[data-testid=attachments-panel] .alert-success")

        page.click("[data-testid=notify-bell]")
        page.wait_for_url(f"{base}/notifications/")
        shot(page, f"files-{label}-notifications")
        if label == "desktop":
            page.click("[data-testid=notification-read] >> nth=0")
            page.wait_for_selector("[data-testid=notify-count]:text-is('2')")
            page.click("[data-testid=notify-unread-filter]")
            page.wait_for_url("**/notifications/?show=unread")
            shot(page, f"files-{label}-notifications-unread")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        context.close()
