"""Custom fields through the browser (issue 8 §1): an administrator adds a single-choice field
for customers in Settings → Custom fields; it appears in the customer form, a value is saved,
shown on the record page and as a list column, and the list filters on it.
Screenshots: test-artifacts/e2e/cfields-*.png."""

from __future__ import annotations

import pytest

from crm.customers.models import Customer
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NAME = "杭州云帆数据科技有限公司"


def test_an_administrator_adds_a_choice_field_and_the_customer_pages_use_it(page, live_server):
    from crm.tests_support.customfields import custom_field_make

    org = org_build()
    other = customer_make(owner=org.admin, name="南京远景贸易有限公司")
    # (a contacts' field defined earlier: the contact rows of the create form carry it)
    custom_field_make("contacts", "wechat", label="微信号", actor=org.admin)
    base = live_server.url

    # Given an administrator on Settings → Custom fields
    login(page, base, "admin", org.password)
    page.goto(f"{base}/settings/")
    page.click("text=自定义字段")
    page.wait_for_selector("[data-testid=custom-field-modules]")
    assert page.url.endswith("/settings/custom-fields/customers/")

    # When they add a single-choice field with four options, shown in the list
    page.click("[data-testid=custom-field-new]")
    page.fill("#id_key", "company_size")
    page.select_option("#id_type", "choice")
    page.fill("#id_label", "企业规模")
    page.fill("#id_label_en", "Company size")
    page.fill("#id_help", "按员工人数")
    page.check("#id_show_in_list")
    for i, (code, label) in enumerate(
        [("lt50", "少于50人"), ("50_200", "50-200人"), ("200_1000", "200-1000人"),
         ("gt1000", "1000人以上")]
    ):  # fmt: skip
        page.locator("input[name=option_code]").nth(i).fill(code)
        page.locator("input[name=option_label]").nth(i).fill(label)
    shot(page, "cfields-01-new-field")
    page.click("[data-testid=custom-field-save]")
    page.wait_for_selector("[data-testid=custom-field-row]")
    row = page.locator("[data-testid=custom-field-row]").first
    assert "企业规模" in row.inner_text() and "少于50人" in row.inner_text()
    shot(page, "cfields-02-settings-list")

    # a second field, moved above the first with its arrow (the form order)
    custom_field_make("customers", "wechat", label="微信号", actor=org.admin)
    page.reload()
    page.locator("[data-testid=custom-field-row]").nth(1).locator("button[name=move]").click()
    page.wait_for_selector("[data-reorder-status], .alert-success")
    labels = page.locator("[data-testid=custom-field-row] td:nth-child(2) a").all_inner_texts()
    assert labels == ["微信号", "企业规模"], labels

    # Then the customer form offers it, and a value is saved
    page.goto(f"{base}/customers/new/")
    page.wait_for_selector("[data-testid=custom-fields-form]")
    page.fill("#id_name", NAME)
    page.select_option("#id_industry", "it")
    page.fill("#id_phone", "0571-88886666")
    page.fill("#contacts-0-name", "陈晓明")
    page.fill("#contacts-0-phone", "13811112222")
    page.select_option("#id_custom_company_size", "200_1000")
    page.fill("[name='contacts-0-custom.wechat']", "chenxm_88")
    shot(page, "cfields-03-customer-form")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=customer-number]")
    customer = Customer.objects.get(name=NAME)
    assert customer.custom == {"company_size": "200_1000"}
    assert customer.contacts.get().custom == {"wechat": "chenxm_88"}

    # and shown on the record page
    card = page.locator("[data-testid=custom-fields]")
    assert "企业规模" in card.inner_text() and "200-1000人" in card.inner_text()
    shot(page, "cfields-04-record-page")

    # and as a list column
    Customer.objects.filter(pk=other.pk).update(custom={"company_size": "lt50"})
    page.goto(f"{base}/customers/")
    page.wait_for_selector("[data-testid=cf-col-company_size]")
    cells = page.locator("td[data-field='custom.company_size']").all_inner_texts()
    assert "200-1000人" in cells and "少于50人" in cells
    shot(page, "cfields-05-list-column")

    # and the filter panel narrows the list to the chosen size
    page.select_option("[data-testid=filter-cf-company_size]", "200_1000")
    page.wait_for_url("**cf_company_size=200_1000**")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=customer-row]').length === 1"
    )
    rows = page.locator("[data-testid=customer-row]").all_inner_texts()
    assert len(rows) == 1 and NAME in rows[0]
    shot(page, "cfields-06-list-filtered")


def test_the_other_modules_show_their_custom_fields(page, live_server):
    """Leads, opportunities and follow-ups: the list column, the record card, the form."""
    from crm.leads.models import Lead
    from crm.sales.models import Opportunity
    from crm.tests_support.activities import followup_make
    from crm.tests_support.customfields import custom_field_make
    from crm.tests_support.leads import lead_make
    from crm.tests_support.sales import opportunity_make

    org = org_build()
    quarters = [{"code": f"q{i}", "label": f"第{n}季度"} for i, n in enumerate("一二三四", 1)]
    products = [{"code": "crm", "label": "CRM系统"}, {"code": "call", "label": "呼叫中心"}]
    custom_field_make("leads", "products", "multichoice", label="意向产品", options=products,
                      show_in_list=True)  # fmt: skip
    custom_field_make("opportunities", "quarter", "choice", label="预计签约季度",
                      options=quarters, show_in_list=True)  # fmt: skip
    custom_field_make("followups", "visit_no", "integer", label="拜访人数", show_in_list=True)
    lead = lead_make(owner=org.rep1)
    Lead.objects.filter(pk=lead.pk).update(custom={"products": ["crm", "call"]})
    opportunity = opportunity_make(owner=org.rep1)
    Opportunity.objects.filter(pk=opportunity.pk).update(custom={"quarter": "q3"})
    followup = followup_make(customer=opportunity.customer, custom={"visit_no": 3})
    base = live_server.url
    login(page, base, "rep1", org.password)

    page.goto(f"{base}/leads/")
    assert "CRM系统、呼叫中心" in page.inner_text("td[data-field='custom.products']")
    shot(page, "cfields-07-lead-list")
    page.goto(f"{base}/leads/{lead.pk}/edit/")
    assert page.is_checked("input[name='custom.products'][value=crm]")
    shot(page, "cfields-08-lead-form")

    page.goto(f"{base}/opportunities/{opportunity.pk}/")
    assert "第三季度" in page.inner_text("[data-testid=custom-fields]")
    shot(page, "cfields-09-opportunity-page")
    page.goto(f"{base}/opportunities/")
    assert "第三季度" in page.inner_text("td[data-field='custom.quarter']")

    page.goto(f"{base}/followups/{followup.pk}/")
    assert "3" in page.inner_text("[data-testid=custom-fields]")
    shot(page, "cfields-10-followup-page")
