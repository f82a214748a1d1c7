"""Attachments (issue 6 §3): the real type of a file, from its bytes; the size limit; the
services and selectors, in and out of the viewer's scope; purging the stored files."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from crm.core.config import setting_set
from crm.core.errors import NotFoundError, PermissionDeniedError, TooLargeError, ValidationFailed
from crm.core.files import (
    attachment_create,
    attachment_delete,
    attachment_file_check,
    attachment_get,
    attachment_name_clean,
    attachments_create,
    attachments_for,
    attachments_for_customer,
    attachments_purge_expired,
    attachments_purge_for,
)
from crm.core.models import Attachment, AuditEntry, TimelineEntry
from crm.customers.models import Customer
from crm.customers.services import customer_delete, customers_purge_expired
from crm.tests_support import files as samples
from crm.tests_support.factories import customer_make
from crm.tests_support.files import attachment_make, upload

pytestmark = pytest.mark.django_db


def check(name: str, content: bytes, **kwargs):
    return attachment_file_check(upload=upload(name, content), **kwargs)


def refusal(name: str, content: bytes, **kwargs) -> str:
    """The refusal's message, in English (the assertions read it)."""
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        check(name, content, **kwargs)
    return " ".join(str(m) for m in exc.value.fields["file"])


# --- the real type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "mime"),
    [
        ("现场照片.png", samples.png_bytes, "image/png"),
        ("logo.GIF", samples.gif_bytes, "image/gif"),
        ("photo.jpg", samples.jpeg_bytes, "image/jpeg"),
        ("合同.pdf", samples.pdf_bytes, "application/pdf"),
        (
            "报价单.docx",
            samples.docx_bytes,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "清单.xlsx",
            samples.xlsx_bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("方案.odt", samples.odt_bytes, "application/vnd.oasis.opendocument.text"),
        ("旧合同.doc", samples.ole2_bytes, "application/msword"),
        ("报表.xls", lambda: samples.ole2_bytes("Workbook"), "application/vnd.ms-excel"),
        ("金山文字.wps", samples.ole2_bytes, "application/wps-office.wps"),
        ("资料.zip", samples.zip_bytes, "application/zip"),
    ],
)
def test_a_file_whose_content_is_what_its_name_says_is_accepted(name, make, mime):
    # given real bytes of the kind, when checked, then the type stored is the detected one
    content = make()
    checked = check(name, content)
    assert checked.mime == mime
    assert checked.size == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()


def test_text_in_gb18030_and_utf8_is_accepted():
    gb = "客户名称,金额\n华科信息,120000.00\n".encode("gb18030")
    assert check("名单.csv", gb).mime == "text/csv"
    assert check("说明.txt", "会议纪要：下周拜访。".encode()).mime == "text/plain"
    assert check("README.md", b"\xef\xbb\xbf# Notes\n").mime == "text/markdown"


def test_text_with_nul_bytes_is_refused():
    message = refusal("notes.txt", b"hello\x00world")
    assert "binary" in message


def test_a_program_renamed_to_a_word_document_is_refused_naming_what_it_is():
    message = refusal("报价单.docx", samples.exe_bytes())
    assert "报价单.docx" in message and "EXE" in message


def test_a_png_named_pdf_is_refused():
    message = refusal("合同.pdf", samples.png_bytes())
    assert ".pdf" in message and "PNG" in message


def test_a_zip_that_is_no_office_package_is_not_a_docx():
    assert "docx" in refusal("报价单.docx", samples.zip_bytes())


def test_an_ole2_container_without_the_expected_stream_is_refused():
    # an Excel container named .doc: not a Word document
    assert ".doc" in refusal("旧合同.doc", samples.ole2_bytes("Workbook"))


@pytest.mark.parametrize("name", ["logo.svg", "setup.exe", "page.html", "run.bat", "noext"])
def test_kinds_outside_the_allow_list_are_refused_naming_what_is_accepted(name):
    # svg carries scripts, programs and pages are never accepted; the message says what is
    message = refusal(name, samples.svg_bytes())
    assert "PDF" in message and "PNG" in message


