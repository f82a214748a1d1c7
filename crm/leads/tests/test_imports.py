"""Leads in imports (issue 8 §2): create, match + update, rejections, scope, batched lookups."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.models import AuditEntry
from crm.dataio.imports import import_job_run_now, import_job_start
from crm.dataio.models import ImportJob
from crm.leads.models import Lead
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db

HEADER = ["公司", "联系人", "电话", "邮箱", "等级", "负责人"]


def csv_bytes(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def run(user, rows, header=HEADER, **options) -> ImportJob:
    upload = SimpleUploadedFile("leads.csv", csv_bytes(rows, header))
    job = import_job_start(actor=user, module_key="leads", upload=upload, run=False, **options)
    return import_job_run_now(job.pk)


def test_headers_are_the_lead_columns():
    from crm.dataio.imports import mapping_auto
    from crm.dataio.registry import dataio_module

    mapping = mapping_auto(dataio_module("leads"), HEADER)
    assert list(mapping.values())[:3] != ["", "", ""], mapping


def header_keys():
    from crm.dataio.imports import mapping_auto
    from crm.dataio.registry import dataio_module

    return mapping_auto(dataio_module("leads"), HEADER)


def test_creates_leads_owned_by_the_importer_or_the_owner_column(org):
    keys = header_keys()
    assert keys["公司"] == "company" and keys["负责人"] == "owner", keys
    job = run(
        org.manager,
        [
            ["展会甲科技有限公司", "王一", "13800138001", "", "A", ""],
            ["展会乙科技有限公司", "王二", "", "b@example.com", "", "rep1"],
            ["展会丙科技有限公司", "王三", "13800138003", "", "", "李明"],
        ],
    )
    assert (job.created, job.rejected) == (3, 0), job.errors
    a = Lead.objects.get(company="展会甲科技有限公司")
    assert a.owner == org.manager and a.grade == "A" and a.number and a.status == "new"
    assert a.first_contact_due_at is not None and a.phone_digits == "13800138001"
    assert Lead.objects.get(company="展会乙科技有限公司").owner == org.rep1
    assert Lead.objects.get(company="展会丙科技有限公司").owner == org.rep1
    ids = [str(pk) for pk in Lead.objects.values_list("pk", flat=True)]
    assert AuditEntry.objects.filter(action="create", object_id__in=ids).count() == 3


def test_rejections_name_row_column_and_the_forms_message(org):
    job = run(
        org.rep1,
        [
            ["", "王一", "13800138001", "", "", ""],  # no company
            ["展会丁科技有限公司", "王二", "", "", "", ""],  # neither phone nor email
            ["展会戊科技有限公司", "王三", "13800138005", "", "Z", ""],  # bad grade
            ["展会己科技有限公司", "王四", "13800138006", "", "", "rep3"],  # owner out of scope
            ["展会庚科技有限公司", "王五", "13800138005", "", "", ""],  # same phone as row 4
        ],
    )
    assert (job.created, job.rejected) == (0, 5), job.errors
    by_row = {(e["row"], e["column"]): e["message"] for e in job.errors}
    assert by_row[(2, "公司")] == "请输入公司名称。"
    assert (3, "电话") in by_row
    assert (4, "等级") in by_row
    assert (5, "负责人") in by_row
    assert "第 4 行" in by_row[(6, "电话")] or "4" in by_row[(6, "电话")]


def test_match_by_phone_update_empty_and_overwrite(org):
    lead = lead_make(actor=org.rep1, owner=org.rep1, company="老线索科技", name="赵一",
                     phone="13800138009", email="")  # fmt: skip
    rows = [["新名字科技有限公司", "赵二", "13800138009", "z@example.com", "A", ""]]
    job = run(org.rep1, rows, on_match="skip")
    assert (job.created, job.skipped) == (0, 1)
    job = run(org.rep1, rows, on_match="update_empty")
    assert job.updated == 1, job.errors
    lead.refresh_from_db()
    assert lead.company == "老线索科技" and lead.email == "z@example.com"
    job = run(org.rep1, rows, on_match="overwrite")
    lead.refresh_from_db()
    assert job.updated == 1 and lead.company == "新名字科技有限公司" and lead.grade == "A"
    job = run(org.rep1, rows, on_match="overwrite")
    assert (job.updated, job.skipped) == (0, 1)  # nothing changes: skipped
    assert Lead.objects.filter(phone_digits="13800138009").count() == 1


def test_a_match_outside_the_scope_is_rejected(org):
    lead_make(actor=org.rep3, owner=org.rep3, company="别组线索科技", phone="13800138010")
    job = run(org.rep1, [["别组线索科技", "钱一", "13800138010", "", "", ""]], on_match="overwrite")
    assert job.rejected == 1 and job.errors[0]["column"] == "电话"
    assert Lead.objects.filter(phone_digits="13800138010").count() == 1


def test_match_by_number_and_company(org):
    lead = lead_make(actor=org.rep1, owner=org.rep1, company="编号线索科技", phone="13800138011")
    header = ["线索编号", "公司", "联系人", "电话", "备注"]
    job = run(org.rep1, [[lead.number, "编号线索科技", "孙一", "", "展会"]], header=header,
              match="number", on_match="update_empty")  # fmt: skip
    assert job.updated == 1, job.errors
    lead.refresh_from_db()
    assert lead.notes == "展会"
    job = run(org.rep1, [["", "编号线索科技", "孙一", "13800138011", "x"]], header=header,
              match="company", on_match="skip")  # fmt: skip
    assert job.skipped == 1


def test_lookups_are_per_batch_not_per_row(org):
    def queries(n: int) -> int:
        rows = [
            [f"批量{n}线索{i}科技", f"人{i}", f"139{n:02d}{i:06d}", "", "", ""] for i in range(n)
        ]
        with CaptureQueriesContext(connection) as ctx:
            job = run(org.rep1, rows)
        assert job.created == n, job.errors
        return len(ctx)

    queries(2)  # the configuration read once
    assert queries(30) <= queries(3) + 1
