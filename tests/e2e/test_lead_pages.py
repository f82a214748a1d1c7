"""The lead pages in Debian's chromium (issue 7 §1, §3): the list with SLA badges and the
unassigned filter, a new lead with the grade hints, the lead page where the first follow-up
marks it contacted. Screenshots land in test-artifacts/e2e/ (leads-*.png)."""

from __future__ import annotations

import pytest

from crm.leads.models import Lead
from crm.tests_support.factories import org_build
from crm.tests_support.leads import lead_make
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_lead_list_new_and_detail(page, live_server):
    org = org_build()
    base = live_server.url
    lead_make(owner=org.rep1, grade="A", company="上海浦江数据科技有限公司", name="周敏")
    late = lead_make(owner=org.rep2, grade="B", company="杭州西湖云服务有限公司", name="吴刚")
    Lead.objects.filter(pk=late.pk).update(sla_state="breached")
    lead_make(grade="C", company="南京紫金智造有限公司", name="郑丽", source="web_form")

    login(page, base, "manager", org.password)
    page.goto(f"{base}/leads/")
    page.wait_for_selector("[data-testid=lead-row]")
    assert page.locator("[data-testid=lead-row]").count() == 3
    assert page.locator("[data-sla=breached]").count() == 1
    shot(page, "leads-01-list")
    page.select_option("[data-testid=owner-filter]", "none")
    page.wait_for_url("**owner_id=none**")
    page.wait_for_selector("[data-testid=lead-row] >> nth=0")
    page.locator("[data-testid=lead-row]").filter(has_text="南京紫金").wait_for()
    assert page.locator("[data-testid=lead-row]").count() == 1
    shot(page, "leads-02-list-unassigned")

    page.goto(f"{base}/leads/new/")
    page.fill("#id_company", "苏州工业园精密制造有限公司")
    page.fill("#id_name", "陈志强")
    page.fill("#id_title", "设备部经理")
    page.fill("#id_phone", "13912345670")
    page.check("input[name=grade][value=A]")
    page.select_option("#id_source", "trade_show")
    page.select_option("#id_region", "east")
    page.fill("#id_budget", "300000")
    page.fill("#id_requirement", "产线设备联网，需要设备管理与维保系统")
    shot(page, "leads-03-new")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=lead-number]")
    shot(page, "leads-04-detail")

    page.fill("#id_summary", "电话沟通，确认下周上门演示")
    page.click("[data-testid=followup-save]")
    page.wait_for_selector("[data-testid=lead-followup]")
    assert page.locator("[data-sla=met]").count() >= 1
    shot(page, "leads-05-detail-contacted")
    lead = Lead.objects.get(company="苏州工业园精密制造有限公司")
    assert lead.status == "contacted" and lead.first_contacted_at is not None
