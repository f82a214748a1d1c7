"""Issue 5 §2: a form too large for the server gets the CRM's own 413 page, at desktop and phone
width, instead of Django's bare English 400 page."""

from __future__ import annotations

import pytest

from crm.tests_support.factories import org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_an_oversized_form_shows_the_413_page(page, live_server, settings, width, height):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    org = org_build()
    base = live_server.url
    page.set_viewport_size({"width": width, "height": height})
    # given a sales rep on the new-customer form
    login(page, base, "rep1", org.password)
    page.goto(f"{base}/customers/new/")
    page.fill("#id_name", "杭州超长备注科技有限公司")
    # when the remarks are longer than the server accepts in one request
    page.eval_on_selector("#id_remarks", "el => { el.value = '长'.repeat(4000) }")
    page.click("[data-testid=save]")
    # then the CRM's own page says so, in Chinese, inside the app's layout
    page.wait_for_selector("[data-testid=error-413]")
    text = page.inner_text("[data-testid=error-413]")
    assert "请求数据过大" in text and "4.0" in text
    assert page.locator(".sidebar").count() == 1
    shot(page, f"413-{width}")
