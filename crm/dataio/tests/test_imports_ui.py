"""The import pages (issue 8 §2): upload → mapping → dry run → import → progress → history."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.customers.models import Customer
from crm.dataio.models import ImportJob, ImportMapping

pytestmark = pytest.mark.django_db

HEADER = ["名称", "等级", "电话", "联系人姓名", "联系人电话", "行业"]


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def csv_file(rows, header=HEADER, name="customers.csv") -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode("utf-8-sig"))


GOOD = [
    ["杭州界面甲科技有限公司", "A", "13800138001", "张三", "13900139001", "IT"],
    ["杭州界面乙科技有限公司", "B", "13800138002", "李四", "13900139002", "IT"],
]
BAD = ["杭州界面丙科技有限公司", "Z", "13800138003", "王五", "13900139003", "IT"]


def upload(client, rows, **extra):
    data = {"file": csv_file(rows), "match": ["number", "name"], "on_match": "skip", **extra}
    return client.post(reverse("imports:upload", args=["customers"]), data)


def walk_to_dry_run(client, rows, capture):
    response = upload(client, rows)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.latest("id")
    assert response["Location"] == reverse("imports:mapping", args=[job.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    data = {
        f"col_{i}": key
        for i, key in enumerate(
            page.context["rows"] and [r["selected"] for r in page.context["rows"]]
        )
    }
    with capture(execute=True):
        response = client.post(reverse("imports:mapping", args=[job.pk]), data)
    assert response.status_code == 302
    job.refresh_from_db()
    return job


def test_upload_mapping_dry_run_then_import(org, django_capture_on_commit_callbacks):
    client = web(org.rep1)
    dry = walk_to_dry_run(client, [*GOOD, BAD], django_capture_on_commit_callbacks)
    assert dry.dry_run and dry.state == "done"
    assert (dry.created, dry.rejected) == (2, 1), dry.errors
    assert not Customer.objects.filter(name__startswith="杭州界面").exists()
    page = client.get(reverse("imports:detail", args=[dry.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and 'data-testid="import-now"' in text
    assert page.context["errors"][0]["row"] == 4 and page.context["errors"][0]["column"] == "等级"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("imports:run", args=[dry.pk]))
    real = ImportJob.objects.latest("id")
    assert response["Location"] == reverse("imports:detail", args=[real.pk])
    real.refresh_from_db()
    assert not real.dry_run and real.state == "done" and (real.created, real.rejected) == (2, 1)
    assert Customer.objects.filter(name__startswith="杭州界面").count() == 2
    errors = client.get(reverse("imports:errors", args=[real.pk]))
    assert errors.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(errors.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "杭州界面丙科技有限公司" and "等级" in rows[1][-1]
    history = client.get(reverse("imports:history"))
    assert [job.pk for job, _label in history.context["rows"]] == [real.pk]


def test_progress_partial_polls_while_running(org):
    client = web(org.rep1)
    upload(client, GOOD)
    job = ImportJob.objects.latest("id")
    ImportJob.objects.filter(pk=job.pk).update(state="running", total=10, done=4)
    page = client.get(reverse("imports:detail", args=[job.pk]), headers={"HX-Request": "true"})
    text = page.content.decode()
    assert 'hx-trigger="every 1s"' in text and 'value="40"' in text
    assert "<html" not in text


def test_upload_field_errors(org, settings):
    client = web(org.rep1)
    url = reverse("imports:upload", args=["customers"])
    response = client.post(url, {"match": ["name"], "on_match": "skip"})
    assert response.status_code == 422 and "file" in response.context["errors"]
    response = client.post(
        url, {"file": SimpleUploadedFile("a.txt", b"x"), "match": ["name"], "on_match": "skip"}
    )
    assert response.context["errors"]["file"] == [_("Upload an xlsx or csv file.")]
    response = client.post(
        url, {"file": SimpleUploadedFile("a.xlsx", b"not a zip"), "match": ["name"]}
    )
    assert response.status_code == 422 and response.context["errors"]["file"]
    settings.CRM_IMPORT_MAX_MB = 0
    response = upload(client, GOOD)
    too_large = _("The file is too large (at most %(size)s).").split("%(size)s")[0]
    assert response.status_code == 422
    assert response.context["errors"]["file"][0].startswith(too_large)
    settings.CRM_IMPORT_MAX_MB = 50
    response = upload(client, GOOD, on_match="never")
    assert response.status_code == 422 and response.context["errors"]["on_match"]
    response = upload(client, GOOD, match=["colour"])
    assert response.status_code == 422 and response.context["errors"]["match"]
    assert not ImportJob.objects.exists()


def test_bad_mapping_and_saved_mapping(org, django_capture_on_commit_callbacks):
    client = web(org.rep1)
    upload(client, GOOD)
    job = ImportJob.objects.latest("id")
    url = reverse("imports:mapping", args=[job.pk])
    response = client.post(url, {"col_0": "no_such_column"})
    assert response.status_code == 422 and response.context["errors"]["mapping"]
    response = client.post(url, {"col_0": "name", "col_1": "name"})
    same = _("“%(a)s” and “%(b)s” are mapped to the same column.") % {"a": "名称", "b": "等级"}
    assert response.status_code == 422 and response.context["errors"]["mapping"] == [same]
    response = client.post(url, {})
    assert response.status_code == 422
    data = {"col_0": "name", "col_1": "grade", "col_2": "phone", "col_3": "contact.name"}
    data["col_4"] = "contact.phone"
    data["col_5"] = "industry"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**data, "save_as": "展会名单"})
    assert response.status_code == 302
    saved = ImportMapping.objects.get(created_by=org.rep1, name="展会名单")
    assert saved.mapping["名称"] == "name"
    page = client.get(reverse("imports:upload", args=["customers"]))
    assert "展会名单" in page.content.decode()
    response = upload(client, GOOD, saved_mapping=str(saved.pk))
    assert response.status_code == 302
    assert ImportJob.objects.latest("id").mapping["名称"] == "name"
    response = upload(client, GOOD, saved_mapping="999999")
    assert response.status_code == 422 and response.context["errors"]["saved_mapping"]


def test_another_users_job_is_not_found_a_manager_sees_the_teams(
    org, django_capture_on_commit_callbacks
):
    rep = web(org.rep1)
    dry = walk_to_dry_run(rep, GOOD, django_capture_on_commit_callbacks)
    for user in (org.rep2, org.rep3):
        client = web(user)
        assert client.get(reverse("imports:detail", args=[dry.pk])).status_code == 404
        assert client.post(reverse("imports:run", args=[dry.pk])).status_code == 404
        assert client.get(reverse("imports:mapping", args=[dry.pk])).status_code == 404
    manager = web(org.manager)
    assert manager.get(reverse("imports:detail", args=[dry.pk])).status_code == 200
    # Only the importer runs their own dry run.
    assert manager.post(reverse("imports:run", args=[dry.pk])).status_code == 404


def test_template_downloads(org):
    client = web(org.rep1)
    url = reverse("imports:template", args=["customers"])
    response = client.get(url + "?format=csv")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("名称")
    response = client.get(url + "?format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert sheet.cell(1, 1).value == "名称"


def test_list_pages_offer_the_import_menu(org):
    client = web(org.rep1)
    text = client.get(reverse("customers:list")).content.decode()
    assert 'data-testid="import-menu"' in text
    assert reverse("imports:upload", args=["customers"]) in text


def test_without_create_permission_403(org):
    client = web(org.finance)
    assert client.get(reverse("imports:upload", args=["customers"])).status_code == 403
    assert 'data-testid="import-menu"' not in client.get(reverse("customers:list")).content.decode()


def test_history_query_count_is_constant(org, django_assert_max_num_queries):
    for i in range(12):
        ImportJob.objects.create(
            module="customers",
            file_name=f"f{i}.csv",
            created_by=org.rep1 if i % 2 else org.rep2,
            state="done",
            created=i,
        )
    client = web(org.manager)
    client.get(reverse("imports:history"))  # warm the configuration
    with django_assert_max_num_queries(12):
        response = client.get(reverse("imports:history"))
    assert len(response.context["rows"]) == 12


@pytest.mark.parametrize(
    ("module", "list_url"),
    [
        ("leads", "leads:list"),
        ("opportunities", "sales:list"),
        ("followups", "activities:mine"),
    ],
)
def test_every_module_offers_its_import(org, module, list_url):
    client = web(org.manager)
    assert (
        reverse("imports:upload", args=[module]) in client.get(reverse(list_url)).content.decode()
    )
    page = client.get(reverse("imports:upload", args=[module]))
    assert page.status_code == 200
    text = page.content.decode()
    if module == "followups":
        assert 'data-testid="create-only"' in text and 'name="match"' not in text
    else:
        assert 'name="match"' in text
    template = client.get(reverse("imports:template", args=[module]) + "?format=csv")
    assert template.status_code == 200 and template.content.startswith(b"\xef\xbb\xbf")


def test_followups_upload_needs_no_match_keys(org, django_capture_on_commit_callbacks):
    from crm.tests_support.factories import customer_make

    customer = customer_make(owner=org.rep1, name="界面跟进科技有限公司")
    client = web(org.rep1)
    out = io.StringIO()
    csv.writer(out).writerows(
        [["客户编号", "跟进方式", "沟通内容"], [customer.number, "电话", "界面导入的跟进"]]
    )
    upload = SimpleUploadedFile("f.csv", out.getvalue().encode())
    response = client.post(reverse("imports:upload", args=["followups"]), {"file": upload})
    assert response.status_code == 302, response.context and response.context["errors"]
    job = ImportJob.objects.latest("id")
    page = client.get(response["Location"])
    data = {f"col_{r['index']}": r["selected"] for r in page.context["rows"]}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response["Location"], data)
    job.refresh_from_db()
    assert (job.state, job.created, job.rejected) == ("done", 1, 0), job.errors
