"""The files panel and its views (issue 6 §3): the customer page's files tab, upload (HTMX and
plain), inline refusals (422, 413), delete with confirmation, downloads only through the view
that checks the record, never a public media URL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.core import attachments as registry
from crm.core.config import setting_set
from crm.core.models import Attachment
from crm.core.scope import scope_filter, user_can
from crm.customers.models import Contact
from crm.tests_support import files as samples
from crm.tests_support.factories import customer_make
from crm.tests_support.files import attachment_make, upload

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true", "HX-Target": "attachments-panel"}


def files_tab(customer) -> str:
    return reverse("customers:detail", args=[customer.pk]) + "?tab=files"


def upload_url(customer, related: bool = True) -> str:
    query = f"object_type=customer&object_id={customer.pk}" + ("&related=1" if related else "")
    return reverse("attachments:upload") + "?" + query


@pytest.fixture
def contact_target(monkeypatch):
    """A second record type on customers (contacts stand in for opportunities and follow-ups,
    which register themselves in their own apps): scoped by their customer's owner."""

    def visible(user):
        return Contact.objects.filter(
            customer__in=registry._TARGETS["customer"].visible(user)
        ).select_related("customer")

    def get(*, user, object_id):
        from crm.core.errors import NotFoundError

        found = visible(user).filter(pk=object_id).first()
        if found is None:
            raise NotFoundError()
        return found

    monkeypatch.setitem(
        registry._TARGETS,
        "contact",
        registry.AttachmentTarget(
            object_type="contact",
            model=Contact,
            get=get,
            can_attach=lambda *, user, instance: user_can(user, "customers", "edit"),
            customer_id=lambda instance: instance.customer_id,
            owner_id=lambda instance: instance.customer.owner_id,
            module="customers",
            visible=visible,
            label="Contact",
        ),
    )
    assert scope_filter  # the scope engine is what `visible` relies on


def test_the_files_tab_lists_the_customers_files_and_its_records(client, org, contact_target):
    # given a customer with a file of its own and one on its contact
    customer = customer_make(owner=org.rep1, contacts=[{"name": "王强", "phone": "13900000001"}])
    own = attachment_make(actor=org.rep1, record=customer, name="合同.pdf")
    on_contact = attachment_make(
        actor=org.rep1,
        record=customer.contacts.get(),
        object_type="contact",
        name="名片.png",
        content=samples.png_bytes(),
    )
    client.force_login(org.rep1)
    # when rep1 opens the files tab
    response = client.get(files_tab(customer))
    html = response.content.decode()
    # then both are listed, the contact's with where it comes from, and the upload form is there
    assert response.status_code == 200
    assert 'data-testid="attachments-panel"' in html
    assert own.name in html and on_contact.name in html and "Contact: 王强" in html
    assert reverse("attachments:download", args=[own.pk]) in html
    assert 'data-testid="attachments-upload"' in html and 'accept=".docx,' in html
    assert 'data-confirm="' in html  # delete asks first


def test_the_files_tab_query_count_does_not_grow_with_files(client, org, contact_target):
    customer = customer_make(owner=org.rep1, contacts=[{"name": "王强", "phone": "13900000001"}])
    contact = customer.contacts.get()
    client.force_login(org.rep1)
    counts = []
    for total in (2, 20):
        while Attachment.objects.count() < total:
            n = Attachment.objects.count()
            if n % 2:
                attachment_make(actor=org.rep1, record=customer)
            else:
                attachment_make(actor=org.rep1, record=contact, object_type="contact")
        client.get(files_tab(customer))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(files_tab(customer))
        assert response.content.decode().count('data-testid="attachment-row"') == total
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_a_read_only_viewer_sees_files_but_no_upload_or_delete(client, org):
    customer = customer_make(owner=org.rep1)
    attachment_make(actor=org.rep1, record=customer)
    client.force_login(org.service)
    html = client.get(files_tab(customer)).content.decode()
    assert "报价单.pdf" in html
    assert 'data-testid="attachments-upload"' not in html
    assert 'data-testid="attachment-delete"' not in html


