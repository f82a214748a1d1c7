"""Import through the browser (issue 8 §8 Playwright): an administrator adds a custom field
for customers, downloads the customer template (it carries the new field), imports a file
with three bad rows, sees the dry run, imports, downloads the error file, fixes the three
rows in it and imports it again; then a rep exports a filtered customer list.
Screenshots: test-artifacts/e2e/import-*.png.
"""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from django.utils import timezone

from crm.accounts.models import RolePermission, User
from crm.core.configstate import config_changed
from crm.customers.models import Customer
from crm.dataio.models import ImportJob
from crm.tests_support.factories import org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _choose(page, path) -> None:
    page.set_input_files(
        "#import-file", [{"name": path.name, "mimeType": XLSX, "buffer": path.read_bytes()}]
    )


def _upload_and_dry_run(page, base: str, path) -> None:
    page.goto(f"{base}/customers/")
    page.click("[data-testid=import-menu] summary")
    page.click("[data-testid=import-customers]")
    page.wait_for_url("**/import/customers/")
    _choose(page, path)
    page.click("[data-testid=upload-next]")
    page.wait_for_url("**/mapping/")
    page.click("[data-testid=mapping-next]")
    page.locator("[data-testid=import-counts]").wait_for()


def test_admin_imports_customers_fixes_the_error_file_and_a_rep_exports(
    page, live_server, tmp_path
):
    org = org_build()
    base = live_server.url
    login(page, base, "admin", org.password)

    # A custom field for customers (Settings → Custom fields).
    page.goto(f"{base}/settings/custom-fields/customers/")
    page.click("[data-testid=custom-field-new]")
    page.fill("#id_key", "booth")
    page.select_option("#id_type", "integer")
    page.fill("#id_label", "展位号")
    page.fill("#id_label_en", "Booth")
    page.click("[data-testid=custom-field-save]")
    page.locator("[data-testid=custom-field-row]").first.wait_for()
    assert "展位号" in page.locator("[data-testid=custom-field-table]").inner_text()
    shot(page, "import-custom-field")

    # The template, from the 导入 menu of the customer list.
    page.goto(f"{base}/customers/")
    page.click("[data-testid=import-menu] summary")
    shot(page, "import-menu")
    with page.expect_download() as info:
        page.click("[data-testid=import-template-customers-xlsx]")
    template = tmp_path / "template.xlsx"
    info.value.save_as(template)
    book = openpyxl.load_workbook(template)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1] if c.value]
    example = {h: c.value for h, c in zip(header, sheet[2], strict=False)}
    assert "展位号" in header and "名称" in header and "行业" in header
    assert sheet.data_validations.dataValidation, "choice columns offer a drop-down"

    # Eight rows, three of them bad: a grade that does not exist, a booth that is not a
    # number, a missing name.
    def row(i: int, **changes):
        values = {
            **example,
            "名称": f"杭州导入{i}号科技有限公司",
            "电话": f"0571-8800{i:04d}",
            "联系人电话": f"1380013{i:04d}",
            "邮箱": f"info{i}@example.com",
            "联系人邮箱": f"c{i}@example.com",
            "等级": "B",
            "负责人": "rep1",
            "展位号": i,
        }
        values.update(changes)
        return [values.get(h) for h in header]

    rows = [row(i) for i in range(1, 6)]
    rows.append(row(6, 等级="Z"))
    rows.append(row(7, 展位号="A区"))
    rows.append(row(8, 名称=""))
    upload = openpyxl.Workbook()
    upload.active.append(header)
    for r in rows:
        upload.active.append(r)
    first = tmp_path / "展会客户.xlsx"
    upload.save(first)

    page.goto(f"{base}/customers/")
    page.click("[data-testid=import-menu] summary")
    page.click("[data-testid=import-customers]")
    page.wait_for_url("**/import/customers/")
    _choose(page, first)
    shot(page, "import-upload")
    page.click("[data-testid=upload-next]")
    page.wait_for_url("**/mapping/")
    assert page.locator("#col_0").input_value() == "name"
    shot(page, "import-mapping")
    page.click("[data-testid=mapping-next]")
    page.locator("[data-testid=import-counts]").wait_for()
    assert page.inner_text("[data-testid=count-created]") == "5"
    assert page.inner_text("[data-testid=count-rejected]") == "3"
    errors = page.locator("[data-testid=import-error]").all_inner_texts()
    assert any(e.startswith("7") and "等级" in e for e in errors), errors
    assert any(e.startswith("8") and "展位号" in e for e in errors), errors
    assert any(e.startswith("9") and "名称" in e for e in errors), errors
    assert not Customer.objects.filter(name__startswith="杭州导入").exists()
    shot(page, "import-dry-run")

    page.click("[data-testid=import-now]")
    page.locator("[data-testid=import-counts]").wait_for()
    assert page.inner_text("[data-testid=count-created]") == "5"
    assert Customer.objects.filter(name__startswith="杭州导入").count() == 5
    assert Customer.objects.get(name="杭州导入3号科技有限公司").custom == {"booth": 3}
    shot(page, "import-done")

    # The error file: the three rows as they were, with the reason; fixed in place.
    with page.expect_download() as info:
        page.click("[data-testid=error-file]")
    fixed = tmp_path / "展会客户-错误.xlsx"
    info.value.save_as(fixed)
    book = openpyxl.load_workbook(fixed)
    sheet = book.active
    head = [c.value for c in sheet[1]]
    assert head[:-1] == header and head[-1] in ("错误", "Error")  # until the catalogue has it
    assert sheet.max_row == 4
    col = {h: i + 1 for i, h in enumerate(head)}
    sheet.cell(2, col["等级"]).value = "A"
    sheet.cell(3, col["展位号"]).value = 7
    sheet.cell(4, col["名称"]).value = "杭州导入8号科技有限公司"
    book.save(fixed)

    _upload_and_dry_run(page, base, fixed)
    assert page.inner_text("[data-testid=count-created]") == "3"
    assert page.inner_text("[data-testid=count-rejected]") == "0"
    page.click("[data-testid=import-now]")
    page.locator("[data-testid=import-counts]").wait_for()
    assert page.inner_text("[data-testid=count-created]") == "3"
    assert Customer.objects.filter(name__startswith="杭州导入").count() == 8
    shot(page, "import-reimported")

    page.goto(f"{base}/import/")
    assert page.locator("[data-testid=import-row]").count() == 2
    shot(page, "import-history")

    # A long import as its progress page shows it while it runs (polled by HTMX).
    running = ImportJob.objects.create(
        module="customers",
        file_name="百万客户.xlsx",
        created_by=User.objects.get(username="admin"),
        state="running",
        total=100000,
        done=42000,
        started_at=timezone.now() - dt.timedelta(seconds=14),
    )
    page.goto(f"{base}/import/job/{running.pk}/")
    page.locator("[data-testid=import-progress]").wait_for()
    assert "42000" in page.inner_text("[data-testid=import-status]")
    shot(page, "import-progress")
    ImportJob.objects.filter(pk=running.pk).update(state="done", done=100000, created=100000)
    page.locator("[data-testid=import-counts]").wait_for(timeout=10_000)

    # A rep (the imported customers' owner) exports a filtered list.
    perm = RolePermission.objects.get(role__code="sales_rep", module="customers")
    perm.actions = sorted({*perm.actions, "export"})
    perm.save()
    config_changed()
    page.context.clear_cookies()
    login(page, base, "rep1", org.password)
    page.goto(f"{base}/customers/")
    page.select_option("#customer-filters select[name=grade]", "A")
    page.wait_for_url("**grade=A**")
    page.locator("[data-testid=customer-row]").first.wait_for()
    page.click("[data-testid=export-menu] summary")
    with page.expect_download() as info:
        page.click("[data-testid=export-customers-xlsx]")
    exported = tmp_path / "export.xlsx"
    info.value.save_as(exported)
    rows = list(openpyxl.load_workbook(exported).active.iter_rows(values_only=True))
    names = [r[list(rows[0]).index("名称")] for r in rows[1:]]
    assert names == ["杭州导入6号科技有限公司"]
    shot(page, "import-rep-export")
