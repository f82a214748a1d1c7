"""Web forms capture leads from the company's site (LEAD-1; issue 7 §2): the public page, the
public JSON endpoint, and every spam rule. A refused submission never creates a lead."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.core.config import setting_set
from crm.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from crm.leads.models import Lead, WebForm
from crm.leads.webforms import (
    SubmissionLimited,
    SubmissionRefused,
    web_form_create,
    web_form_delete,
    web_form_submit,
    web_form_token,
    web_form_update,
)

pytestmark = pytest.mark.django_db

GOOD = {"company": "杭州云帆科技有限公司", "name": "王强", "phone": "13912345678"}


@pytest.fixture
def form(org):
    return web_form_create(
        actor=org.admin,
        data={
            "name": "官网咨询",
            "fields": ["company", "name", "phone", "email", "requirement"],
            "required": ["phone"],
            "source": "web_form",
            "grade": "A",
            "thank_you": "感谢您的咨询，我们会在一个工作日内联系您。",
        },
    )


def _token(form: WebForm, seconds_ago: float = 10) -> str:
    return web_form_token(form=form, at=timezone.now() - dt.timedelta(seconds=seconds_ago))


def _page_url(form: WebForm) -> str:
    return reverse("webform_public", args=[form.key])


def _api_url(form_or_key) -> str:
    key = getattr(form_or_key, "key", form_or_key)
    return f"/api/v1/public/forms/{key}/submit"


def _submit(form: WebForm, **fields) -> Lead:
    data = {**GOOD, "_t": _token(form), **fields}
    return web_form_submit(form=form, data=data, ip="203.0.113.9")


# --- administration ----------------------------------------------------------------------------


def test_a_new_form_gets_a_random_unguessable_key_and_always_asks_company_and_name(org):
    a = web_form_create(actor=org.admin, data={"name": "甲", "fields": ["phone"]})
    b = web_form_create(actor=org.admin, data={"name": "乙"})
    assert a.key != b.key and len(a.key) >= 20
    assert re.fullmatch(r"[A-Za-z0-9_-]+", a.key)
    assert a.fields == ["company", "name", "phone"]
    assert {"company", "name"} <= set(a.required)
    assert b.source == "web_form"  # 官网表单 by default


def test_only_administrators_manage_web_forms(org, form):
    for who in (org.manager, org.rep1, org.exec):
        with pytest.raises(PermissionDeniedError):
            web_form_create(actor=who, data={"name": "x"})
        with pytest.raises(PermissionDeniedError):
            web_form_update(actor=who, form=form, data={"is_active": False})
        with pytest.raises(PermissionDeniedError):
            web_form_delete(actor=who, form=form)


def test_a_form_refuses_unknown_fields_sources_grades_and_required_fields_it_does_not_ask(org):
    with pytest.raises(ValidationFailed) as exc:
        web_form_create(
            actor=org.admin,
            data={
                "name": "",
                "fields": ["owner"],
                "source": "nonsense",
                "grade": "Z",
                "assignment_rule": "99999",
            },
        )
    assert set(exc.value.fields) == {"name", "fields", "source", "grade", "assignment_rule"}
    with pytest.raises(ValidationFailed) as exc:
        web_form_create(actor=org.admin, data={"name": "x", "fields": [], "required": ["email"]})
    assert "required" in exc.value.fields


def test_changes_are_audited(org, form):
    from crm.core.models import AuditEntry

    web_form_update(actor=org.admin, form=form, data={"grade": "B"})
    entry = AuditEntry.objects.filter(object_id=form.pk, action="update").latest("id")
    assert {"field": "grade", "before": "A", "after": "B"} in entry.changes


def test_deleting_a_form_keeps_its_leads(org, form):
    lead = _submit(form)
    web_form_delete(actor=org.admin, form=form)
    lead.refresh_from_db()
    assert lead.web_form_id is None


# --- submissions ---------------------------------------------------------------------------------


def test_a_submission_creates_a_lead_with_the_forms_source_and_grade(form):
    lead = _submit(form, email="wang@example.com", requirement="想了解报价")
    assert lead.company == GOOD["company"] and lead.name == "王强"
    assert lead.phone == "13912345678" and lead.email == "wang@example.com"
    assert lead.source == "web_form" and lead.grade == "A"
    assert lead.web_form_id == form.pk and lead.created_by is None and lead.owner_id is None
    form.refresh_from_db()
    assert form.submissions == 1 and form.last_submitted_at is not None


def test_only_the_forms_fields_are_read_and_checked(form):
    # budget and region are not on this form: whatever is sent for them is ignored
    lead = _submit(form, budget="not a number", region="zzz", owner_id=1, grade="C")
    assert lead.budget is None and lead.region == "" and lead.grade == "A"


def test_field_errors_are_422_with_the_fields_and_save_nothing(form):
    with pytest.raises(ValidationFailed) as exc:
        _submit(form, phone="", email="not-an-email", company="")
    assert set(exc.value.fields) == {"phone", "email", "company"}
    assert not Lead.objects.exists()


def test_a_duplicate_submission_is_saved_and_flagged_never_refused(form):
    first = _submit(form)
    second = _submit(form)
    assert second.pk != first.pk
    assert "官网咨询" in second.notes and second.notes  # says it may duplicate, in Chinese
    assert not first.notes


def test_an_inactive_form_takes_nothing(org, form):
    web_form_update(actor=org.admin, form=form, data={"is_active": False})
    with pytest.raises(NotFoundError):
        _submit(form)
    assert not Lead.objects.exists()


# --- spam rules ------------------------------------------------------------------------------


def test_the_honeypot_refuses(form):
    with pytest.raises(SubmissionRefused):
        _submit(form, website="http://spam.example")
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "token",
    [
        "",
        "forged",
        "eyJrIjoieCIsInQiOjB9:forgedsignature",
    ],
)
def test_a_missing_or_forged_token_refuses_on_the_page(form, token):
    with pytest.raises(SubmissionRefused):
        web_form_submit(form=form, data={**GOOD, "_t": token}, ip="203.0.113.9")
    assert not Lead.objects.exists()


def test_a_token_of_another_form_refuses(org, form):
    other = web_form_create(actor=org.admin, data={"name": "另一个"})
    with pytest.raises(SubmissionRefused):
        web_form_submit(form=form, data={**GOOD, "_t": _token(other)}, ip="203.0.113.9")


def test_too_fast_refuses_and_the_minimum_fill_time_is_a_setting(form):
    with pytest.raises(SubmissionRefused):
        _submit(form, _t=_token(form, seconds_ago=1))
    setting_set(key="web_form_limits", value={"min_fill_seconds": 0})
    assert _submit(form, _t=_token(form, seconds_ago=1))


def test_an_expired_token_refuses(form):
    with pytest.raises(SubmissionRefused):
        _submit(form, _t=_token(form, seconds_ago=24 * 3600 + 5))
    assert _submit(form, _t=_token(form, seconds_ago=24 * 3600 - 5))


def test_five_submissions_per_address_in_ten_minutes(form):
    now = timezone.now()
    data = {**GOOD, "_t": _token(form, seconds_ago=60)}
    for _ in range(5):
        web_form_submit(form=form, data=data, ip="198.51.100.7", at=now)
    with pytest.raises(SubmissionLimited):
        web_form_submit(form=form, data=data, ip="198.51.100.7", at=now)
    assert Lead.objects.count() == 5
    # another address is not affected; the same one is let in again in the next window
    web_form_submit(form=form, data=data, ip="198.51.100.8", at=now)
    later = now + dt.timedelta(minutes=10)
    token = web_form_token(form=form, at=later - dt.timedelta(seconds=30))
    web_form_submit(form=form, data={**GOOD, "_t": token}, ip="198.51.100.7", at=later)


def test_two_hundred_submissions_per_form_in_an_hour_changed_in_settings(form):
    setting_set(key="web_form_limits", value={"per_form": 3})
    now = timezone.now()
    data = {**GOOD, "_t": _token(form, seconds_ago=60)}
    for n in range(3):
        web_form_submit(form=form, data=data, ip=f"198.51.100.{n + 1}", at=now)
    with pytest.raises(SubmissionLimited):
        web_form_submit(form=form, data=data, ip="198.51.100.99", at=now)
    assert Lead.objects.count() == 3


def test_the_default_limits(form):
    from crm.core.config import setting_get

    assert setting_get("web_form_limits") == {
        "per_ip": 5,
        "per_ip_minutes": 10,
        "per_form": 200,
        "per_form_minutes": 60,
        "min_fill_seconds": 3,
        "max_age_hours": 24,
    }


def test_an_address_over_its_limit_does_not_use_up_the_forms(form):
    setting_set(key="web_form_limits", value={"per_ip": 1, "per_form": 2})
    now = timezone.now()
    data = {**GOOD, "_t": _token(form, seconds_ago=60)}
    web_form_submit(form=form, data=data, ip="198.51.100.1", at=now)
    for _ in range(10):
        with pytest.raises(SubmissionLimited):
            web_form_submit(form=form, data=data, ip="198.51.100.1", at=now)
    web_form_submit(form=form, data=data, ip="198.51.100.2", at=now)


def test_the_limits_cleaner_refuses_nonsense(org):
    from crm.core.config import settings_update

    with pytest.raises(ValidationFailed) as exc:
        settings_update(
            actor=org.admin, key="web_form_limits", value={"per_ip": 0, "min_fill_seconds": "x"}
        )
    assert set(exc.value.fields) == {"web_form_limits.per_ip", "web_form_limits.min_fill_seconds"}
    with pytest.raises(ValidationFailed):
        settings_update(actor=org.admin, key="web_form_limits", value={"nonsense": 1})
    saved = settings_update(actor=org.admin, key="web_form_limits", value={"per_ip": "8"})
    assert saved["per_ip"] == 8 and saved["per_form"] == 200


# --- the public page ---------------------------------------------------------------------------


def test_the_page_needs_no_login_and_sets_no_cookie(form):
    client = Client()
    response = client.get(_page_url(form))
    assert response.status_code == 200
    body = response.content.decode()
    assert "官网咨询" in body and 'name="_t"' in body and 'name="website"' in body
    for name in ("company", "name", "phone", "email", "requirement"):
        assert f'name="{name}"' in body
    assert 'name="budget"' not in body
    assert not response.cookies  # no session, no CSRF cookie
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_only_the_page_may_be_framed_under_a_strict_policy(form, client):
    page = Client().get(_page_url(form))
    assert "X-Frame-Options" not in page
    csp = page["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp  # no script at all (default-src 'none')
    assert "<script" not in page.content.decode()
    assert Client().get("/account/login/")["X-Frame-Options"] == "DENY"


def test_the_page_is_chinese_first(form):
    body = Client().get(_page_url(form)).content.decode()
    assert '<html lang="zh-hans">' in body


def test_the_page_creates_a_lead_without_csrf_and_thanks_the_visitor(form):
    client = Client(enforce_csrf_checks=True)
    response = client.post(_page_url(form), {**GOOD, "_t": _token(form), "website": ""})
    assert response.status_code == 200
    assert "感谢您的咨询" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.source, lead.grade, lead.web_form_id) == ("web_form", "A", form.pk)
    assert not response.cookies


def test_the_page_flow_get_then_post(form):
    client = Client()
    with_token = client.get(_page_url(form)).content.decode()
    token = re.search(r'name="_t" value="([^"]+)"', with_token).group(1)
    from freezegun import freeze_time

    with freeze_time(timezone.now() + dt.timedelta(seconds=20)):
        response = client.post(_page_url(form), {**GOOD, "_t": token, "website": ""})
    assert response.status_code == 200 and Lead.objects.count() == 1


def test_the_page_shows_field_errors_and_keeps_what_was_typed(form):
    response = Client().post(
        _page_url(form), {**GOOD, "phone": "12", "_t": _token(form), "website": ""}
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "杭州云帆科技有限公司" in body and 'class="wf-msg"' in body
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [{"website": "x"}, {"_t": ""}, {"_t": "forged"}, {"too_fast": True}, {"expired": True}],
)
def test_the_page_refuses_spam_generically(form, extra):
    data = {**GOOD, "_t": _token(form)}
    if extra.pop("too_fast", False):
        data["_t"] = _token(form, seconds_ago=0)
    if extra.pop("expired", False):
        data["_t"] = _token(form, seconds_ago=3 * 24 * 3600)
    data.update(extra)
    response = Client().post(_page_url(form), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "无法受理" in body or "could not be accepted" in body
    for word in ("honeypot", "website", "token", "fast", "expired", "蜜罐", "太快", "过期"):
        assert word not in body.split('data-testid="webform-refused"')[1].lower()
    assert not Lead.objects.exists()


def test_the_page_refuses_a_body_over_16_kb(form):
    response = Client().post(
        _page_url(form), {**GOOD, "requirement": "长" * 6000, "_t": _token(form)}
    )
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_the_page_answers_429_over_the_address_limit(form):
    client = Client()
    data = {**GOOD, "_t": _token(form)}
    answers = [client.post(_page_url(form), data) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1]["Retry-After"] == "600"


def test_unknown_and_inactive_keys_are_404(org, form):
    assert Client().get(reverse("webform_public", args=["x" * 22])).status_code == 404
    assert Client().get(reverse("webform_public", args=["<script>"])).status_code == 404
    web_form_update(actor=org.admin, form=form, data={"is_active": False})
    assert Client().get(_page_url(form)).status_code == 404
    assert Client().post(_page_url(form), {**GOOD, "_t": _token(form)}).status_code == 404
    assert not Lead.objects.exists()


# --- the public JSON endpoint ------------------------------------------------------------------


def _post_json(url: str, body, **kwargs):
    return Client(enforce_csrf_checks=True).post(
        url, data=json.dumps(body), content_type="application/json", **kwargs
    )


def test_the_endpoint_creates_a_lead_from_json_without_login_or_csrf(form):
    response = _post_json(_api_url(form), {**GOOD, "email": "wang@example.com"})
    assert response.status_code == 201
    assert response.json() == {"ok": True, "message": form.thank_you}
    lead = Lead.objects.get()
    assert (lead.source, lead.grade, lead.email) == ("web_form", "A", "wang@example.com")
    assert not response.cookies


def test_the_endpoint_takes_form_encoded_bodies(form):
    response = Client().post(_api_url(form), GOOD)
    assert response.status_code == 201 and Lead.objects.count() == 1


def test_the_endpoint_answers_field_errors_with_422(form):
    response = _post_json(_api_url(form), {"company": "x", "name": "", "phone": "12"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_failed" and {"name", "phone"} <= set(body["fields"])


def test_the_endpoint_answers_unknown_and_inactive_keys_with_404(org, form):
    assert _post_json(_api_url("y" * 22), GOOD).status_code == 404
    web_form_update(actor=org.admin, form=form, data={"is_active": False})
    assert _post_json(_api_url(form), GOOD).status_code == 404
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "website": "http://spam.example"},
        {**GOOD, "_t": "forged"},
        {**GOOD, "_t": "too-fast"},
        {**GOOD, "_t": "expired"},
        [GOOD],
        "just text",
    ],
)
def test_the_endpoint_refuses_spam_with_a_bare_400(form, body):
    if isinstance(body, dict) and body.get("_t") == "too-fast":
        body["_t"] = _token(form, seconds_ago=0)
    if isinstance(body, dict) and body.get("_t") == "expired":
        body["_t"] = _token(form, seconds_ago=3 * 24 * 3600)
    response = _post_json(_api_url(form), body)
    assert response.status_code == 400
    assert response.json() == {
        "error": "refused",
        "message": "无法受理此次提交。",
    } or set(response.json()) == {"error", "message"}
    assert not Lead.objects.exists()


def test_the_endpoint_refuses_a_body_over_16_kb(form):
    response = _post_json(_api_url(form), {**GOOD, "requirement": "x" * 17000})
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_the_endpoint_answers_429_over_the_limits(form):
    answers = [_post_json(_api_url(form), GOOD) for _ in range(6)]
    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert answers[-1]["Retry-After"] == "600"
    assert answers[-1].json()["error"] == "rate_limited"
    assert Lead.objects.count() == 5


def test_the_endpoint_never_exposes_other_data(org, form):
    from crm.tests_support.factories import customer_make

    customer_make(owner=org.rep1, name="机密客户有限公司")
    first = _post_json(_api_url(form), GOOD)
    assert set(first.json()) == {"ok", "message"}
    assert "机密" not in first.content.decode() and "XS" not in first.content.decode()
    # no other route of the API opens without a login
    assert Client().get("/api/v1/customers").status_code == 401
    assert Client().get(f"/api/v1/public/forms/{form.key}/submit").status_code == 405


def test_the_lead_page_shows_a_duplicate_submission_flagged(org, form):
    _submit(form)
    second = _submit(form)
    client = Client()
    client.force_login(org.admin)
    page = client.get(reverse("leads:detail", args=[second.pk])).content.decode()
    assert "官网咨询" in page and second.notes.splitlines()[0][:20] in page


def test_the_forms_assignment_rule_assigns_its_leads(org):
    from crm.leads.models import AssignmentRule

    rule = AssignmentRule.objects.create(name="官网给李明", target="user", user=org.rep1)
    form = web_form_create(actor=org.admin, data={"name": "展会", "assignment_rule": rule.pk})
    lead = _submit(form)
    lead.refresh_from_db()
    assert lead.owner_id == org.rep1.pk and lead.first_contact_due_at is not None


def test_a_session_that_must_change_its_password_does_not_stop_the_public_form(org, form):
    org.rep1.must_change_password = True
    org.rep1.save(update_fields=["must_change_password"])
    client = Client()
    client.force_login(org.rep1)
    assert client.get(_page_url(form)).status_code == 200
    response = client.post(_api_url(form), data=json.dumps(GOOD), content_type="application/json")
    assert response.status_code == 201
    assert client.get("/api/v1/customers").status_code == 403  # everything else still waits