def test_htmx_upload_answers_the_refreshed_panel(client, org, settings):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(
        upload_url(customer),
        {
            "file": [
                upload("方案.docx", samples.docx_bytes()),
                upload("照片.png", samples.png_bytes()),
            ]
        },
        headers=HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card attachments-panel"')
    assert "方案.docx" in html and "照片.png" in html and "2 files uploaded." in html
    assert Attachment.objects.count() == 2


def test_a_refused_file_comes_back_inline_with_422_and_nothing_saved(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    response = client.post(
        upload_url(customer),
        {"file": upload("报价单.docx", samples.exe_bytes())},
        headers=HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert 'data-testid="attachments-errors"' in html and "EXE" in html
    assert "data-swap-errors" in html  # app.js swaps it in despite the 4xx
    assert not Attachment.objects.exists()


def test_a_file_over_the_limit_comes_back_inline_with_413(client, org):
    setting_set(key="attachment_max_mb", value=1)
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    response = client.post(
        upload_url(customer), {"file": upload("big.txt", b"a" * (1024 * 1024 + 1))}, headers=HTMX
    )
    assert response.status_code == 413
    assert 'data-testid="attachments-errors"' in response.content.decode()


def test_a_body_far_over_the_limit_is_refused_before_reading_with_the_panel(client, org, settings):
    setting_set(key="attachment_max_mb", value=1)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    files = [upload(f"{i}.txt", b"a" * (1024 * 1024)) for i in range(11)]  # 11 MB > 10 × 1 MB
    response = client.post(upload_url(customer), {"file": files}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 413
    assert 'data-testid="attachments-errors"' in html and "1 MB" in html
    assert not Attachment.objects.exists()


def test_other_forms_do_not_take_megabytes_of_files(client, org, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client.force_login(org.rep1)
    response = client.post(
        reverse("customers:create"), {"name": "x", "file": upload("a.txt", b"a" * 4096)}
    )
    assert response.status_code == 413
    assert 'data-testid="error-413"' in response.content.decode()


def test_plain_upload_without_javascript_goes_back_to_the_files_tab(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    response = client.post(upload_url(customer), {"file": upload("a.pdf", samples.pdf_bytes())})
    assert response.status_code == 302
    assert response["Location"] == files_tab(customer)


def test_upload_outside_the_scope_is_404_and_for_a_read_only_role_403(client, org):
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep3)
    assert (
        client.post(
            upload_url(customer), {"file": upload("a.pdf", samples.pdf_bytes())}
        ).status_code
        == 404
    )
    client.force_login(org.service)
    assert (
        client.post(
            upload_url(customer), {"file": upload("a.pdf", samples.pdf_bytes())}
        ).status_code
        == 403
    )
    assert not Attachment.objects.exists()


def test_download_is_an_attachment_for_viewers_only(client, org):
    customer = customer_make(owner=org.rep1)
    attachment = attachment_make(
        actor=org.rep1, record=customer, name="页面.txt", content=b"<script>alert(1)</script>"
    )
    url = reverse("attachments:download", args=[attachment.pk])
    client.force_login(org.manager)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"
    client.force_login(org.rep3)
    assert client.get(url).status_code == 404


def test_the_stored_file_is_not_served_under_media_url(client, org):
    customer = customer_make(owner=org.rep1)
    attachment = attachment_make(actor=org.rep1, record=customer)
    client.force_login(org.admin)
    assert client.get(f"/media/{attachment.file.name}").status_code == 404
    assert client.get(f"/static/../media/{attachment.file.name}").status_code == 404


def test_delete_answers_the_panel_it_came_from(client, org):
    customer = customer_make(owner=org.rep1)
    attachment = attachment_make(actor=org.rep1, record=customer)
    client.force_login(org.rep1)
    url = reverse("attachments:delete", args=[attachment.pk])
    response = client.post(
        f"{url}?object_type=customer&object_id={customer.pk}&related=1", headers=HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="attachment-row"' not in html and "报价单.pdf" in html  # the notice
    attachment.refresh_from_db()
    assert attachment.deleted_at is not None
    client.force_login(org.service)
    other = attachment_make(actor=org.rep1, record=customer)
    assert client.post(reverse("attachments:delete", args=[other.pk])).status_code == 403


def test_the_panel_page_works_without_htmx(client, org):
    customer = customer_make(owner=org.rep1)
    attachment_make(actor=org.rep1, record=customer)
    client.force_login(org.rep1)
    response = client.get(
        reverse("attachments:panel") + f"?object_type=customer&object_id={customer.pk}"
    )
    assert response.status_code == 200 and "<html" in response.content.decode()
    assert (
        client.get(reverse("attachments:panel") + "?object_type=ufo&object_id=1").status_code == 404
    )
