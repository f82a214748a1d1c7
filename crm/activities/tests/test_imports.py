"""Follow-ups in imports (issue 8 §2): create only, on a customer named by number or name,
with a contact by name and an opportunity by number; rejections; scope; batched lookups."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.core.models import TimelineEntry
from crm.customers.models import Customer
from crm.dataio.imports import import_job_run_now, import_job_start
from crm.dataio.models import ImportJob
from crm.tests_support.factories import customer_make
from crm.tests_support.sales import opportunity_make

pytestmark = pytest.mark.django_db

HEADER = ["客户编号", "客户", "联系人", "商机编号", "跟进方式", "时间", "沟通内容", "跟进人"]


def csv_bytes(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def run(user, rows, header=HEADER, **options) -> ImportJob:
    upload = SimpleUploadedFile("followups.csv", csv_bytes(rows, header))
    job = import_job_start(actor=user, module_key="followups", upload=upload, run=False, **options)
    return import_job_run_now(job.pk)


def when(days: int) -> str:
    return (timezone.localtime() - timezone.timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def test_creates_on_the_customer_with_contact_and_opportunity(org):
    customer = customer_make(owner=org.rep1, name="跟进导入甲科技有限公司")
    contact = customer.contacts.order_by("-is_primary", "id").first()
    opp = opportunity_make(owner=org.rep1, customer=customer, name="甲商机")
    job = run(
        org.rep1,
        [
            [customer.number, "", contact.name, opp.number, "电话", when(3), "电话沟通", ""],
            ["", "跟进导入甲科技有限公司", "", "", "拜访", when(1), "上门拜访", "rep1"],
        ],
    )
    assert (job.created, job.rejected) == (2, 0), job.errors
    first = FollowUp.objects.get(summary="电话沟通")
    assert first.customer == customer and first.contact == contact and first.opportunity == opp
    assert first.author == org.rep1
    customer.refresh_from_db()
    latest = FollowUp.objects.get(summary="上门拜访")
    assert customer.last_followup_at == latest.occurred_at
    assert TimelineEntry.objects.filter(kind="followup", customer_id=customer.pk).count() == 2


def test_rejections_name_the_column(org):
    mine = customer_make(owner=org.rep1, name="跟进本组科技有限公司")
    other = customer_make(owner=org.rep3, name="跟进别组科技有限公司")
    job = run(
        org.rep1,
        [
            ["", "", "", "", "电话", when(1), "无客户", ""],
            [other.number, "", "", "", "电话", when(1), "别组", ""],
            [mine.number, "", "不认识的人", "", "电话", when(1), "无此联系人", ""],
            [mine.number, "", "", "SJ0000", "电话", when(1), "无此商机", ""],
            [mine.number, "", "", "", "飞鸽传书", when(1), "坏方式", ""],
            [mine.number, "", "", "", "电话", "2999-01-01 10:00", "未来", ""],
            [mine.number, "", "", "", "电话", when(1), "", ""],
        ],
    )
    assert (job.created, job.rejected) == (0, 7), job.errors
    columns = {e["row"]: e["column"] for e in job.errors}
    assert columns == {
        2: "客户编号",
        3: "客户编号",
        4: "联系人",
        5: "商机编号",
        6: "跟进方式",
        7: "时间",
        8: "沟通内容",
    }, job.errors
    assert not FollowUp.objects.exists()
    assert Customer.objects.get(pk=other.pk).last_followup_at is None


def test_lookups_are_per_batch(org):
    customer = customer_make(owner=org.rep1, name="跟进批量科技有限公司")

    def queries(n: int) -> int:
        rows = [[customer.number, "", "", "", "电话", when(2), f"第{i}次", ""] for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            job = run(org.rep1, rows)
        assert job.created == n, job.errors
        return len(ctx)

    queries(2)
    assert queries(30) <= queries(3) + 1
