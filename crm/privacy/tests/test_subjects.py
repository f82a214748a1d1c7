"""Data-subject requests (issue 8 §6): export everything held about a person, anonymise them."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from crm.activities.services import followup_create
from crm.core.models import AuditEntry, TimelineEntry
from crm.customers.models import Contact, Customer
from crm.customers.selectors import CustomerFilters, customer_list
from crm.customers.services import contact_update, customer_update
from crm.leads.selectors import LeadFilters, lead_list
from crm.privacy.services import contact_reveal
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def person(org, **fields):
    """An individual customer 张三丰 with a phone history and a follow-up naming him."""
    customer = customer_make(
        owner=org.rep1,
        type="individual",
        name="张三丰",
        phone="13911112222",
        email="zsf@example.com",
        address="武当山紫霄宫",
        contacts=[{"name": "张三丰", "phone": "13911112222", "is_primary": True}],
        **fields,
    )
    customer = customer_update(
        actor=org.rep1,
        customer=customer,
        data={"phone": "13933334444", "remarks": "老客户，喜欢太极"},
        version=customer.version,
    )
    return customer


def other(org):
    return customer_make(owner=org.rep1, name="李四科技有限公司", phone="13955556666")


def test_export_holds_the_persons_data_from_every_place_and_nothing_about_others(org):
    customer = person(org)
    bystander = other(org)
    contact_reveal(actor=org.rep1, kind="customer", record_id=customer.pk, field="phone")
    response = api_as(org.admin).post(f"privacy/customer/{customer.pk}/export")
    assert response.status_code == 200, response.content
    data = json.loads(response.content)
    assert set(data) >= {
        "subject", "record", "contacts", "followups", "attachments", "audit", "reveals",
        "timeline", "leads",
    }  # fmt: skip
    assert data["record"]["name"] == "张三丰"
    assert data["record"]["phone"] == "13933334444"
    assert data["contacts"][0]["name"] == "张三丰"
    text = response.content.decode()
    assert "13911112222" in text  # the old phone, from the audit history
    assert data["reveals"][0]["field"] == "phone"
    assert data["timeline"]
    assert bystander.name not in text and bystander.phone not in text
    assert AuditEntry.objects.filter(action="personal_export", object_id=customer.pk).exists()


def test_export_xlsx_and_contact_and_lead(org):
    import openpyxl

    customer = person(org)
    response = api_as(org.admin).post(f"privacy/customer/{customer.pk}/export?format=xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert {"record", "audit", "reveals", "followups"} <= set(book.sheetnames)
    enterprise = customer_make(owner=org.rep1)
    contact = enterprise.contacts.get()
    data = api_as(org.admin).post(f"privacy/contact/{contact.pk}/export").json()
    assert data["record"]["name"] == contact.name
    lead = lead_make(owner=org.rep1)
    data = api_as(org.admin).post(f"privacy/lead/{lead.pk}/export").json()
    assert data["record"]["phone"] == lead.phone


def test_only_administrators_and_not_an_enterprise(org):
    customer = person(org)
    enterprise = customer_make(owner=org.rep1)
    for user in (org.rep1, org.manager, org.exec):
        api = api_as(user)
        assert api.post(f"privacy/customer/{customer.pk}/export").status_code == 403
        body = {"confirm": True}
        assert api.post(f"privacy/customer/{customer.pk}/anonymise", body).status_code == 403
    admin = api_as(org.admin)
    assert (
        admin.post(f"privacy/customer/{enterprise.pk}/anonymise", {"confirm": True}).status_code
        == 422
    )
    assert admin.post(f"privacy/customer/{enterprise.pk}/export").status_code == 422
    assert admin.post(f"privacy/customer/{customer.pk}/anonymise", {}).status_code == 422
    assert admin.post("privacy/customer/999999/anonymise", {"confirm": True}).status_code == 404
    customer.refresh_from_db()
    assert customer.name == "张三丰"


def test_anonymise_an_individual_customer_everywhere_keeping_history(org):
    customer = person(org)
    history_before = AuditEntry.objects.filter(object_id=customer.pk).count()
    timeline_before = TimelineEntry.objects.filter(customer_id=customer.pk).count()
    response = api_as(org.admin).post(
        f"privacy/customer/{customer.pk}/anonymise", {"confirm": True}
    )
    assert response.status_code == 200, response.content
    marker = f"已匿名化-{customer.pk}"
    assert response.json()["name"] == marker
    customer.refresh_from_db()
    assert customer.name == marker
    assert customer.phone == "" and customer.email == "" and customer.address == ""
    assert customer.remarks == ""
    for q in ("张三丰", "13933334444", "13911112222", "zsf@example.com", "zsf"):
        assert not customer_list(user=org.admin, filters=CustomerFilters(q=q)).exists(), q
    # The history rows stay, without the personal values.
    entries = AuditEntry.objects.filter(object_id=customer.pk, content_type__model="customer")
    assert entries.count() == history_before + 1
    dump = json.dumps([[e.changes, e.object_repr] for e in entries], ensure_ascii=False)
    for value in ("张三丰", "13933334444", "13911112222", "zsf@example.com", "太极", "武当山"):
        assert value not in dump, value
    lines = TimelineEntry.objects.filter(customer_id=customer.pk)
    assert lines.count() == timeline_before
    assert "张三丰" not in json.dumps([t.data for t in lines], ensure_ascii=False)
    assert entries.filter(action="anonymise", actor=org.admin).exists()
    assert Contact.objects.get(customer=customer).name.startswith("已匿名化-")


def test_anonymise_a_contact_of_an_enterprise(org):
    enterprise = customer_make(
        owner=org.rep1,
        name="武当科技有限公司",
        contacts=[
            {
                "name": "殷梨亭",
                "phone": "13977778888",
                "email": "ylt@wd.example.com",
                "is_primary": True,
            },
            {"name": "宋远桥", "phone": "13966667777"},
        ],
    )
    contact = enterprise.contacts.get(name="殷梨亭")
    contact_update(actor=org.rep1, contact=contact, data={"phone": "13977779999"})
    followup_create(
        actor=org.rep1,
        data={
            "customer_id": enterprise.pk,
            "contact_id": contact.pk,
            "method": "phone",
            "occurred_at": "2026-11-01T10:00:00+08:00",
            "summary": "与殷梨亭电话沟通，13977779999",
        },
    )
    response = api_as(org.admin).post(f"privacy/contact/{contact.pk}/anonymise", {"confirm": True})
    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert contact.name == f"已匿名化-{contact.pk}" and contact.phone == ""
    enterprise.refresh_from_db()
    assert enterprise.name == "武当科技有限公司"  # the company is not the person
    assert enterprise.contacts.filter(name="宋远桥").exists()  # nor the other contact
    assert not customer_list(user=org.admin, filters=CustomerFilters(q="殷梨亭")).exists()
    assert customer_list(user=org.admin, filters=CustomerFilters(q="宋远桥")).exists()
    dump = json.dumps(
        [e.changes for e in AuditEntry.objects.filter(object_id=enterprise.pk)], ensure_ascii=False
    )
    assert "殷梨亭" not in dump and "13977778888" not in dump and "13977779999" not in dump
    assert "宋远桥" in dump
    from crm.activities.models import FollowUp

    assert "殷梨亭" not in FollowUp.objects.get(contact=contact).summary
    texts = json.dumps(
        [t.data for t in TimelineEntry.objects.filter(customer_id=enterprise.pk)],
        ensure_ascii=False,
    )
    assert "殷梨亭" not in texts
    assert AuditEntry.objects.filter(action="anonymise", object_id=contact.pk).exists()


def test_anonymise_a_lead(org):
    lead = lead_make(owner=org.rep1, name="周芷若", phone="13811112222", email="zzr@em.example.com")
    response = api_as(org.admin).post(f"privacy/lead/{lead.pk}/anonymise", {"confirm": True})
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.name == f"已匿名化-{lead.pk}" and lead.phone == "" and lead.email == ""
    for q in ("周芷若", "13811112222", "zzr@em"):
        assert not lead_list(user=org.admin, filters=LeadFilters(q=q)).exists(), q
    dump = json.dumps(
        [e.changes for e in AuditEntry.objects.filter(object_id=lead.pk)], ensure_ascii=False
    )
    assert "周芷若" not in dump and "13811112222" not in dump


def test_web_menu_for_administrators_and_anonymise_by_post(org):
    customer = person(org)
    admin = Client()
    admin.force_login(org.admin)
    admin.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = admin.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert f"privacy-menu-customer-{customer.pk}" in page
    assert "Anonymise “张三丰”?" in page  # the confirmation names the record
    rep = Client()
    rep.force_login(org.rep1)
    page = rep.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "privacy-menu" not in page
    assert rep.post(reverse("privacy:anonymise", args=["customer", customer.pk])).status_code == 403
    response = admin.post(
        reverse("privacy:export", args=["customer", customer.pk]), {"format": "xlsx"}
    )
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.xlsx"')
    response = admin.post(reverse("privacy:anonymise", args=["customer", customer.pk]))
    assert response.status_code == 302
    assert Customer.objects.get(pk=customer.pk).name == f"已匿名化-{customer.pk}"