def test_a_family_switched_off_by_the_administrator_is_refused():
    setting_set(key="attachment_types", value=["pdf"])
    message = refusal("现场照片.png", samples.png_bytes())
    assert ".png" in message and "PDF" in message and "PNG" not in message


def test_an_empty_file_is_refused():
    assert "empty" in refusal("a.txt", b"")


def test_the_size_limit_is_the_administrators_setting():
    # given a limit lowered to 1 MB
    setting_set(key="attachment_max_mb", value=1)
    big = b"a" * (1024 * 1024 + 1)
    with pytest.raises(TooLargeError) as exc:
        check("big.txt", big)
    # then 413, naming the file and the limit
    assert exc.value.status == 413
    assert "big.txt" in exc.value.fields["file"][0] and "1 MB" in exc.value.fields["file"][0]
    assert check("ok.txt", b"a" * (1024 * 1024)).size == 1024 * 1024


def test_names_are_cleaned_but_never_used_as_paths():
    assert attachment_name_clean("C:\\Users\\张三\\报价单.pdf") == "报价单.pdf"
    assert attachment_name_clean("../../etc/passwd") == "passwd"
    assert attachment_name_clean("gpj\u202e.exe") == "gpj.exe"
    long = attachment_name_clean("长" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")


# --- services ---------------------------------------------------------------------------------


def test_attaching_stores_a_random_name_audits_the_record_and_writes_the_timeline(org):
    # given a customer of rep1
    customer = customer_make(owner=org.rep1)
    # when rep1 attaches a PDF to it
    attachment = attachment_make(actor=org.rep1, record=customer, name="合同 (终版).pdf")
    # then the row says what was found and where it is stored, under a random name
    assert attachment.name == "合同 (终版).pdf"
    assert attachment.mime_type == "application/pdf"
    assert attachment.customer_id == customer.pk
    assert attachment.uploaded_by == org.rep1
    assert "合同" not in attachment.file.name and attachment.file.name.startswith("attachments/")
    assert default_storage.exists(attachment.file.name)
    # and the customer's history and timeline say so
    entry = AuditEntry.objects.filter(object_id=customer.pk, action="update").latest("id")
    assert entry.changes == [{"field": "attachments", "before": None, "after": "合同 (终版).pdf"}]
    line = TimelineEntry.objects.get(kind="file", customer_id=customer.pk)
    assert (line.module, line.object_type, line.object_id) == ("customers", "customer", customer.pk)
    assert line.owner_id == org.rep1.pk and line.data["name"] == "合同 (终版).pdf"


def test_unknown_object_types_are_a_field_error(org):
    with pytest.raises(ValidationFailed) as exc:
        attachment_create(
            actor=org.admin, object_type="spaceship", object_id=1, upload=upload("a.pdf", b"")
        )
    assert "object_type" in exc.value.fields


def test_a_customer_outside_the_scope_is_not_found_and_a_read_only_role_is_refused(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(NotFoundError):  # rep3 is in the other team
        attachment_make(actor=org.rep3, record=customer)
    with pytest.raises(PermissionDeniedError):  # service reads every customer, changes none
        attachment_make(actor=org.service, record=customer)
    assert not Attachment.objects.exists()


def test_several_files_are_all_or_nothing_with_every_problem_listed(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        attachments_create(
            actor=org.rep1,
            object_type="customer",
            object_id=customer.pk,
            uploads=[
                upload("a.pdf", samples.pdf_bytes()),
                upload("b.docx", samples.exe_bytes()),
                upload("c.svg", samples.svg_bytes()),
            ],
        )
    assert len(exc.value.fields["file"]) == 2
    assert not Attachment.objects.exists()
    created = attachments_create(
        actor=org.rep1,
        object_type="customer",
        object_id=customer.pk,
        uploads=[upload("a.pdf", samples.pdf_bytes()), upload("b.png", samples.png_bytes())],
    )
    assert [a.name for a in created] == ["a.pdf", "b.png"]


def test_delete_is_for_the_uploader_or_those_who_may_attach(org):
    customer = customer_make(owner=org.rep1)
    attachment = attachment_make(actor=org.rep1, record=customer)
    # service may see the file but neither uploaded it nor may change the customer
    seen = attachment_get(user=org.service, attachment_id=attachment.pk)
    with pytest.raises(PermissionDeniedError):
        attachment_delete(actor=org.service, attachment=seen)
    # the manager may change rep1's customers
    attachment_delete(actor=org.manager, attachment=seen)
    attachment.refresh_from_db()
    assert attachment.deleted_at is not None and attachment.deleted_by == org.manager
    with pytest.raises(NotFoundError):
        attachment_get(user=org.rep1, attachment_id=attachment.pk)
    assert default_storage.exists(attachment.file.name)  # kept until the purge
    assert TimelineEntry.objects.filter(kind="file", data__action="removed").exists()


# --- selectors --------------------------------------------------------------------------------


def test_files_are_seen_only_by_those_who_see_the_record(org):
    mine = customer_make(owner=org.rep1)
    attachment = attachment_make(actor=org.rep1, record=mine)
    assert attachment_get(user=org.manager, attachment_id=attachment.pk).record == mine
    with pytest.raises(NotFoundError):
        attachment_get(user=org.rep3, attachment_id=attachment.pk)
    with pytest.raises(NotFoundError):
        attachments_for(user=org.rep3, object_type="customer", object_id=mine.pk)
    assert [
        a.pk for a in attachments_for(user=org.rep1, object_type="customer", object_id=mine.pk)
    ] == [attachment.pk]
    with pytest.raises(NotFoundError):
        attachment_get(user=org.rep1, attachment_id=10**30)


def test_a_customers_files_are_read_with_one_query_per_record_type(org, django_assert_num_queries):
    customer = customer_make(owner=org.rep1)
    for i in range(5):
        attachment_make(actor=org.rep1, record=customer, name=f"f{i}.pdf")
    with django_assert_num_queries(1):  # the customer's own files need no scope query more
        files = attachments_for_customer(user=org.rep1, customer=customer)
    assert len(files) == 5 and all(f.record == customer for f in files)


# --- purge ------------------------------------------------------------------------------------


def test_purging_a_customer_removes_its_files_rows_and_stored_files(
    org, django_capture_on_commit_callbacks
):
    customer = customer_make(owner=org.rep1)
    attachment = attachment_make(actor=org.rep1, record=customer)
    stored = attachment.file.name
    customer_delete(actor=org.manager, customer=customer)
    assert default_storage.exists(stored)  # deleting the record keeps its files
    Customer.objects.filter(pk=customer.pk).update(
        deleted_at=timezone.now() - dt.timedelta(days=31)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert customers_purge_expired() == 1
    assert not Attachment.objects.exists()
    assert not default_storage.exists(stored)


def test_attachments_purge_for_removes_only_those_records_files(
    org, django_capture_on_commit_callbacks
):
    a, b = customer_make(owner=org.rep1), customer_make(owner=org.rep1)
    keep = attachment_make(actor=org.rep1, record=a)
    gone = attachment_make(actor=org.rep1, record=b)
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_purge_for(object_type="customer", object_ids=[b.pk]) == 1
    assert list(Attachment.objects.values_list("pk", flat=True)) == [keep.pk]
    assert default_storage.exists(keep.file.name) and not default_storage.exists(gone.file.name)


def test_the_sweep_purges_files_deleted_longer_than_the_retention(
    org, django_capture_on_commit_callbacks
):
    customer = customer_make(owner=org.rep1)
    old, recent = (attachment_make(actor=org.rep1, record=customer) for _ in range(2))
    for attachment in (old, recent):
        attachment_delete(actor=org.rep1, attachment=attachment)
    Attachment.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - dt.timedelta(days=31))
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_purge_expired(now=timezone.now()) == 1
        assert attachments_purge_expired(now=timezone.now()) == 0  # idempotent
    assert list(Attachment.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not default_storage.exists(old.file.name)
    assert AuditEntry.objects.filter(action="purge", object_repr=old.name).exists()
