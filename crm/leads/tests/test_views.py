"""The leads web UI (LEAD-1..3): list with filters and SLA badges, new, detail with the
follow-up form, edit, delete and the recycle bin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.leads.models import Lead
from crm.tests_support.factories import customer_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db

LIST = reverse("leads:list")
NEW = reverse("leads:new")
BIN = reverse("leads:bin")


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def logged_in(client, user):
    client.force_login(user)
    return client


def test_nav_has_leads_after_customers(client, org):
    html = logged_in(client, org.rep1).get("/").content.decode()
    assert html.index('href="/customers/"') < html.index('href="/leads/"')
    html = logged_in(client, org.service).get("/").content.decode()
    assert 'href="/leads/"' not in html


def test_list_filters_badges_and_unassigned(client, org):
    a = lead_make(owner=org.rep1, grade="A", company="广州甲公司有限公司")
    free = lead_make(grade="C", company="广州乙公司有限公司")
    Lead.objects.filter(pk=a.pk).update(sla_state="breached")
    c = logged_in(client, org.manager)
    html = c.get(LIST).content.decode()
    assert html.count('data-testid="lead-row"') == 2
    assert 'data-sla="breached"' in html
    assert 'data-testid="unassigned"' in html
    assert 'name="ids"' in html  # selection boxes for the bulk actions
    html = c.get(LIST, {"owner_id": "none"}).content.decode()
    assert free.company in html and a.company not in html
    html = c.get(LIST, {"sla_state": "breached"}).content.decode()
    assert a.company in html and free.company not in html
    html = c.get(LIST, {"q": "乙公司"}).content.decode()
    assert free.company in html and a.company not in html
    html = c.get(LIST, {"sla_state": "nonsense"}).content.decode()  # ignored in the UI
    assert html.count('data-testid="lead-row"') == 2
    # A rep sees only their own, and no selection boxes.
    html = logged_in(client, org.rep1).get(LIST).content.decode()
    assert a.company in html and free.company not in html
    assert 'name="ids"' not in html
    r = logged_in(client, org.rep1).get(LIST, {"q": "乙"}, HTTP_HX_REQUEST="true")
    assert "<html" not in r.content.decode() and 'id="lead-results"' in r.content.decode()


def test_list_query_count_does_not_grow_with_rows(client, org):
    c = logged_in(client, org.manager)
    lead_make(owner=org.rep1)
    c.get(LIST)
    with CaptureQueriesContext(connection) as one:
        assert c.get(LIST).status_code == 200
    for i in range(9):
        lead_make(owner=org.rep2 if i % 2 else org.rep1)
        lead_make()
    with CaptureQueriesContext(connection) as many:
        response = c.get(LIST)
    assert response.content.decode().count('data-testid="lead-row"') == 19
    assert len(many) == len(one)


def test_new_lead_with_grade_hints(client, org):
    c = logged_in(client, org.rep1)
    html = c.get(NEW).content.decode()
    assert 'data-testid="grade-hints"' in html and "A clear need, a budget" in html
    response = c.post(
        NEW,
        {
            "company": "重庆山城机械有限公司",
            "name": "黄伟",
            "phone": "13677778888",
            "grade": "A",
            "source": "referral",
            "region": "southwest",
        },
    )
    lead = Lead.objects.get(company="重庆山城机械有限公司")
    assert response.status_code == 302 and response["Location"] == reverse(
        "leads:detail", args=[lead.pk]
    )
    assert lead.owner == org.rep1 and lead.first_contact_due_at is not None


def test_new_lead_errors_and_duplicate_warning(client, org):
    c = logged_in(client, org.rep1)
    response = c.post(NEW, {"company": "", "name": "", "grade": "B"})
    assert response.status_code == 422
    assert 'data-testid="form-errors"' in response.content.decode()
    customer = customer_make(owner=org.rep1, name="天津海河物流有限公司")
    data = {"company": "天津海河物流有限公司", "name": "孙", "phone": "13611112222", "grade": "B"}
    response = c.post(NEW, data)
    html = response.content.decode()
    assert response.status_code == 409 and 'data-testid="duplicate-warning"' in html
    assert f'href="/customers/{customer.pk}/"' in html
    response = c.post(NEW, {**data, "confirm_duplicates": "1"})
    assert response.status_code == 302


def test_detail_log_followup_marks_contacted(client, org):
    lead = lead_make(owner=org.rep1, grade="A")
    c = logged_in(client, org.rep1)
    html = c.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert lead.number in html and 'data-testid="followup-form"' in html
    assert 'data-sla="on_time"' in html
    response = c.post(
        reverse("leads:followup", args=[lead.pk]),
        {"method": "phone", "summary": "", "author": org.rep1.pk},
    )
    assert response.status_code == 422
    response = c.post(
        reverse("leads:followup", args=[lead.pk]),
        {
            "method": "phone",
            "summary": "电话确认需求",
            "author": org.rep1.pk,
            "next_at": (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "next_method": "visit",
        },
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "contacted" and lead.sla_state == "met"
    html = c.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "电话确认需求" in html and 'data-sla="met"' in html
    # The follow-up's own pages name the lead.
    followup = FollowUp.objects.get(lead=lead, next_at__isnull=False)
    html = c.get(reverse("activities:detail", args=[followup.pk])).content.decode()
    assert reverse("leads:detail", args=[lead.pk]) in html
    assert c.get(reverse("activities:edit", args=[followup.pk])).status_code == 200
    assert c.get(reverse("activities:mine")).status_code == 200
    assert c.get(reverse("activities:mine") + "?tab=recent").status_code == 200
    response = c.get(reverse("activities:create") + f"?plan={followup.pk}")
    assert response.status_code == 302 and f"plan={followup.pk}" in response["Location"]
    html = c.get(response["Location"]).content.decode()
    assert f'name="plan_id" value="{followup.pk}"' in html


def test_edit_versioned(client, org):
    lead = lead_make(owner=org.rep1, grade="B")
    c = logged_in(client, org.rep1)
    page = c.get(reverse("leads:edit", args=[lead.pk])).content.decode()
    assert 'name="original"' in page
    import re

    original = re.search(r'name="original" value="([^"]+)"', page).group(1)
    form = {
        "company": lead.company,
        "name": lead.name,
        "title": "总经理",
        "phone": lead.phone,
        "email": lead.email,
        "source": lead.source,
        "grade": "A",
        "region": lead.region,
        "requirement": lead.requirement,
        "version": "1",
        "original": original,
    }
    response = c.post(reverse("leads:edit", args=[lead.pk]), form)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.title == "总经理" and lead.grade == "A" and lead.version == 2
    response = c.post(reverse("leads:edit", args=[lead.pk]), {**form, "title": "经理"})
    assert response.status_code == 409 and 'data-testid="conflict"' in response.content.decode()


def test_delete_bin_restore(client, org):
    lead = lead_make(owner=org.rep1)
    c = logged_in(client, org.manager)
    assert logged_in(client, org.rep1).get(BIN).status_code == 403
    c = logged_in(client, org.manager)
    response = c.post(reverse("leads:delete", args=[lead.pk]), {"version": lead.version})
    assert response.status_code == 302
    html = c.get(BIN).content.decode()
    assert lead.company in html
    lead.refresh_from_db()
    response = c.post(reverse("leads:restore", args=[lead.pk]), {"version": lead.version})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.deleted_at is None


def test_outside_scope_is_404(client, org):
    lead = lead_make(owner=org.rep1)
    c = logged_in(client, org.rep2)
    for name in ("leads:detail", "leads:edit"):
        assert c.get(reverse(name, args=[lead.pk])).status_code == 404
    assert logged_in(client, org.service).get(LIST).status_code == 403


def test_global_search_finds_leads(client, org):
    lead = lead_make(owner=org.rep1, company="成都锦江软件有限公司")
    html = logged_in(client, org.rep1).get(reverse("search"), {"q": "锦江"}).content.decode()
    assert reverse("leads:detail", args=[lead.pk]) in html
    response = logged_in(client, org.rep1).get(reverse("search"), {"q": lead.number})
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:detail", args=[lead.pk])
    html = logged_in(client, org.rep2).get(reverse("search"), {"q": "锦江"}).content.decode()
    assert reverse("leads:detail", args=[lead.pk]) not in html


def test_a_lead_followup_in_the_followup_recycle_bin(client, org):
    from crm.activities.services import followup_delete
    from crm.tests_support.activities import followup_make

    lead = lead_make(owner=org.rep1, company="西安古城文旅有限公司")
    followup = followup_make(lead=lead)
    followup_delete(actor=org.manager, followup=followup)
    response = logged_in(client, org.manager).get(reverse("activities:recycle_bin"))
    assert response.status_code == 200 and lead.company in response.content.decode()
