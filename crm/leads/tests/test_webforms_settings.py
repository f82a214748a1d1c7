"""Settings → Web forms (LEAD-1): administrators list, create, edit, deactivate and delete the
public forms, see each one's embed code, endpoint and leads, and set the spam limits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from crm.core.config import setting_get
from crm.leads.models import WebForm
from crm.leads.webforms import web_form_create, web_form_submit, web_form_token

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def form(org):
    return web_form_create(actor=org.admin, data={"name": "官网咨询", "grade": "A"})


@pytest.mark.parametrize("role", ["manager", "rep1", "service", "finance", "exec"])
def test_only_administrators_open_the_web_forms_settings(org, form, role):
    client = _client(getattr(org, role))
    for url in (reverse("webforms:list"), reverse("webforms:create")):
        assert client.get(url).status_code == 403
    for name in ("deactivate", "reactivate", "delete"):
        assert client.post(reverse(f"webforms:{name}", args=[form.pk])).status_code == 403
    assert client.post(reverse("webforms:create"), {"name": "x"}).status_code == 403
    assert client.post(reverse("webforms:limits"), {"per_ip": "1"}).status_code == 403
    assert WebForm.objects.count() == 1 and WebForm.objects.get().is_active
    assert setting_get("web_form_limits")["per_ip"] == 5


def test_anonymous_visitors_are_sent_to_the_login(form):
    response = Client().get(reverse("webforms:list"))
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_an_administrator_creates_a_form_and_gets_its_embed_code(org):
    client = _client(org.admin)
    assert client.get(reverse("webforms:create")).status_code == 200
    response = client.post(
        reverse("webforms:create"),
        {
            "name": "展会报名",
            "fields_asked": ["company", "name", "phone", "region"],
            "fields_required": ["company", "name", "region"],
            "source": "trade_show",
            "grade": "B",
            "assignment_rule": "",
            "thank_you": "谢谢，展会见！",
            "is_active": "on",
        },
    )
    created = WebForm.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("webforms:edit", args=[created.pk])
    assert created.fields == ["company", "name", "phone", "region"]
    assert created.required == ["company", "name", "region"]
    assert (created.source, created.grade, created.is_active) == ("trade_show", "B", True)
    page = client.get(response["Location"]).content.decode()
    assert f"/f/{created.key}/" in page and "&lt;iframe" in page
    assert f"/api/v1/public/forms/{created.key}/submit" in page and "curl -X POST" in page


def test_a_form_with_errors_is_shown_again_with_them(org):
    response = _client(org.admin).post(
        reverse("webforms:create"), {"name": "", "fields_required": ["email"]}
    )
    assert response.status_code == 422
    assert not WebForm.objects.exists()


def test_an_administrator_edits_deactivates_reactivates_and_deletes(org, form):
    client = _client(org.admin)
    response = client.post(
        reverse("webforms:edit", args=[form.pk]),
        {
            "name": "官网咨询（新）",
            "fields_asked": ["company", "name", "email"],
            "fields_required": ["company", "name"],
            "source": "web_form",
            "grade": "C",
            "thank_you": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    form.refresh_from_db()
    assert form.name == "官网咨询（新）" and form.grade == "C" and form.fields[-1] == "email"
    client.post(reverse("webforms:deactivate", args=[form.pk]))
    form.refresh_from_db()
    assert not form.is_active
    assert Client().get(reverse("webform_public", args=[form.key])).status_code == 404
    client.post(reverse("webforms:reactivate", args=[form.pk]))
    form.refresh_from_db()
    assert form.is_active
    client.post(reverse("webforms:delete", args=[form.pk]))
    assert not WebForm.objects.exists()


def test_the_list_counts_each_forms_leads_in_constant_queries(
    org, form, django_assert_max_num_queries
):
    from django.utils import timezone

    addresses = iter(range(1, 200))

    def submit(target, n):
        for i in range(n):
            token = web_form_token(form=target, at=timezone.now() - dt.timedelta(seconds=9))
            web_form_submit(
                form=target,
                data={"company": f"公司{i}", "name": "王强", "phone": "13912345678", "_t": token},
                ip=f"198.51.100.{next(addresses)}",
            )

    submit(form, 3)
    client = _client(org.admin)
    client.get(reverse("webforms:list"))  # warm the per-process caches
    with django_assert_max_num_queries(12) as one:
        page = client.get(reverse("webforms:list"))
    assert page.status_code == 200
    rows = page.content.decode().split('data-testid="webform-row"')[1:]
    assert len(rows) == 1 and 'data-testid="webform-leads">3<' in rows[0]
    for n in range(5):
        submit(web_form_create(actor=org.admin, data={"name": f"表单{n}"}), 1)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(reverse("webforms:list"))
    assert page.content.decode().count('data-testid="webform-row"') == 6


def test_the_limits_are_edited_on_the_page(org):
    client = _client(org.admin)
    response = client.post(
        reverse("webforms:limits"),
        {
            "per_ip": "10",
            "per_ip_minutes": "5",
            "per_form": "50",
            "per_form_minutes": "30",
            "min_fill_seconds": "2",
            "max_age_hours": "12",
        },
    )
    assert response.status_code == 302
    assert setting_get("web_form_limits") == {
        "per_ip": 10,
        "per_ip_minutes": 5,
        "per_form": 50,
        "per_form_minutes": 30,
        "min_fill_seconds": 2,
        "max_age_hours": 12,
    }
    bad = client.post(reverse("webforms:limits"), {"per_ip": "0", "min_fill_seconds": "x"})
    assert bad.status_code == 422
    assert setting_get("web_form_limits")["per_ip"] == 10


def test_the_settings_nav_links_the_web_forms(org):
    page = _client(org.admin).get(reverse("settings:index")).content.decode()
    assert reverse("webforms:list") in page


def test_the_curl_example_on_the_page_works(org):
    import html
    import json
    import re

    form = web_form_create(
        actor=org.admin,
        data={
            "name": "全部字段",
            "fields": ["title", "phone", "email", "region", "requirement", "budget"],
            "required": ["phone", "region"],
        },
    )
    page = _client(org.admin).get(reverse("webforms:edit", args=[form.pk])).content.decode()
    curl = html.unescape(
        re.search(r'data-testid="webform-curl"[^>]*>(.*?)</textarea>', page, re.S)[1]
    )
    body = json.loads(re.search(r"-d '(.*)'", curl)[1])
    response = Client().post(
        f"/api/v1/public/forms/{form.key}/submit",
        data=json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
