"""Custom fields on the customer pages (issue 8 §1): form, record page, contacts, list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.core.models import AuditEntry
from crm.customers.models import Customer
from crm.customers.tests.test_views import create_payload, detail, edit, edit_payload, logged_in
from crm.tests_support.customfields import custom_field_make
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def _define():
    size = custom_field_make(
        "customers", "size", "choice", label="企业规模", label_en="Company size",
        show_in_list=True, required=True,
    )  # fmt: skip
    revenue = custom_field_make(
        "customers", "revenue", "decimal", label="年营业额(万元)", label_en="Revenue",
        min_value="0", show_in_list=True,
    )  # fmt: skip
    wechat = custom_field_make("customers", "wechat", label="微信号", label_en="WeChat")
    return size, revenue, wechat


@pytest.fixture
def fields():
    return _define()


def test_the_create_form_shows_the_custom_fields_and_saves_them(client, org, fields):
    logged_in(client, org.rep1)
    page = client.get(reverse("customers:create")).content.decode()
    assert 'name="custom.size"' in page and 'name="custom.revenue"' in page
    assert "Company size" in page and "Under 50" in page
    answer = client.post(
        reverse("customers:create"),
        create_payload(**{"custom.size": "m", "custom.revenue": "1250.5", "custom.wechat": "hk_1"}),
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    customer = Customer.objects.get(name="北京华科信息技术有限公司")
    assert customer.custom == {"size": "m", "revenue": "1250.50", "wechat": "hk_1"}
    shown = client.get(detail(customer)).content.decode()
    assert 'data-testid="custom-fields"' in shown
    assert "50-200" in shown and "1250.50" in shown and "hk_1" in shown


def test_custom_field_errors_are_shown_at_their_fields(client, org, fields):
    logged_in(client, org.rep1)
    answer = client.post(
        reverse("customers:create"),
        create_payload(**{"custom.size": "", "custom.revenue": "-3"}),
    )
    assert answer.status_code == 422
    form = answer.context["form"]
    assert form.errors["custom.size"] == ["This field is required."]
    assert form.errors["custom.revenue"] == ["Enter a value of at least 0."]
    assert not Customer.objects.filter(name="北京华科信息技术有限公司").exists()


def test_an_edit_sends_only_the_changed_custom_fields_and_audits_each(client, org):
    customer = customer_make(owner=org.rep1, name="上海测试科技有限公司")
    _define()
    Customer.objects.filter(pk=customer.pk).update(custom={"size": "s", "wechat": "old"})
    customer.refresh_from_db()
    logged_in(client, org.rep1)
    page = client.get(edit(customer))
    assert page.status_code == 200
    original = page.context["original"]
    body = edit_payload(customer, original=original)
    body.update({"custom.size": "l", "custom.revenue": "", "custom.wechat": "old"})
    answer = client.post(edit(customer), body)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    customer.refresh_from_db()
    assert customer.custom == {"size": "l", "wechat": "old"}
    entry = AuditEntry.objects.filter(action="update", object_id=str(customer.pk)).latest("id")
    changed = {c["field"]: (c["before"], c["after"]) for c in entry.changes}
    assert changed == {"custom.size": ("Under 50", "200-1000")}
    history = client.get(detail(customer) + "?tab=history").content.decode()
    assert "Company size" in history


def test_a_contacts_custom_fields_are_on_its_form_and_card(client, org):
    custom_field_make("contacts", "hobby", label="爱好", label_en="Hobby")
    customer = customer_make(owner=org.rep1, name="广州测试科技有限公司")
    contact = customer.contacts.first()
    logged_in(client, org.rep1)
    url = reverse("customers:contact_edit", args=[customer.pk, contact.pk])
    form = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert f'name="c{contact.pk}-custom.hobby"' in form
    body = {
        f"c{contact.pk}-{k}": v
        for k, v in {
            "name": contact.name, "title": contact.title, "phone": contact.phone,
            "email": contact.email, "notes": "", "custom.hobby": "钓鱼",
        }.items()
    }  # fmt: skip
    answer = client.post(url, body, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    contact.refresh_from_db()
    assert contact.custom == {"hobby": "钓鱼"}
    assert "钓鱼" in client.get(detail(customer) + "?tab=contacts").content.decode()


def test_the_create_forms_contact_rows_carry_the_contacts_custom_fields(client, org):
    custom_field_make("contacts", "role", "choice", label="角色", label_en="Role", required=True)
    custom_field_make("contacts", "hobby", label="爱好", label_en="Hobby")
    logged_in(client, org.rep1)
    page = client.get(reverse("customers:create")).content.decode()
    assert (
        'name="contacts-0-custom.role"' in page and 'name="contacts-__prefix__-custom.role"' in page
    )
    body = create_payload(**{"contacts-0-custom.role": "", "contacts-1-custom.role": "m"})
    answer = client.post(reverse("customers:create"), body)
    assert answer.status_code == 422
    rows = answer.context["contacts"].rows
    assert rows[0]["errors"]["custom.role"] == ["This field is required."]
    assert "Contact 1 · Role: This field is required." in answer.content.decode()
    body["contacts-0-custom.role"] = "s"
    body["contacts-0-custom.hobby"] = "篮球"
    answer = client.post(reverse("customers:create"), body)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    customer = Customer.objects.get(name="北京华科信息技术有限公司")
    by_name = {c.name: c.custom for c in customer.contacts.all()}
    assert by_name == {"张伟": {"role": "s", "hobby": "篮球"}, "李娜": {"role": "m"}}
