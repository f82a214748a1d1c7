"""The pages issue 5 §4 named, at desktop (1440 px) and phone (390 px) width, with the demo
data: the dashboard, Settings' users and roles, the audit log, the 404 page, the password
change page and the login page with an error. Screenshots land in test-artifacts/e2e/ui-*
for a person to look at; the layout faults the testers found are asserted as well."""

from __future__ import annotations

import pytest
from django.test import override_settings

from crm.demo import demo_load
from tests.e2e.conftest import ARTIFACTS, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "demo-Passw0rd!"
WIDTHS = {"desktop": 1440, "phone": 390}


def login(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _no_horizontal_page_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_pages_at_desktop_and_phone_width(browser, live_server):
    demo_load(password=PASSWORD)
    base = live_server.url
    for label, width in WIDTHS.items():
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)

        # The login page with a failed attempt
        page.goto(f"{base}/account/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "wrong-password")
        page.click("button[type=submit]")
        page.wait_for_selector(".alert-error")
        assert "用户名或密码不正确" in page.inner_text(".alert-error")
        shot(page, f"ui-{label}-login-error")

        login(page, base, "admin")
        page.wait_for_selector(".chart canvas")
        page.wait_for_timeout(600)  # the charts' entry animation
        shot(page, f"ui-{label}-dashboard")
        assert _no_horizontal_page_scroll(page)
        new_this_month = int(page.inner_text(".stat-grid .stat:nth-child(4) .value"))
        total = int(page.inner_text("[data-testid=stat-total]"))
        assert new_this_month < total / 5
        if label == "desktop":
            # The dark sidebar runs the full height of a long page.
            heights = page.evaluate(
                "[document.querySelector('.sidebar').getBoundingClientRect().height,"
                " document.documentElement.scrollHeight]"
            )
            assert heights[0] >= heights[1] - 1, heights
        else:
            # Two KPI cards per row on a phone.
            boxes = [page.locator(".stat-grid .stat").nth(i).bounding_box() for i in range(4)]
            assert boxes[0]["y"] == boxes[1]["y"] and boxes[2]["y"] == boxes[3]["y"]
            assert boxes[0]["width"] < width / 2

        page.goto(f"{base}/customers/")
        if label == "desktop":
            heights = page.evaluate(
                "[document.querySelector('.sidebar').getBoundingClientRect().height,"
                " document.documentElement.scrollHeight]"
            )
            assert heights[0] >= heights[1] - 1, heights
        shot(page, f"ui-{label}-customers")

        for name, path in (("users", "/settings/users/"), ("roles", "/settings/roles/")):
            page.goto(f"{base}{path}")
            shot(page, f"ui-{label}-{name}")
            assert _no_horizontal_page_scroll(page)
            # No badge is cut off: each is as wide as its text needs, inside the visible part
            # of the table and not under the row's sticky Edit button.
            clipped = page.evaluate(
                """[...document.querySelectorAll('td .badge')].filter(b => {
                  const r = b.getBoundingClientRect();
                  const wrap = b.closest('.table-wrap').getBoundingClientRect();
                  const sticky = b.closest('tr').querySelector('td.sticky-actions');
                  const edge = sticky && sticky.offsetParent ?
                    sticky.getBoundingClientRect().left : wrap.right;
                  return b.scrollWidth > b.clientWidth + 1
                    || r.right > Math.min(edge, wrap.right) + 1;
                }).map(b => b.textContent)"""
            )
            assert clipped == [], clipped

        page.goto(f"{base}/no-such-page/")
        assert "页面不存在" in page.inner_text("[data-testid=error-404]")
        shot(page, f"ui-{label}-404")

        page.goto(f"{base}/account/password/change/")
        shot(page, f"ui-{label}-password-change")
        assert "你" not in page.inner_text("main")

        page.goto(f"{base}/settings/audit/")
        shot(page, f"ui-{label}-audit-admin")

        # The sales manager reaches the audit log from his menu.
        page.context.clear_cookies()
        login(page, base, "manager")
        if label == "phone":
            page.click("[data-toggle-sidebar]")
        page.click("nav >> text=操作日志")
        page.wait_for_selector("[data-testid=audit-table]")
        shot(page, f"ui-{label}-audit-manager")
        page.screenshot(path=str(ARTIFACTS / f"ui-{label}-audit-manager-top.png"))
        context.close()


@override_settings(ROOT_URLCONF="crm.web.tests.test_error_pages")
def test_the_500_page_in_the_browser(browser, live_server):
    """The standalone 500 page still has the CRM's look (its stylesheet loads)."""
    for label, width in WIDTHS.items():
        context = browser.new_context(viewport={"width": width, "height": 700}, locale="zh-CN")
        page = context.new_page()
        response = page.goto(f"{live_server.url}/test-boom/")
        assert response.status == 500
        assert "系统出现了问题" in page.inner_text("[data-testid=error-500]")
        background = page.evaluate(
            "getComputedStyle(document.querySelector('.auth-wrap')).backgroundImage"
        )
        assert "gradient" in background  # app.css applied
        shot(page, f"ui-{label}-500")
        context.close()
