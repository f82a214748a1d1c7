"""Reveal on demand (issue 8 §6): masked lists, a logged reveal per click, scope, limits."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from crm.core.config import setting_set
from crm.core.models import AuditEntry
from crm.notify.models import Notification
from crm.privacy.services import reveals_by, reveals_of
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


def reveal_on(per_hour: int = 100) -> None:
    setting_set(key="contact_reveal", value={"on_demand": True, "per_hour": per_hour})


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_setting_off_keeps_todays_pages(org):
    # Given reveal on demand off (the default), when a rep opens their list
    customer = customer_make(owner=org.rep1)
    page = web(org.rep1).get(reverse("customers:list")).content.decode()
    # then the phone is in clear and no reveal button is offered
    assert customer.phone in page
    assert "reveal-btn" not in page
    assert api_as(org.rep1).get(f"customers/{customer.pk}").json()["phone"] == customer.phone


def test_setting_on_masks_lists_pages_and_api_for_view_contact_holders(org):
    customer = customer_make(owner=org.rep1)
    lead = lead_make(owner=org.rep1)
    reveal_on()
    client = web(org.rep1)
    for url in (reverse("customers:list"), reverse("customers:detail", args=[customer.pk])):
        page = client.get(url).content.decode()
        assert customer.phone not in page
        assert "reveal-btn" in page
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert lead.phone not in page and lead.email not in page
    assert "reveal-btn" in page
    api = api_as(org.rep1)
    assert api.get(f"customers/{customer.pk}").json()["phone"] != customer.phone
    assert api.get(f"leads/{lead.pk}").json()["phone"] != lead.phone


def test_reveal_returns_the_value_and_logs_who_when_record_field(org):
    # Given reveal on, when the owner reveals a customer's phone on the web
    customer = customer_make(owner=org.rep1)
    reveal_on()
    response = web(org.rep1).post(
        reverse("privacy:customer_reveal", args=[customer.pk]),
        {"field": "phone"},
        REMOTE_ADDR="10.1.2.3",
    )
    # then the value comes back and one reveal entry says who, which record and field
    assert response.status_code == 200
    assert customer.phone in response.content.decode()
    entry = reveals_of(instance=customer).get()
    assert entry.actor == org.rep1
    assert entry.changes == [{"field": "phone", "revealed": True}]
    assert entry.created_at is not None
    assert entry.ip  # the client address
    assert customer.phone not in str(entry.changes)  # the log holds no value
    assert list(reveals_by(user=org.rep1)) == [entry]


@pytest.mark.parametrize("kind", ["customer", "contact", "lead"])
def test_api_reveal_each_kind(org, kind):
    customer = customer_make(owner=org.rep1)
    records = {
        "customer": customer,
        "contact": customer.contacts.get(),
        "lead": lead_make(owner=org.rep1),
    }
    record = records[kind]
    reveal_on()
    response = api_as(org.rep1).post(f"{kind}s/{record.pk}/reveal", {"field": "phone"})
    assert response.status_code == 200, response.content
    assert response.json() == {"field": "phone", "value": record.phone}
    entry = AuditEntry.objects.get(action="reveal")
    assert entry.content_type == ContentType.objects.get_for_model(record)
    assert entry.object_id == record.pk


def test_without_view_contact_403_and_outside_scope_404(org):
    customer = customer_make(owner=org.rep1)
    finance = org.finance  # sees every customer, without view_contact
    reveal_on()
    assert (
        api_as(finance).post(f"customers/{customer.pk}/reveal", {"field": "phone"}).status_code
        == 403
    )
    assert (
        api_as(org.rep2).post(f"customers/{customer.pk}/reveal", {"field": "phone"}).status_code
        == 404
    )
    assert (
        web(org.rep2)
        .post(reverse("privacy:customer_reveal", args=[customer.pk]), {"field": "phone"})
        .status_code
        == 404
    )
    assert (
        api_as(org.rep1).post(f"customers/{customer.pk}/reveal", {"field": "name"}).status_code
        == 422
    )
    assert not AuditEntry.objects.filter(action="reveal").exists()
    # Without view_contact the page stays masked and offers no button.
    page = web(finance).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert customer.phone not in page and "reveal-btn" not in page


def test_rate_limit_refuses_and_tells_the_administrators_once(org):
    customer = customer_make(owner=org.rep1)
    reveal_on(per_hour=3)
    api = api_as(org.rep1)
    codes = [
        api.post(f"customers/{customer.pk}/reveal", {"field": "phone"}).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    assert AuditEntry.objects.filter(action="reveal").count() == 3
    notes = Notification.objects.filter(kind="reveal_limit")
    assert notes.filter(recipient=org.admin).count() == 1  # deduplicated within the hour
    assert not notes.filter(recipient=org.rep1).exists()


def test_reveal_does_not_count_as_a_field_change(org):
    customer = customer_make(owner=org.rep1)
    reveal_on()
    api_as(org.rep1).post(f"customers/{customer.pk}/reveal", {"field": "phone"})
    page = web(org.rep1).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert page.count("last-change") == 0


def test_settings_page_turns_it_on(org):
    client = web(org.admin)
    page = client.get(reverse("settings:rules")).content.decode()
    assert "reveal_on_demand" in page
    from crm.core.config import setting_get

    form = {
        "recycle_bin_days": 30,
        "followup_reminder_minutes": 30,
        "duplicate_name": "block",
        "duplicate_credit_code": "block",
        "duplicate_phone": "warn",
        "duplicate_email": "warn",
        "reveal_rules": "1",
        "reveal_on_demand": "on",
        "reveal_per_hour": "50",
    }
    response = client.post(reverse("settings:rules"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert setting_get("contact_reveal") == {"on_demand": True, "per_hour": 50}
    form["reveal_per_hour"] = "0"
    assert client.post(reverse("settings:rules"), form).status_code == 422
