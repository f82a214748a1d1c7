"""Custom fields on the lead, opportunity and follow-up pages and on every list (issue 8 §1):
form sections, record cards, list columns without extra queries, the list filters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from crm.core.models import AuditEntry
from crm.customers.models import Customer
from crm.leads.models import Lead
from crm.sales.models import Opportunity
from crm.tests_support.customfields import custom_field_make
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make
from crm.tests_support.sales import opportunity_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def _define(module):
    custom_field_make(
        module, "quarter", "choice", label="预计签约季度", label_en="Signing quarter",
        show_in_list=True,
        options=[{"code": "q1", "label": "一季度", "label_en": "Q1"},
                 {"code": "q2", "label": "二季度", "label_en": "Q2"}],
    )  # fmt: skip
    custom_field_make(module, "seats", "integer", label="席位数", label_en="Seats", min_value="1")


def test_a_lead_form_saves_custom_values_shows_them_and_audits_them(client, org):
    _define("leads")
    client.force_login(org.rep1)
    page = client.get(reverse("leads:new")).content.decode()
    assert 'name="custom.quarter"' in page and "Signing quarter" in page
    body = {
        "company": "自定义字段线索科技有限公司", "name": "赵六", "phone": "13600001111",
        "grade": "B", "owner": org.rep1.pk, "custom.quarter": "q2", "custom.seats": "0",
    }  # fmt: skip
    bad = client.post(reverse("leads:new"), body)
    assert bad.status_code == 422
    assert bad.context["form"].errors["custom.seats"] == ["Enter a value of at least 1."]
    body["custom.seats"] = "30"
    assert client.post(reverse("leads:new"), body).status_code == 302
    lead = Lead.objects.get(company="自定义字段线索科技有限公司")
    assert lead.custom == {"quarter": "q2", "seats": 30}
    shown = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert 'data-testid="custom-fields"' in shown and "Q2" in shown

    edit = client.get(reverse("leads:edit", args=[lead.pk]))
    body = {
        **body,
        "custom.seats": "31",
        "version": lead.version,
        "original": edit.context["original"],
    }
    answer = client.post(reverse("leads:edit", args=[lead.pk]), body)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    lead.refresh_from_db()
    assert lead.custom["seats"] == 31
    entry = AuditEntry.objects.filter(action="update", object_id=str(lead.pk)).latest("id")
    assert ("custom.seats", "30", "31") in [
        (c["field"], c["before"], c["after"]) for c in entry.changes
    ]


def test_an_opportunity_form_and_page_carry_custom_fields(client, org):
    _define("opportunities")
    customer = customer_make(owner=org.rep1, name="商机字段科技有限公司")
    client.force_login(org.rep1)
    url = reverse("sales:create") + f"?customer={customer.pk}"
    assert 'name="custom.quarter"' in client.get(url).content.decode()
    answer = client.post(
        url,
        {"customer": customer.pk, "name": "字段商机", "amount": "50000", "owner": org.rep1.pk,
         "custom.quarter": "q1", "custom.seats": "5"},
    )  # fmt: skip
    assert answer.status_code == 302, answer.content.decode()[:2000]
    opportunity = Opportunity.objects.get(name="字段商机")
    assert opportunity.custom == {"quarter": "q1", "seats": 5}
    shown = client.get(reverse("sales:detail", args=[opportunity.pk])).content.decode()
    assert "Signing quarter" in shown and "Q1" in shown
    assert "Q1" in client.get(reverse("sales:edit", args=[opportunity.pk])).content.decode()


def test_a_followup_form_and_page_carry_custom_fields(client, org):
    _define("followups")
    customer = customer_make(owner=org.rep1, name="跟进字段科技有限公司")
    client.force_login(org.rep1)
    url = reverse("activities:create") + f"?customer={customer.pk}"
    assert 'name="custom.quarter"' in client.get(url).content.decode()
    when = (dt.datetime.now() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post(
        url,
        {"customer": customer.pk, "method": "phone", "occurred_at": when,
         "author": org.rep1.pk, "summary": "电话确认", "custom.quarter": "q2", "custom.seats": ""},
    )  # fmt: skip
    assert answer.status_code == 302, (
        answer.context["form"].errors,
        answer.context.get("form_errors"),
    )
    followup = customer.followups.get()
    assert followup.custom == {"quarter": "q2"}
    shown = client.get(reverse("activities:detail", args=[followup.pk])).content.decode()
    assert "Signing quarter" in shown and "Q2" in shown
    recent = client.get(reverse("activities:mine") + "?tab=recent").content.decode()
    assert 'data-testid="followup-custom"' in recent and "Q2" in recent
    filtered = client.get(reverse("activities:mine") + "?tab=recent&cf_quarter=q1").content.decode()
    assert "电话确认" not in filtered


def _rows(module, org, n, start=0):
    customers = [
        customer_make(owner=org.rep1, name=f"列表字段{i:02d}科技有限公司")
        for i in range(start, start + n)
    ]
    for i, c in enumerate(customers):
        code = "q1" if i % 2 else "q2"
        if module == "customers":
            Customer.objects.filter(pk=c.pk).update(custom={"quarter": code})
        elif module == "leads":
            lead = lead_make(owner=org.rep1)
            Lead.objects.filter(pk=lead.pk).update(custom={"quarter": code})
        elif module == "opportunities":
            o = opportunity_make(owner=org.rep1, customer=c)
            Opportunity.objects.filter(pk=o.pk).update(custom={"quarter": code})


LISTS = {"customers": "customers:list", "leads": "leads:list", "opportunities": "sales:list"}


@pytest.mark.parametrize("module", list(LISTS))
def test_list_columns_cost_no_query_per_row_and_the_list_filters(
    client, org, module, django_assert_max_num_queries
):
    _define(module)
    client.force_login(org.rep1)
    url = reverse(LISTS[module])
    _rows(module, org, 2)
    with django_assert_max_num_queries(60) as few:
        client.get(url)
    _rows(module, org, 10, start=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url).content.decode()
    assert 'data-testid="cf-col-quarter"' in page
    assert page.count('data-field="custom.quarter"') == 12
    assert 'data-testid="filter-cf-quarter"' in page
    filtered = client.get(url + "?cf_quarter=q1").content.decode()
    assert filtered.count('data-field="custom.quarter"') == 6
    assert '<span class="truncate cell-md">Q2</span>' not in filtered
    assert '<span class="truncate cell-md">Q1</span>' in filtered


def test_phone_fields_are_masked_on_pages_for_users_without_view_contact(client, org):
    # the customers' rule (customers/view_contact) for every module's custom phone fields
    from crm.core.scope import user_can

    custom_field_make("opportunities", "hotline", "phone", label="热线", show_in_list=True)
    opportunity = opportunity_make(owner=org.rep1)
    Opportunity.objects.filter(pk=opportunity.pk).update(custom={"hotline": "13812345678"})
    viewer = next(
        u for u in (org.finance, org.service, org.exec, org.rep1)
        if user_can(u, "opportunities", "view") and not user_can(u, "customers", "view_contact")
    )  # fmt: skip
    client.force_login(viewer)
    page = client.get(reverse("sales:detail", args=[opportunity.pk])).content.decode()
    assert "13812345678" not in page
    client.force_login(org.admin)
    page = client.get(reverse("sales:detail", args=[opportunity.pk])).content.decode()
    assert "13812345678" in page


def test_record_histories_name_custom_fields_by_their_labels(client, org):
    from crm.tests_support.activities import followup_make

    _define("followups")
    customer = customer_make(owner=org.rep1, name="历史字段科技有限公司")
    followup = followup_make(customer=customer, custom={"seats": 2})
    from crm.activities.services import followup_update

    followup_update(
        actor=org.rep1, followup=followup, data={"custom": {"seats": 4}}, version=followup.version
    )
    client.force_login(org.rep1)
    page = client.get(reverse("activities:detail", args=[followup.pk])).content.decode()
    assert "Seats" in page and "custom.seats" not in page.replace('data-field="custom.seats"', "")
