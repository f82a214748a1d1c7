"""Opportunities in imports (issue 8 §2): create under a customer named by number or name,
match by number + update, rejections with row/column/message, scope, batched lookups."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core.models import TimelineEntry
from crm.dataio.imports import import_job_run_now, import_job_start
from crm.dataio.models import ImportJob
from crm.sales.models import Opportunity, PipelineTotal, StageChange
from crm.tests_support.factories import customer_make
from crm.tests_support.sales import opportunity_make

pytestmark = pytest.mark.django_db

HEADER = ["名称", "客户编号", "客户", "金额（¥）", "预计成交日期", "负责人"]


def csv_bytes(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def run(user, rows, header=HEADER, **options) -> ImportJob:
    upload = SimpleUploadedFile("opps.csv", csv_bytes(rows, header))
    job = import_job_start(
        actor=user, module_key="opportunities", upload=upload, run=False, **options
    )
    return import_job_run_now(job.pk)


def test_creates_under_the_customer_by_number_or_name(org):
    a = customer_make(owner=org.rep1, name="商机导入甲科技有限公司")
    b = customer_make(owner=org.rep1, name="商机导入乙科技有限公司")
    job = run(
        org.rep1,
        [
            ["甲公司 CRM", a.number, "", "120000", "2027-01-15", ""],
            ["乙公司 CRM", "", "商机导入乙科技有限公司", "80000", "", "rep1"],
        ],
    )
    assert (job.created, job.rejected) == (2, 0), job.errors
    first = Opportunity.objects.get(name="甲公司 CRM")
    assert first.customer == a and first.owner == org.rep1 and first.amount == Decimal("120000")
    assert first.number and first.status == "open" and first.stage.kind == "open"
    assert Opportunity.objects.get(name="乙公司 CRM").customer == b
    assert StageChange.objects.filter(opportunity=first).count() == 1
    total = PipelineTotal.objects.get(owner=org.rep1, stage=first.stage, close_month=202701)
    assert total.count == 1 and total.amount == Decimal("120000")
    assert TimelineEntry.objects.filter(kind="opportunity_created", customer_id=a.pk).count() == 1


def test_rejections_customer_missing_out_of_scope_and_bad_cells(org):
    other = customer_make(owner=org.rep3, name="别组客户科技有限公司")
    mine = customer_make(owner=org.rep1, name="本组客户科技有限公司")
    job = run(
        org.rep1,
        [
            ["无客户", "", "", "1", "", ""],
            ["别组", other.number, "", "1", "", ""],
            ["不存在", "", "没有这家公司", "1", "", ""],
            ["坏金额", mine.number, "", "很多", "", ""],
            ["", mine.number, "", "1", "", ""],
            ["别人的", mine.number, "", "1", "", "rep3"],
        ],
    )
    assert (job.created, job.rejected) == (0, 6), job.errors
    by_row = {e["row"]: (e["column"], e["message"]) for e in job.errors}
    assert by_row[2][0] in ("客户编号", "客户")
    assert by_row[3] == ("客户编号", "请选择您数据范围内的客户。") or by_row[3][0] == "客户编号"
    assert by_row[4][0] == "客户"
    assert by_row[5][0] == "金额（¥）"
    assert by_row[6][0] == "名称"
    assert by_row[7][0] == "负责人"


def test_match_by_number_update_empty_and_overwrite(org):
    customer = customer_make(owner=org.rep1, name="匹配客户科技有限公司")
    opp = opportunity_make(owner=org.rep1, customer=customer, name="原名", amount=Decimal("100"))
    header = ["商机编号", "名称", "金额（¥）", "描述"]
    job = run(org.rep1, [[opp.number, "新名", "200", "补充"]], header=header, on_match="skip")
    assert job.skipped == 1
    job = run(org.rep1, [[opp.number, "新名", "200", "补充"]], header=header,
              on_match="update_empty")  # fmt: skip
    opp.refresh_from_db()
    assert job.updated == 1 and opp.name == "原名" and opp.description == "补充", job.errors
    job = run(org.rep1, [[opp.number, "新名", "200", ""]], header=header, on_match="overwrite")
    opp.refresh_from_db()
    assert job.updated == 1 and opp.name == "新名" and opp.amount == Decimal("200")
    assert PipelineTotal.objects.filter(owner=org.rep1).values_list("amount", flat=True)[0] == 200
    job = run(org.rep1, [["SJ000000", "x", "1", ""]], header=header, on_match="overwrite")
    assert job.rejected == 1 and job.errors[0]["column"] == "商机编号"


def test_lookups_are_per_batch(org):
    customer = customer_make(owner=org.rep1, name="批量客户科技有限公司")

    def queries(n: int) -> int:
        rows = [[f"批量{n}-{i}", customer.number, "", "10", "", ""] for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            job = run(org.rep1, rows)
        assert job.created == n, job.errors
        return len(ctx)

    queries(2)
    assert queries(30) <= queries(3) + 1
