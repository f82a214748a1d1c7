"""Personal data in the browser (issue 8 §6): with reveal on demand on, a rep reveals one
phone on the customer list (logged); an administrator anonymises a contact from its 个人信息
menu through the app's confirmation dialog. Screenshots: test-artifacts/e2e/privacy-*.png."""

from __future__ import annotations

import pytest

from crm.core.config import setting_set
from crm.core.models import AuditEntry
from crm.customers.models import Contact
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_rep_reveals_a_phone_and_admin_anonymises_a_contact(page, live_server, browser):
    org = org_build()
    base = live_server.url
    customer = customer_make(
        owner=org.rep1,
        name="峨眉科技有限公司",
        phone="13912345678",
        contacts=[
            {"name": "周芷若", "phone": "13987654321", "is_primary": True},
            {"name": "丁敏君", "phone": "13911110000"},
        ],
    )
    setting_set(key="contact_reveal", value={"on_demand": True, "per_hour": 100})

    # A rep sees the list masked and reveals one phone with a click.
    login(page, base, "rep1", org.password)
    page.goto(f"{base}/customers/")
    row = page.locator("[data-testid=customer-row]").first
    assert "13912345678" not in row.inner_text()
    row.locator("td.num .reveal-btn").click()
    page.wait_for_selector("[data-testid=revealed-value]")
    assert "13912345678" in row.inner_text()
    shot(page, "privacy-revealed-on-list")
    entry = AuditEntry.objects.get(action="reveal")
    assert entry.actor_id == org.rep1.pk and entry.object_id == customer.pk

    # An administrator anonymises a contact from the customer page.
    context = browser.new_context(locale="zh-CN")
    admin = context.new_page()
    login(admin, base, "admin", org.password)
    contact = Contact.objects.get(name="周芷若")
    admin.goto(f"{base}/customers/{customer.pk}/?tab=contacts")
    menu = admin.locator(f"[data-testid=privacy-menu-contact-{contact.pk}]")
    menu.locator("summary").click()
    menu.locator("[data-testid=privacy-anonymise]").click()
    dialog = admin.locator("#confirm-dialog")
    assert "周芷若" in dialog.inner_text()
    shot(admin, "privacy-anonymise-confirm")
    admin.click("[data-testid=confirm-ok]")
    admin.wait_for_load_state()
    admin.wait_for_selector(f"text=已匿名化-{contact.pk}")
    shot(admin, "privacy-anonymised")
    assert "周芷若" not in admin.content()
    assert "丁敏君" in admin.content()
    context.close()
