"""A rep exports a filtered customer list (issue 8 §3, §8 Playwright): the 导出 menu carries
the filters the list shows, the browser downloads an xlsx holding exactly those rows, the
rep's own, with the phone as the list shows it. Screenshot: test-artifacts/e2e/export-*.png.
"""

from __future__ import annotations

import openpyxl
import pytest

from crm.accounts.models import RolePermission
from crm.core.configstate import config_changed
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_rep_filters_the_customer_list_and_exports_xlsx(page, live_server, tmp_path):
    org = org_build()
    # Reps do not export by default (crm/accounts/roles.py): the administrator grants it.
    perm = RolePermission.objects.get(role__code="sales_rep", module="customers")
    perm.actions = sorted({*perm.actions, "export"})
    perm.save()
    config_changed()
    customer_make(owner=org.rep1, name="杭州导出甲科技有限公司", grade="A")
    customer_make(owner=org.rep1, name="杭州导出乙科技有限公司", grade="C")
    customer_make(owner=org.rep2, name="杭州导出丙科技有限公司", grade="A")  # not rep1's
    base = live_server.url
    login(page, base, "rep1", org.password)

    page.goto(f"{base}/customers/")
    page.select_option("#customer-filters select[name=grade]", "A")
    page.wait_for_url("**grade=A**")
    page.locator("[data-testid=customer-row]").first.wait_for()
    assert page.locator("[data-testid=customer-row]").count() == 1
    page.click("[data-testid=export-menu] summary")
    link = page.locator("[data-testid=export-customers-xlsx]")
    assert "grade=A" in (link.get_attribute("href") or "")
    shot(page, "export-menu")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("customers-")
    assert download.suggested_filename.endswith(".xlsx")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    sheet = openpyxl.load_workbook(target).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    names = [row[header.index("名称")] for row in rows[1:]]
    assert names == ["杭州导出甲科技有限公司"]
    shot(page, "export-done")
