"""Imports through the API (issue 8 §7): template, upload, job, error file, list."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.test import Client

from crm.accounts.services import api_token_create
from crm.core.customfields_services import custom_field_save
from crm.customers.models import Customer
from crm.dataio.models import ImportJob
from crm.dataio.tests.test_imports import csv_bytes, row

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    _token, raw = api_token_create(user=user, name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def upload(client, content, name="c.csv", module="customers", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/v1/imports/{module}", data={"file": SimpleUploadedFile(name, content), **fields}
    )


def test_template_has_chinese_headers_example_dropdowns_and_custom_fields(
    org, django_capture_on_commit_callbacks
):
    custom_field_save(
        actor=org.admin,
        data={"module": "customers", "key": "employees", "label": "员工数", "type": "integer"},
    )
    response = client_of(org.rep1).get("/api/v1/imports/customers/template")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert "名称" in headers and "联系人姓名" in headers and "员工数" in headers
    assert "客户编号" not in headers and "创建时间" not in headers
    assert sheet.cell(2, headers.index("名称") + 1).value == "示例科技有限公司"
    validations = sheet.data_validations.dataValidation
    assert validations and all(v.type == "list" for v in validations)
    csv_template = client_of(org.rep1).get("/api/v1/imports/customers/template?format=csv")
    assert csv_template.status_code == 200 and csv_template.content.startswith(b"\xef\xbb\xbf")
    # The template imports as it is (its example row is a valid customer).
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_of(org.rep1), response.content, name="t.xlsx")
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert job.created == 1, job.errors
    assert client_of(org.rep1).get("/api/v1/imports/nothing/template").status_code == 404
    assert (
        client_of(org.rep1).get("/api/v1/imports/customers/template?format=pdf").status_code == 422
    )


def test_upload_runs_the_job_and_reports_errors_with_the_error_file(
    org, django_capture_on_commit_callbacks
):
    client = client_of(org.rep1)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            client,
            csv_bytes([row(), row("", "13800138009")]),
            match="name,phone",
            on_match="update",
        )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    body = client.get(f"/api/v1/imports/{job_id}").json()
    assert body["state"] == "done" and (body["created"], body["rejected"]) == (1, 1), body
    assert body["errors"] == [{"row": 3, "column": "名称", "message": body["errors"][0]["message"]}]
    assert body["match"] == ["name", "phone"] and body["on_match"] == "update_empty"
    errors = client.get(body["error_file_url"])
    assert errors.status_code == 200
    assert b"".join(errors.streaming_content).startswith(b"PK")
    listed = client.get("/api/v1/imports?module=customers").json()["items"]
    assert [j["id"] for j in listed] == [job_id]
    # Another rep neither sees it nor lists it; the team's manager does.
    assert client_of(org.rep2).get(f"/api/v1/imports/{job_id}").status_code == 404
    assert client_of(org.rep2).get("/api/v1/imports").json()["items"] == []
    assert client_of(org.manager).get(f"/api/v1/imports/{job_id}").status_code == 200
    assert client_of(org.manager2).get(f"/api/v1/imports/{job_id}").status_code == 404


def test_bad_options_and_files_are_field_errors(org):
    client = client_of(org.rep1)
    cases = [
        ({"match": "name,colour"}, "match"),
        ({"on_match": "replace"}, "on_match"),
        ({"mapping": "[1]"}, "mapping"),
        ({"mapping": '{"名称": "nope"}'}, "mapping"),
        ({"mapping": "{"}, "mapping"),
        ({"dry_run": "yes"}, "dry_run"),
    ]
    for fields, name in cases:
        response = upload(client, csv_bytes([row()]), **fields)
        assert response.status_code == 422, (fields, response.content)
        assert name in response.json()["fields"], response.json()
    for content, file_name in (
        (b"%PDF-1.4", "x.pdf"),
        (b"not a zip", "x.xlsx"),
        (b"PK\x03\x04", "x.csv"),
    ):
        response = upload(client, content, name=file_name)
        assert response.status_code == 422 and "file" in response.json()["fields"]
    assert upload(client, csv_bytes([row()]), module="nothing").status_code == 404
    assert upload(client_of(org.finance), csv_bytes([row()])).status_code == 403
    assert not Customer.objects.exists() and not ImportJob.objects.exists()


def test_too_large_file_is_413(org, settings):
    from crm.core.config import setting_set

    setting_set(key="attachment_max_mb", value=1)
    content = csv_bytes([row()] * 20000)
    assert len(content) > 1 << 20
    response = upload(client_of(org.rep1), content)
    assert response.status_code == 413


def test_a_dry_run_is_imported_for_real_through_the_api(org, django_capture_on_commit_callbacks):
    """POST /imports/{id} on a finished dry run starts the real import of the same file."""
    admin = client_of(org.admin)
    content = (
        "名称,行业,等级,电话,联系人姓名,联系人电话\n"
        "苏州云杉智造有限公司,信息技术,B,0512-66881234,钱立新,13962112345\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        started = upload(admin, content, dry_run="true")
    assert started.status_code == 202, started.content
    dry_id = started.json()["id"]
    dry = admin.get(f"/api/v1/imports/{dry_id}").json()
    assert (dry["state"], dry["dry_run"], dry["created"]) == ("done", True, 1), dry["errors"]
    assert not Customer.objects.filter(name="苏州云杉智造有限公司").exists()
    with django_capture_on_commit_callbacks(execute=True):
        real = admin.post(f"/api/v1/imports/{dry_id}")
    assert real.status_code == 202, real.content
    real_id = real.json()["id"]
    answer = admin.get(f"/api/v1/imports/{real_id}").json()
    assert answer["created"] == 1, answer["errors"]
    assert Customer.objects.filter(name="苏州云杉智造有限公司").count() == 1
    # Only a finished dry run, and only one's own.
    assert admin.post(f"/api/v1/imports/{real_id}").status_code == 409
    assert client_of(org.rep1).post(f"/api/v1/imports/{dry_id}").status_code == 404
    listed = admin.get("/api/v1/imports/customers").json()["items"]
    assert {j["id"] for j in listed} >= {dry_id, real_id}
    assert admin.get("/api/v1/imports/nowhere").status_code == 404
