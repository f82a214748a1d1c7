"""Lead assignment in Debian's chromium (LEAD-4): the administrator's rules in Settings (drag
to reorder), the bulk bar by the rules, the assign dialog, disqualify and requalify.
Screenshots land in test-artifacts/e2e/ (lead-actions-*.png). Qualifying and the convert page
with an opportunity are walked in tests/e2e/test_issue7_flow.py."""

from __future__ import annotations

import pytest

from crm.leads.models import AssignmentRule, Lead
from crm.tests_support.factories import org_build
from crm.tests_support.lead_rules import rule_make
from crm.tests_support.leads import lead_make
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_rules_assign_disqualify_and_requalify(page, live_server):
    org = org_build()
    base = live_server.url
    a = lead_make(grade="A", company="上海浦江数据科技有限公司", name="周敏", region="east")
    b = lead_make(grade="B", company="杭州西湖云服务有限公司", name="吴刚", region="east")
    rule_make(name="A类给李明", match_grade="A", user=org.rep1)
    rule_make(name="华东轮流", match_region="east", department=org.dept1)
    rule_make(name="兜底", user=org.manager)

    login(page, base, "admin", org.password)
    page.goto(f"{base}/settings/lead-rules/")
    page.wait_for_selector("[data-testid=rule-row]")
    shot(page, "lead-actions-01-rules")
    rows = page.locator("[data-testid=rule-row] .drag-handle")
    rows.nth(1).drag_to(rows.nth(0))
    page.wait_for_selector("[data-reorder-status]:not([hidden])")
    order = list(AssignmentRule.objects.order_by("position").values_list("name", flat=True))
    assert order[0] == "华东轮流"
    page.click("[data-testid=rule-new]")
    page.fill("#id_name", "华南A类")
    page.select_option("#id_match_region", "south")
    page.select_option("#id_user", str(org.rep3.pk))
    shot(page, "lead-actions-02-rule-form")
    page.click("button[type=submit].btn-primary")
    page.wait_for_selector("text=华南A类")

    # The list's bulk bar: both leads by the rules (华东轮流 is first now).
    page.goto(f"{base}/leads/?owner_id=none")
    page.wait_for_selector("[data-testid=lead-row]")
    page.check("input[data-select-all]")
    shot(page, "lead-actions-03-bulk-bar")
    page.click("[data-testid=bulk-assign-rules]")
    page.click("#confirm-dialog [data-dialog-confirm]")
    page.wait_for_selector(".alert-success, .messages")
    owners = {Lead.objects.get(pk=a.pk).owner, Lead.objects.get(pk=b.pk).owner}
    assert owners <= {org.manager, org.rep1, org.rep2} and None not in owners

    # The assign dialog on the lead page.
    page.goto(f"{base}/leads/{a.pk}/")
    page.click("[data-testid=assign]")
    page.select_option("[data-testid=assign-owner]", str(org.rep1.pk))
    shot(page, "lead-actions-04-assign-dialog")
    page.click("[data-testid=assign-submit]")
    page.wait_for_selector("[data-testid=lead-status]")
    assert Lead.objects.get(pk=a.pk).owner == org.rep1

    # Disqualify with a reason, then requalify.
    page.goto(f"{base}/leads/{b.pk}/")
    page.click("[data-testid=disqualify]")
    page.check("[data-testid=reason-no_budget]")
    shot(page, "lead-actions-05-disqualify-dialog")
    page.click("[data-testid=disqualify-submit]")
    page.wait_for_selector("[data-testid=requalify]")
    assert Lead.objects.get(pk=b.pk).status == "disqualified"
    page.click("[data-testid=requalify]")
    page.wait_for_selector("[data-testid=disqualify]")
