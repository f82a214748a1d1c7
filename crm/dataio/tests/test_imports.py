"""Imports (issue 8 §2): the engine with the customers importer."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.models import AuditEntry
from crm.customers.models import Contact, Customer
from crm.dataio.imports import import_job_run_now, import_job_start
from crm.dataio.models import ImportJob
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

HEADER = ["名称", "行业", "等级", "负责人", "电话", "邮箱", "联系人姓名", "联系人电话"]


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(user, content: bytes, name="c.csv", **options) -> ImportJob:
    upload = SimpleUploadedFile(name, content)
    job = import_job_start(actor=user, module_key="customers", upload=upload, run=False, **options)
    return import_job_run_now(job.pk)


def row(name="华为技术有限公司", phone="13800138000", owner="", **extra):
    return [name, "IT", "A", owner, phone, "", "张三", "13900139000"]


def test_csv_creates_customers_with_their_primary_contact(org):
    job = run(org.rep1, csv_bytes([row(), row("腾讯科技有限公司", "13800138001")]))
    assert job.state == "done", job.message
    assert (job.total, job.done, job.created, job.rejected) == (2, 2, 2, 0), job.errors
    customer = Customer.objects.get(name="华为技术有限公司")
    assert customer.owner == org.rep1 and customer.grade == "A" and customer.number
    contact = Contact.objects.get(customer=customer)
    assert contact.is_primary and contact.name == "张三"
    entry = AuditEntry.objects.get(action="import")
    assert entry.actor == org.rep1
    assert {c["field"]: c["after"] for c in entry.changes}["created"] == 2
    from crm.notify.models import Notification

    note = Notification.objects.get(recipient=org.rep1, kind="import_done")
    assert "c.csv" in note.text


def messages(job) -> list[tuple[int, str, str]]:
    return [(e["row"], e["column"], e["message"]) for e in job.errors]


@pytest.fixture(autouse=True)
def _chinese():
    from django.utils import translation

    with translation.override("zh-hans"):
        yield


def test_rejected_rows_name_row_header_and_the_forms_message(org):
    customer_make(owner=org.rep1, name="已存在科技有限公司")
    rows = [
        row(""),  # 2: name required
        ["坏行业科技有限公司", "不存在的行业", "A", "", "13800138002", "", "张三", "13900139000"],
        ["坏电话科技有限公司", "IT", "A", "", "12345", "", "张三", "13900139000"],
        ["坏邮箱科技有限公司", "IT", "A", "", "", "not-an-email", "张三", "13900139000"],
        ["未知负责人科技有限公司", "IT", "A", "nobody", "13800138003", "", "张三", "139001390"],
        ["越权负责人科技有限公司", "IT", "A", org.rep2.username, "13800138004", "", "张三", "139"],
        ["已存在科技有限公司", "IT", "A", "", "13800138005", "", "张三", "13900139001"],
        row("好的科技有限公司", "13800138006"),
        row("好的科技有限公司", "13800138007"),  # the same name again in the file
        ["坏等级科技有限公司", "IT", "Z", "", "13800138008", "", "张三", "13900139002"],
    ]
    job = run(org.rep1, csv_bytes(rows), match="number")
    assert job.created == 1 and job.rejected == 9, job.errors
    by_row = {}
    for line, column, message in messages(job):
        by_row.setdefault(line, []).append((column, message))
    assert by_row[2][0][0] == "名称"
    assert by_row[3][0][0] == "行业" and "不存在的行业" in by_row[3][0][1]
    assert by_row[4][0][0] == "电话"
    assert by_row[5][0][0] == "邮箱"
    assert by_row[6][0][0] == "负责人"
    assert by_row[7][0][0] == "负责人" and "数据范围" in by_row[7][0][1]
    assert by_row[8][0][0] == "名称" and "已存在科技有限公司" in by_row[8][0][1]
    assert by_row[10][0][0] == "名称" and "9" in by_row[10][0][1]
    assert by_row[11][0][0] == "等级"
    # The error file: the rejected rows as read, with an error column.
    book = openpyxl.load_workbook(job.error_file.open("rb"), read_only=True)
    lines = list(book.active.iter_rows(values_only=True))
    assert list(lines[0][: len(HEADER)]) == HEADER and len(lines) == 10
    assert lines[2][0] == "坏行业科技有限公司" and "行业" in lines[2][-1]


def test_bad_date_and_number_and_missing_contact(org):
    header = ["名称", "行业", "电话", "首次接触日期", "预算", "联系人姓名", "联系人邮箱"]
    rows = [
        ["日期科技有限公司", "IT", "13800138000", "2026-02-30", "", "张三", "a@b.cn"],
        ["预算科技有限公司", "IT", "13800138001", "", "很多", "张三", "a@b.cn"],
        ["无联系人科技有限公司", "IT", "13800138002", "", "", "", ""],
        ["好科技有限公司", "IT", "13800138003", "2025/1/5", "150,000", "张三", "a@b.cn"],
    ]
    job = run(org.rep1, csv_bytes(rows, header=header))
    assert job.created == 1 and job.rejected == 3, job.errors
    assert [(r, c) for r, c, _m in messages(job)] == [
        (2, "首次接触日期"),
        (3, "预算"),
        (4, "联系人姓名"),
    ]
    good = Customer.objects.get(name="好科技有限公司")
    assert str(good.first_contact_date) == "2025-01-05" and good.budget == 150000


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(org, encoding):
    job = run(org.rep1, csv_bytes([row("北京测试科技有限公司")], encoding=encoding))
    assert job.created == 1, job.errors
    assert job.encoding == encoding
    assert Customer.objects.filter(name="北京测试科技有限公司").exists()


def test_xlsx_and_formula_looking_cells_stay_text(org):
    header = [*HEADER, "地址"]
    content = xlsx_bytes([[*row("公式科技有限公司"), '\'=HYPERLINK("x")']], header=header)
    job = run(org.rep1, content, name="c.xlsx")
    assert job.created == 1, job.errors
    assert Customer.objects.get(name="公式科技有限公司").address == '=HYPERLINK("x")'


def test_custom_field_columns(org):
    from crm.core.customfields_services import custom_field_save

    for key, type_ in (("employees", "integer"), ("listed", "bool")):
        custom_field_save(
            actor=org.admin,
            data={"module": "customers", "key": key, "label": f"字段{key}", "type": type_},
        )
    header = [*HEADER, "字段employees", "custom.listed"]
    rows = [
        [*row("自定义科技有限公司"), "1,200", "是"],
        [*row("坏自定义科技有限公司", "13800138009"), "abc", ""],
    ]
    job = run(org.rep1, csv_bytes(rows, header=header))
    assert job.created == 1 and job.rejected == 1, job.errors
    assert Customer.objects.get(name="自定义科技有限公司").custom == {
        "employees": 1200,
        "listed": True,
    }
    assert messages(job)[0][:2] == (3, "字段employees")


def test_match_and_on_match_modes(org):
    existing = customer_make(owner=org.rep1, name="匹配科技有限公司", address="")
    header = ["客户编号", "名称", "行业", "电话", "地址", "备注"]
    header = [str(Customer._meta.get_field("number").verbose_name), *header[1:]]
    line = [existing.number, "匹配科技有限公司", "IT", "13800138111", "新地址", "新备注"]
    job = run(org.rep1, csv_bytes([line], header=header), match="number", on_match="skip")
    assert (job.skipped, job.updated, job.created) == (1, 0, 0), job.errors
    job = run(org.rep1, csv_bytes([line], header=header), match="name", on_match="update_empty")
    assert job.updated == 1, job.errors
    existing.refresh_from_db()
    assert existing.address == "新地址" and existing.phone != "13800138111"  # phone was set
    job = run(org.rep1, csv_bytes([line], header=header), on_match="overwrite")
    assert job.updated == 1, job.errors
    existing.refresh_from_db()
    assert existing.phone == "13800138111" and existing.version == 3
    # Matched by phone now; an unmatched order creates.
    other = [["", "另一家科技有限公司", "IT", "13800138111", "", ""]]
    job = run(org.rep1, csv_bytes(other, header=header), match="phone", on_match="skip")
    assert job.skipped == 1 and job.created == 0


def test_match_outside_scope_is_a_rejected_duplicate(org):
    customer_make(owner=org.rep2, name="别人科技有限公司")
    job = run(org.rep1, csv_bytes([row("别人科技有限公司")]), on_match="overwrite")
    assert job.rejected == 1 and "张芳" in job.errors[0]["message"], job.errors


def test_dry_run_writes_nothing_and_counts_like_the_real_run(org):
    customer_make(owner=org.rep1, name="已有科技有限公司")
    rows = [row("新一科技有限公司"), row("已有科技有限公司", "13800138002"), row("")]
    before = (Customer.objects.count(), Contact.objects.count(), AuditEntry.objects.count())
    job = run(org.rep1, csv_bytes(rows), dry_run=True)
    assert (job.created, job.skipped, job.rejected) == (1, 1, 1), job.errors
    assert before[:2] == (Customer.objects.count(), Contact.objects.count())
    real = run(org.rep1, csv_bytes(rows))
    assert (real.created, real.skipped, real.rejected) == (1, 1, 1)


def test_manager_imports_for_the_team_rep_only_for_themself(org):
    rows = [row("团队科技有限公司", owner=org.rep1.full_name)]
    job = run(org.manager, csv_bytes(rows))
    assert job.created == 1, job.errors
    assert Customer.objects.get(name="团队科技有限公司").owner == org.rep1
    job = run(
        org.rep2, csv_bytes([row("越权科技有限公司", "13800138001", owner=org.rep1.username)])
    )
    assert job.rejected == 1 and job.errors[0]["column"] == "负责人"


def test_queries_per_batch_do_not_grow_with_rows(org, monkeypatch):
    from crm.dataio import imports

    monkeypatch.setattr(imports, "BATCH", 10)

    def count(n: int, start: int) -> int:
        rows = [row(f"批量{start + i}科技有限公司", f"138{start + i:08d}") for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            job = run(org.rep1, csv_bytes(rows))
        assert job.created == n, job.errors
        return len(ctx.captured_queries)

    count(10, 0)  # the first import of the process reads a few things once
    twenty, thirty, forty = count(20, 100), count(30, 200), count(40, 300)
    # Every further batch costs the same few queries: nothing per row.
    assert thirty - twenty == forty - thirty <= 16


def test_export_reimports_unchanged(org, client):
    customer_make(owner=org.rep1, name="往返科技有限公司", address="上海", remarks="=1+1")
    customer_make(owner=org.rep1, name="往返二科技有限公司")
    client.force_login(org.admin)
    response = client.get("/export/customers/", {"format": "csv"})
    content = b"".join(response.streaming_content)
    versions = dict(Customer.objects.values_list("pk", "version"))
    for mode in ("update_empty", "overwrite"):
        job = run(org.admin, content, match="number", on_match=mode)
        assert job.rejected == 0 and job.updated == 0 and job.skipped == 2, job.errors
    assert dict(Customer.objects.values_list("pk", "version")) == versions
    xlsx = client.get("/export/customers/", {"format": "xlsx"})
    job = run(org.admin, b"".join(xlsx.streaming_content), name="e.xlsx", on_match="overwrite")
    assert job.rejected == 0 and job.updated == 0 and job.skipped == 2, job.errors


def test_saved_mappings_and_an_adjusted_mapping(org):
    from crm.dataio.imports import import_mapping_save, import_mappings_for

    import_mapping_save(
        actor=org.rep1, module_key="customers", name="我的", mapping={"公司": "name"}
    )
    import_mapping_save(
        actor=org.rep1, module_key="customers", name="我的", mapping={"公司": "name", "x": ""}
    )
    saved = list(import_mappings_for(user=org.rep1, module_key="customers"))
    assert [m.mapping for m in saved] == [{"公司": "name", "x": ""}]
    header = ["公司", "行业", "电话", "联系人姓名", "联系人电话", "x"]
    content = csv_bytes(
        [["映射科技有限公司", "IT", "13800138000", "张三", "13900139000", "?"]], header
    )
    job = run(org.rep1, content, mapping=saved[0].mapping)
    assert job.created == 1, job.errors
    assert Customer.objects.filter(name="映射科技有限公司").exists()


def test_on_match_updates_the_primary_contact_too(org):
    existing = customer_make(
        owner=org.rep1,
        name="联系人更新科技有限公司",
        contacts=[{"name": "王五", "title": "", "phone": "13700137000", "is_primary": True}],
    )
    header = ["名称", "行业", "电话", "联系人姓名", "联系人职务", "联系人电话"]
    line = ["联系人更新科技有限公司", "IT", "13800138000", "赵六", "总监", "13700137001"]
    job = run(org.rep1, csv_bytes([line], header=header), match="name", on_match="update_empty")
    assert job.updated == 1, job.errors
    contact = existing.contacts.get()
    assert (contact.name, contact.title, contact.phone) == ("王五", "总监", "13700137000")
    job = run(org.rep1, csv_bytes([line], header=header), match="name", on_match="overwrite")
    assert job.updated == 1, job.errors
    contact.refresh_from_db()
    assert (contact.name, contact.phone, contact.phone_digits) == (
        "赵六",
        "13700137001",
        "13700137001",
    )
    assert Customer.objects.filter(search_blob__contains="13700137001").exists()
    bad = [["联系人更新科技有限公司", "IT", "13800138000", "赵六", "总监", "123"]]
    job = run(org.rep1, csv_bytes(bad, header=header), match="name", on_match="overwrite")
    assert job.rejected == 1 and job.errors[0]["column"] == "联系人电话"


def test_two_rows_matching_one_customer_by_different_keys(org):
    existing = customer_make(owner=org.rep1, name="双匹配科技有限公司")
    header = [str(Customer._meta.get_field("number").verbose_name), "名称", "行业", "备注"]
    rows = [
        [existing.number, "改名科技有限公司", "IT", "甲"],
        ["", "双匹配科技有限公司", "IT", "乙"],
    ]
    job = run(org.rep1, csv_bytes(rows, header=header), match="number,name", on_match="overwrite")
    assert (job.updated, job.rejected) == (1, 1), job.errors
    assert job.errors[0]["row"] == 3 and "2" in job.errors[0]["message"]
