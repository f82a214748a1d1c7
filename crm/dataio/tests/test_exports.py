"""Exports (issue 8 §3): scope, masking, permission, formula cells, files, jobs, audit."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.accounts.models import RolePermission
from crm.core.configstate import config_changed
from crm.core.models import AuditEntry
from crm.dataio.exports import neutralise
from crm.dataio.models import ExportJob
from crm.notify.models import Notification
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


def grant(role: str, module: str, *actions: str) -> None:
    """Give a seeded role more actions in a module (reps do not export by default)."""
    perm = RolePermission.objects.get(role__code=role, module=module)
    perm.actions = sorted({*perm.actions, *actions})
    perm.save()
    config_changed()


def withdraw(role: str, module: str, action: str) -> None:
    perm = RolePermission.objects.get(role__code=role, module=module)
    perm.actions = [a for a in perm.actions if a != action]
    perm.save()
    config_changed()


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[list[str]]:
    data = body(response)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8 Chinese
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def by_key(rows: list[list[str]], key: str = "customers") -> dict[str, str]:
    """The first data row by column key (headers are the columns' labels)."""
    from crm.dataio.registry import dataio_module

    labels = {str(c.label): c.key for c in dataio_module(key).columns()}
    return {labels[h]: v for h, v in zip(rows[0], rows[1], strict=True)}


def test_neutralise_prefixes_formula_starts_only():
    for text in ("=1+1", "+86", "-5", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("普通文本") == "普通文本"


def test_rep_exports_own_customers_only_manager_the_team(org):
    grant("sales_rep", "customers", "export")
    mine = customer_make(owner=org.rep1, name="甲方科技有限公司")
    theirs = customer_make(owner=org.rep2, name="乙方科技有限公司")
    other_team = customer_make(owner=org.rep3, name="丙方科技有限公司")
    rows = csv_rows(web(org.rep1).get("/export/customers/", {"format": "csv"}))
    names = {r[1] for r in rows[1:]}
    assert names == {mine.name}
    rows = csv_rows(web(org.manager).get("/export/customers/", {"format": "csv"}))
    names = {r[1] for r in rows[1:]}
    assert {mine.name, theirs.name} <= names and other_team.name not in names


def test_filters_and_search_are_the_lists(org):
    customer_make(owner=org.rep1, name="华为测试有限公司", grade="A")
    customer_make(owner=org.rep1, name="腾讯测试有限公司", grade="C")
    rows = csv_rows(web(org.manager).get("/export/customers/", {"format": "csv", "grade": "A"}))
    assert [r[1] for r in rows[1:]] == ["华为测试有限公司"]
    rows = csv_rows(web(org.manager).get("/export/customers/", {"format": "csv", "q": "腾讯"}))
    assert [r[1] for r in rows[1:]] == ["腾讯测试有限公司"]


def test_contact_details_masked_without_view_contact(org):
    customer_make(owner=org.rep1, phone="13812345678", email="boss@example.com")
    # Finance exports without view_contact: masked as the list shows them.
    rows = csv_rows(web(org.finance).get("/export/customers/", {"format": "csv"}))
    row = by_key(rows)
    assert row["phone"] == "138****5678"
    assert row["email"] == "b***@example.com"
    assert "****" in row["contact.phone"]
    # The executive has view_contact: in clear.
    rows = csv_rows(web(org.exec).get("/export/customers/", {"format": "csv"}))
    assert by_key(rows)["phone"] == "13812345678"


def test_without_export_permission_403(org):
    customer_make(owner=org.rep1)
    assert web(org.rep1).get("/export/customers/").status_code == 403
    assert web(org.service).get("/export/leads/").status_code == 403
    assert api_as(org.rep1).get("customers/export").status_code == 403
    # The recycle bin needs delete as well: finance may export, not empty the bin.
    assert web(org.finance).get("/export/customers/", {"bin": "1"}).status_code == 403
    assert web(org.admin).get("/export/customers/", {"bin": "1"}).status_code == 200
    assert web(org.admin).get("/export/nothing/").status_code == 404


def test_formula_cells_neutralised_numbers_stay_numbers(org):
    from crm.customers.models import Customer

    customer = customer_make(owner=org.rep1, address="@evil")
    # Values that came in before any rule (an old import): the export still defuses them.
    Customer.objects.filter(pk=customer.pk).update(
        name='=HYPERLINK("http://x")', budget="-5", remarks="+1\t2", competitors="-x"
    )
    rows = csv_rows(web(org.admin).get("/export/customers/", {"format": "csv"}))
    row = by_key(rows)
    assert row["name"] == "'" + '=HYPERLINK("http://x")'
    assert row["address"] == "'@evil"
    assert row["remarks"] == "'+1\t2"
    assert row["competitors"] == "'-x"
    assert row["budget"] == "-5.00"  # a number: no apostrophe
    response = web(org.admin).get("/export/customers/", {"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    values = list(sheet.iter_rows(values_only=True))
    cells = by_key([[str(v) for v in values[0]], list(values[1])])
    assert cells["name"] == "'" + '=HYPERLINK("http://x")'
    assert cells["address"] == "'@evil"
    assert cells["budget"] == -5  # a number cell, not text


def test_xlsx_headers_are_the_column_labels_and_open_with_openpyxl(org):
    from crm.dataio.registry import dataio_module

    customer_make(owner=org.rep1, name="中文名称有限公司")
    response = web(org.admin).get("/export/customers/", {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    header = [c.value for c in sheet[1]]
    assert header == [str(c.label) for c in dataio_module("customers").columns()]
    assert sheet.cell(row=2, column=2).value == "中文名称有限公司"


@pytest.mark.parametrize("key", ["contacts", "leads", "opportunities", "followups"])
def test_every_module_exports(org, key):
    from crm.tests_support.activities import followup_make
    from crm.tests_support.leads import lead_make
    from crm.tests_support.sales import opportunity_make

    customer = customer_make(owner=org.rep1)
    followup_make(customer=customer)
    lead_make(owner=org.rep1)
    opportunity_make(customer=customer, owner=org.rep1)
    rows = csv_rows(web(org.admin).get(f"/export/{key}/", {"format": "csv"}))
    assert len(rows) >= 2
    response = api_as(org.admin).get(f"{key}/export", {"format": "xlsx"})
    assert response.status_code == 200


def _queries(org, n: int) -> int:
    for _i in range(n):
        customer_make(owner=org.rep1)
    client = web(org.admin)
    body(client.get("/export/customers/", {"format": "csv"}))  # warm the configuration
    with CaptureQueriesContext(connection) as ctx:
        body(client.get("/export/customers/", {"format": "csv"}))
    return len(ctx.captured_queries)


def test_query_count_constant_for_1_and_50_rows(org):
    one = _queries(org, 1)
    fifty = _queries(org, 49)
    assert one == fifty


def test_audit_entry_with_hash_and_row_count(org):
    import hashlib

    customer_make(owner=org.rep1)
    data = body(web(org.admin).get("/export/customers/", {"format": "csv", "grade": "B"}))
    entry = AuditEntry.objects.filter(action="export").latest("id")
    changes = {c["field"]: c["after"] for c in entry.changes}
    assert changes["module"] == "customers"
    assert changes["rows"] == 1
    assert changes["filters"] == {"grade": ["B"]}
    assert changes["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry.actor == org.admin


def test_large_export_runs_as_a_job_and_notifies(org, settings, django_capture_on_commit_callbacks):
    settings.CRM_EXPORT_SYNC_LIMIT = 2
    for _i in range(3):
        customer_make(owner=org.rep1)
    api = api_as(org.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.get("customers/export", {"format": "xlsx", "grade": "B"})
    assert response.status_code == 202
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.state == "done" and job.rows == 3 and len(job.sha256) == 64
    assert job.filters == {"grade": ["B"]}
    answer = api.get(f"exports/{job.pk}").json()
    assert answer["state"] == "done" and answer["rows"] == 3
    note = Notification.objects.get(recipient=org.manager, kind="export_done")
    assert note.link == answer["file_url"]
    # Only its owner downloads it.
    download = web(org.manager).get(note.link)
    assert download.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(body(download))).active
    assert sheet.max_row == 4
    assert web(org.admin).get(note.link).status_code == 404
    assert api_as(org.admin).get(f"exports/{job.pk}").status_code == 404
    # API clients download it with their token.
    by_token = api.get(answer["api_file_url"])
    assert by_token.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(body(by_token))).active.max_row == 4
    assert api_as(org.admin).get(answer["api_file_url"]).status_code == 404
    entry = AuditEntry.objects.filter(action="export").latest("id")
    assert {c["field"]: c["after"] for c in entry.changes}["sha256"] == job.sha256
    # The web button says it runs in the background.
    page = web(org.manager).get(
        "/export/customers/", {"format": "csv"}, headers={"HX-Request": "true"}
    )
    assert 'class="export-started"' in page.content.decode()
    assert ExportJob.objects.filter(actor=org.manager).count() == 2


def test_old_export_files_are_purged(org, settings, django_capture_on_commit_callbacks):
    import datetime as dt

    from django.utils import timezone

    from crm.dataio.exports import exports_purge_expired

    settings.CRM_EXPORT_SYNC_LIMIT = 0
    customer_make(owner=org.rep1)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = api_as(org.admin).get("customers/export", {"format": "csv"}).json()["id"]
    job = ExportJob.objects.get(pk=job_id)
    name = job.file.name
    assert job.file.storage.exists(name)
    assert exports_purge_expired(now=timezone.now() + dt.timedelta(days=6)) == 0
    assert exports_purge_expired(now=timezone.now() + dt.timedelta(days=8)) == 1
    job.refresh_from_db()
    assert job.state == "expired" and not job.file.storage.exists(name)


def test_api_bad_format_422(org):
    assert api_as(org.admin).get("customers/export", {"format": "pdf"}).status_code == 422


def test_list_pages_offer_the_export_menu_with_the_query_string(org):
    customer_make(owner=org.rep1)
    page = web(org.manager).get("/customers/", {"grade": "B", "q": "测试", "page": "1"})
    html = page.content.decode()
    assert 'data-testid="export-customers-xlsx"' in html
    assert 'data-testid="export-contacts-csv"' in html
    assert "/export/customers/?format=xlsx&amp;grade=B&amp;q=" in html
    assert "page=1" not in html.split('id="export-menu-customers"')[1].split("</div>")[0]
    # Without the permission there is no button.
    assert 'data-testid="export-menu"' not in web(org.rep1).get("/customers/").content.decode()
    for url, testid in (
        ("/leads/", "export-leads-xlsx"),
        ("/opportunities/", "export-opportunities-xlsx"),
        ("/followups/", "export-followups-xlsx"),
        ("/customers/recycle-bin/", "export-customers-xlsx"),
    ):
        response = web(org.admin).get(url)
        assert response.status_code == 200, url
        assert testid in response.content.decode(), url


def test_htmx_redraw_carries_the_new_filters(org):
    customer_make(owner=org.rep1)
    html = web(org.manager).get("/customers/", {"grade": "A"}, headers={"HX-Request": "true"})
    text = html.content.decode()
    assert 'id="export-menu-customers" hx-swap-oob="true"' in text
    assert "grade=A" in text


def test_reveal_on_demand_masks_the_export_as_it_masks_the_list(org):
    from crm.core.config import setting_set

    customer_make(owner=org.rep1, phone="13812345678")
    setting_set(key="contact_reveal", value={"on_demand": True, "per_hour": 100})
    rows = csv_rows(web(org.exec).get("/export/customers/", {"format": "csv"}))
    assert by_key(rows)["phone"] == "138****5678"


def test_custom_fields_are_columns_with_their_labels_and_display_values(org):
    from crm.core.customfields_services import custom_field_save
    from crm.customers.models import Customer

    custom_field_save(
        actor=org.admin,
        data={"module": "customers", "key": "level", "label": "客户层级", "type": "choice",
              "options": [{"code": "gold", "label": "金牌"}]},
    )  # fmt: skip
    custom_field_save(
        actor=org.admin,
        data={"module": "customers", "key": "seats", "label": "席位数", "type": "integer"},
    )
    customer = customer_make(owner=org.rep1)
    Customer.objects.filter(pk=customer.pk).update(custom={"level": "gold", "seats": -3})
    rows = csv_rows(web(org.admin).get("/export/customers/", {"format": "csv"}))
    row = by_key(rows)
    assert "客户层级" in rows[0] and "席位数" in rows[0]
    assert row["custom.level"] == "金牌"
    assert row["custom.seats"] == "-3"  # a number: not neutralised
    sheet = openpyxl.load_workbook(
        io.BytesIO(body(web(org.admin).get("/export/customers/", {"format": "xlsx"})))
    ).active
    values = list(sheet.iter_rows(values_only=True))
    cells = by_key([[str(v) for v in values[0]], list(values[1])])
    assert cells["custom.seats"] == -3 and cells["custom.level"] == "金牌"


def test_the_stored_filters_drop_nul_characters_postgresql_cannot_keep():
    from django.http import QueryDict

    from crm.dataio.exports import filters_of

    params = QueryDict("q=%00abc&grade=A&format=csv&page=2")
    assert filters_of(params) == {"q": ["abc"], "grade": ["A"]}
