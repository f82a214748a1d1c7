"""The attachments API (issue 6 §6): multipart upload, streamed download, list, delete; 413
over the limit, 422 for a refused type, 404 outside the caller's scope, 403 read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.core.config import setting_set
from crm.core.models import Attachment
from crm.tests_support import files as samples
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.files import attachment_make, upload

pytestmark = pytest.mark.django_db
URL = "/api/v1/attachments"


def post_file(api, *, object_id, name="报价单.pdf", content=None, object_type="customer"):
    return api.client.post(
        URL,
        {
            "object_type": object_type,
            "object_id": str(object_id),
            "file": upload(name, samples.pdf_bytes() if content is None else content),
        },
    )


def test_upload_answers_201_with_the_detected_type(org):
    customer = customer_make(owner=org.rep1)
    response = post_file(
        api_as(org.rep1), object_id=customer.pk, name="现场.png", content=samples.png_bytes()
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "现场.png" and body["content_type"] == "image/png"
    assert body["size"] == len(samples.png_bytes())
    assert (body["object_type"], body["object_id"]) == ("customer", customer.pk)
    assert Attachment.objects.get(pk=body["id"]).uploaded_by == org.rep1


def test_a_refused_type_is_422_naming_the_file_field(org):
    customer = customer_make(owner=org.rep1)
    response = post_file(
        api_as(org.rep1, lang="en"),
        object_id=customer.pk,
        name="报价单.docx",
        content=samples.exe_bytes(),
    )
    assert response.status_code == 422
    assert "EXE" in response.json()["fields"]["file"][0]


def test_an_unknown_object_type_is_422_naming_it(org):
    response = post_file(api_as(org.rep1), object_id=1, object_type="ufo")
    assert response.status_code == 422
    assert "object_type" in response.json()["fields"]


def test_a_file_over_the_limit_is_413_too_large(org):
    setting_set(key="attachment_max_mb", value=1)
    customer = customer_make(owner=org.rep1)
    response = post_file(
        api_as(org.rep1, lang="en"),
        object_id=customer.pk,
        name="big.txt",
        content=b"a" * (1024 * 1024 + 10),
    )
    assert response.status_code == 413
    body = response.json()
    assert (
        body["error"] == "too_large" and "big.txt" in body["message"] and "1 MB" in body["message"]
    )
    assert not Attachment.objects.exists()


def test_a_body_far_over_the_limit_is_413_before_it_is_read(org, settings):
    # given a 1 MB limit, a body declared larger than the limit and Django's form allowance
    setting_set(key="attachment_max_mb", value=1)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    customer = customer_make(owner=org.rep1)
    response = post_file(
        api_as(org.rep1, lang="en"),
        object_id=customer.pk,
        name="big.txt",
        content=b"a" * (1024 * 1024 + 4096),
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_a_twenty_megabyte_upload_passes_with_the_default_limit(org):
    customer = customer_make(owner=org.rep1)
    content = b"x" * (20 * 1024 * 1024 - 100)
    response = post_file(
        api_as(org.rep1), object_id=customer.pk, name="大文件.txt", content=content
    )
    assert response.status_code == 201, response.content[:200]
    assert response.json()["size"] == len(content)


def test_upload_outside_the_scope_is_404_and_read_only_is_403(org):
    customer = customer_make(owner=org.rep1)
    assert post_file(api_as(org.rep3), object_id=customer.pk).status_code == 404
    assert post_file(api_as(org.service), object_id=customer.pk).status_code == 403
    assert not Attachment.objects.exists()


def test_download_streams_the_file_with_its_name_to_those_who_see_the_record(org):
    customer = customer_make(owner=org.rep1)
    attachment = attachment_make(actor=org.rep1, record=customer, name="合同 终版.pdf")
    response = api_as(org.manager).get(f"{URL}/{attachment.pk}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == samples.pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''%E5%90%88%E5%90%8C%20%E7%BB%88%E7%89%88.pdf" in disposition
    # rep3 (other team) cannot download rep1's customer's file
    assert api_as(org.rep3).get(f"{URL}/{attachment.pk}").status_code == 404
    assert api_as(org.rep1).get(f"{URL}/999999").status_code == 404


def test_list_and_delete(org):
    customer = customer_make(owner=org.rep1)
    first = attachment_make(actor=org.rep1, record=customer, name="a.pdf")
    second = attachment_make(actor=org.rep1, record=customer, name="b.pdf")
    api = api_as(org.rep1)
    params = {"object_type": "customer", "object_id": customer.pk}
    body = api.get(URL, params).json()
    assert [i["id"] for i in body["items"]] == [second.pk, first.pk]
    assert body["has_next"] is False
    assert api_as(org.rep3).get(URL, params).status_code == 404
    assert api_as(org.service).delete(f"{URL}/{first.pk}").status_code == 403
    assert api.delete(f"{URL}/{first.pk}").status_code == 204
    assert [i["id"] for i in api.get(URL, params).json()["items"]] == [second.pk]
    assert api.delete(f"{URL}/{first.pk}").status_code == 404


def test_the_list_query_count_does_not_grow_with_files(org, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    customer = customer_make(owner=org.rep1)
    api = api_as(org.rep1)
    params = {"object_type": "customer", "object_id": customer.pk}
    counts = []
    for total in (1, 20):
        while Attachment.objects.count() < total:
            attachment_make(actor=org.rep1, record=customer)
        api.get(URL, params)
        with CaptureQueriesContext(connection) as ctx:
            assert len(api.get(URL, params).json()["items"]) == total
        counts.append(len(ctx))
    assert counts[0] == counts[1]


def test_session_uploads_need_the_csrf_token(org):
    customer = customer_make(owner=org.rep1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.rep1)
    response = client.post(
        URL,
        {
            "object_type": "customer",
            "object_id": str(customer.pk),
            "file": upload("a.pdf", samples.pdf_bytes()),
        },
    )
    assert response.status_code == 403
