"""A web form end to end in chromium (LEAD-1, issue 7 §2): the administrator creates it in
Settings and copies its embed code; a visitor, with no account, fills in its page embedded in
another site's iframe and is thanked; the lead exists with the form's source and grade.
Screenshots: test-artifacts/e2e/webform-*. What happens to the lead next (assigned by a rule,
the SLA badge, breached after a day, the supervisor told) is tests/e2e/test_issue7_flow.py."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from crm.leads.models import Lead, WebForm
from crm.tests_support.factories import org_build
from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_an_administrator_makes_a_form_and_a_visitor_fills_it_in(browser, live_server):
    org = org_build()
    base = live_server.url
    admin = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = admin.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/account/login/")
    page.fill("#id_username", org.admin.username)
    page.fill("#id_password", org.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    # the administrator creates a form in Settings → Web forms
    page.goto(f"{base}/settings/web-forms/")
    page.click("[data-testid=webform-new]")
    page.fill("#id_name", "官网咨询")
    page.check("input[name=fields_asked][value=region]")
    page.check("input[name=fields_required][value=region]")
    page.select_option("#id_grade", "A")
    page.fill("#id_thank_you", "感谢您的咨询，我们会在一个工作日内联系您。")
    page.click("[data-testid=webform-form] button[type=submit]")
    page.wait_for_selector("[data-testid=webform-embed]")
    shot(page, "webform-settings-edit")
    web_form = WebForm.objects.get()
    assert f"/f/{web_form.key}/" in page.input_value("[data-testid=webform-iframe]")
    page.goto(f"{base}/settings/web-forms/")
    page.wait_for_selector("[data-testid=webform-row]")
    shot(page, "webform-settings-list")

    # a visitor with no account opens the page inside another site's iframe
    visitor = browser.new_context(
        viewport={"width": 900, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    site = visitor.new_page()
    site.set_default_timeout(15_000)
    # "another site": a page of another origin, served from its own little server
    html = (
        "<!doctype html><html><head><meta charset='utf-8'></head>"
        "<body style='font-family:sans-serif;background:#eef2f7'><h2>示例公司官网</h2>"
        f"<iframe src='{base}/f/{web_form.key}/' width='640' height='760' style='border:0'>"
        "</iframe></body></html>"
    ).encode()

    class CompanySite(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    company_site = HTTPServer(("127.0.0.1", 0), CompanySite)
    threading.Thread(target=company_site.serve_forever, daemon=True).start()
    site.goto(f"http://127.0.0.1:{company_site.server_port}/contact")
    frame = site.frame_locator("iframe")
    frame.locator("[data-testid=webform]").wait_for()
    shot(site, "webform-public-embedded")
    frame.locator("#wf-company").fill("杭州云帆科技有限公司")
    frame.locator("#wf-name").fill("王强")
    frame.locator("#wf-phone").fill("13912345678")
    frame.locator("#wf-email").fill("wang@example.com")
    frame.locator("#wf-region").select_option(index=1)
    frame.locator("#wf-requirement").fill("想了解 CRM 的报价和实施周期。")
    site.wait_for_timeout(3200)  # a person takes longer than the minimum fill time
    frame.locator("button[type=submit]").click()
    frame.locator("[data-testid=webform-done]").wait_for()
    assert "感谢您的咨询" in frame.locator("[data-testid=webform-done]").inner_text()
    shot(site, "webform-public-done")

    lead = Lead.objects.get()
    assert (lead.company, lead.source, lead.grade, lead.web_form_id) == (
        "杭州云帆科技有限公司",
        "web_form",
        "A",
        web_form.pk,
    )
    assert lead.region
    assert not visitor.cookies()

    # the page alone, as a visitor opening the link directly, at phone width
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    alone = phone.new_page()
    alone.goto(f"{base}/f/{web_form.key}/")
    alone.wait_for_selector("[data-testid=webform]")
    shot(alone, "webform-public-phone")
    assert alone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    for context in (admin, visitor, phone):
        context.close()
    company_site.shutdown()
