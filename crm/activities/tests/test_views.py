"""The follow-up UI: the log form (errors kept, plan carried out), edit (24-hour rule, 409),
delete/restore, the follow-up page, "my follow-ups", the recycle bin, the customer and
opportunity tabs, the navigation; query counts constant in rows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.activities.models import FollowUp
from crm.activities.services import followup_delete, followup_update
from crm.activities.views import followups_opportunity_tab
from crm.customers.models import Customer
from crm.tests_support.activities import followup_make, followup_plan_at, opportunity_row_make
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db
CREATE = reverse("activities:create")
MINE = reverse("activities:mine")


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def logged_in(client, user):
    client.force_login(user)
    return client


def form_data(**overrides):
    return {
        "method": "phone",
        "occurred_at": "2026-03-01T10:00",
        "author": "",
        "summary": "电话沟通了交付时间",
        "feedback": "",
        "next_action": "",
        "due_on": "",
        "next_at": "",
        "next_method": "",
        "next_goal": "",
        "contact": "",
        "opportunity": "",
        **overrides,
    }


# --- the log form ---------------------------------------------------------------------------


def test_without_a_customer_the_form_offers_a_chooser(org, client):
    mine = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    customer_make(owner=org.rep3, name="上海远洋贸易有限公司")
    page = logged_in(client, org.rep1).get(CREATE, {"q": "华科"}).content.decode()
    assert f"?customer={mine.pk}" in page
    page = client.get(CREATE).content.decode()
    assert "北京华科信息技术有限公司" in page and "上海远洋" not in page


def test_a_rep_logs_a_follow_up_with_a_plan_from_the_customer_page(org, client):
    customer = customer_make(owner=org.rep1)
    logged_in(client, org.rep1)
    page = client.get(CREATE, {"customer": customer.pk}).content.decode()
    assert "Next follow-up plan" in page and 'name="next_at"' in page
    future = (timezone.localtime() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"{CREATE}?customer={customer.pk}",
        form_data(
            customer=customer.pk,
            next_at=future,
            next_method="visit",
            next_goal="上门演示",
            contact=customer.contacts.first().pk,
        ),
    )
    assert response.status_code == 302
    assert (
        response["Location"] == reverse("customers:detail", args=[customer.pk]) + "?tab=followups"
    )
    followup = FollowUp.objects.get()
    assert (followup.author, followup.next_goal) == (org.rep1, "上门演示")
    assert Customer.objects.get(pk=customer.pk).next_followup_at == followup.next_at


def test_errors_are_shown_by_field_and_the_input_is_kept(org, client):
    customer = customer_make(owner=org.rep1)
    future = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = logged_in(client, org.rep1).post(
        CREATE,
        form_data(
            customer=customer.pk,
            occurred_at=future,
            summary="",
            feedback="客户说再考虑",
            next_goal="回访",
        ),
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "data-error-summary" in page
    assert "A follow-up cannot happen in the future." in page
    assert "Describe what was discussed." in page
    assert "客户说再考虑" in page and 'value="回访"' in page and future in page
    assert not FollowUp.objects.exists()


def test_the_form_for_an_invisible_customer_is_404(org, client):
    theirs = customer_make(owner=org.rep3)
    client = logged_in(client, org.rep1)
    assert client.get(CREATE, {"customer": theirs.pk}).status_code == 404
    assert client.post(CREATE, form_data(customer=theirs.pk)).status_code == 404
    assert not FollowUp.objects.exists()


def test_log_it_from_a_plan_prefills_and_marks_the_plan_done(org, client):
    customer = customer_make(owner=org.rep1)
    opportunity = opportunity_row_make(customer=customer)
    plan = followup_make(
        customer=customer, next_in=dt.timedelta(hours=3), opportunity=opportunity.pk
    )
    logged_in(client, org.rep1)
    page = client.get(CREATE, {"plan": plan.pk}).content.decode()
    assert 'data-testid="plan-carried"' in page
    assert re.search(rf'<option value="{opportunity.pk}" selected', page)
    assert re.search(r'<option value="visit" selected', page)  # the plan's method
    response = client.post(
        f"{CREATE}?plan={plan.pk}",
        form_data(plan=plan.pk, method="visit", occurred_at="", summary="按计划上门"),
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.next_done_by is not None and plan.next_done_by.summary == "按计划上门"
    # opened again (another tab): the plan is done, the form logs without it and says so
    page = client.get(CREATE, {"plan": plan.pk}).content.decode()
    assert 'data-testid="plan-closed"' in page and 'name="plan"' not in page


# --- edit -----------------------------------------------------------------------------------


def test_the_author_edits_within_24_hours(org, client):
    followup = followup_make(customer=customer_make(owner=org.rep1))
    logged_in(client, org.rep1)
    url = reverse("activities:edit", args=[followup.pk])
    page = client.get(url)
    assert page.status_code == 200
    original = re.search(r'name="original" value="([^"]+)"', page.content.decode()).group(1)
    data = {
        **page.context["form"].initial,
        "summary": "改过的纪要",
        "version": "1",
        "original": original,
    }
    response = client.post(url, {k: ("" if v is None else v) for k, v in data.items()})
    assert response.status_code == 302
    assert FollowUp.objects.get(pk=followup.pk).summary == "改过的纪要"


def test_after_24_hours_the_author_gets_403_and_the_manager_may(org, client):
    followup = followup_make(customer=customer_make(owner=org.rep1), ago=dt.timedelta(days=2))
    FollowUp.objects.filter(pk=followup.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    url = reverse("activities:edit", args=[followup.pk])
    assert logged_in(client, org.rep1).get(url).status_code == 403
    detail = client.get(reverse("activities:detail", args=[followup.pk])).content.decode()
    assert 'data-testid="edit"' not in detail and "now only a manager can" in detail
    assert logged_in(client, org.manager).get(url).status_code == 200


def test_a_stale_edit_is_409_and_keeps_the_input(org, client):
    followup = followup_make(customer=customer_make(owner=org.rep1))
    logged_in(client, org.rep1)
    url = reverse("activities:edit", args=[followup.pk])
    page = client.get(url)
    original = re.search(r'name="original" value="([^"]+)"', page.content.decode()).group(1)
    followup_update(actor=org.manager, followup=followup, data={"feedback": "经理补充"}, version=1)
    data = {**page.context["form"].initial, "summary": "我的更正", "version": "1"}
    data["original"] = original
    response = client.post(url, {k: ("" if v is None else v) for k, v in data.items()})
    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-testid="conflict"' in page and "我的更正" in page
    # the form shows the current record with the user's change on top; saving it again
    # applies only the summary onto the current version
    assert "经理补充" in page
    data = dict(response.context["form"].data)
    data["version"] = "2"
    data["original"] = re.search(r'name="original" value="([^"]+)"', page).group(1)
    assert (
        client.post(url, {k: ("" if v is None else v) for k, v in data.items()}).status_code == 302
    )
    saved = FollowUp.objects.get(pk=followup.pk)
    assert (saved.summary, saved.feedback) == ("我的更正", "经理补充")


# --- detail, delete, restore, plan done -----------------------------------------------------


def test_the_follow_up_page_and_delete_restore_with_confirm(org, client):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, next_in=dt.timedelta(days=1), next_goal="签约")
    detail = reverse("activities:detail", args=[followup.pk])
    page = logged_in(client, org.manager).get(detail).content.decode()
    assert "签约" in page and "data-confirm=" in page and 'data-testid="log-it"' in page
    response = client.post(reverse("activities:delete", args=[followup.pk]), {"version": "1"})
    assert response.status_code == 302
    assert FollowUp.objects.get(pk=followup.pk).deleted_at is not None
    assert client.get(detail).status_code == 404
    bin_page = client.get(reverse("activities:recycle_bin")).content.decode()
    assert 'data-testid="deleted-row"' in bin_page
    response = client.post(reverse("activities:restore", args=[followup.pk]), {"version": "2"})
    assert response.status_code == 302 and response["Location"] == detail
    assert FollowUp.objects.get(pk=followup.pk).deleted_at is None


def test_a_rep_has_no_delete_button_and_no_recycle_bin(org, client):
    followup = followup_make(customer=customer_make(owner=org.rep1))
    logged_in(client, org.rep1)
    page = client.get(reverse("activities:detail", args=[followup.pk])).content.decode()
    assert 'data-testid="delete"' not in page
    assert client.post(reverse("activities:delete", args=[followup.pk])).status_code == 403
    assert client.get(reverse("activities:recycle_bin")).status_code == 403


def test_closing_a_plan_from_its_page(org, client):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, next_in=dt.timedelta(days=1))
    response = logged_in(client, org.rep1).post(
        reverse("activities:plan_done", args=[followup.pk]), {"version": "1"}
    )
    assert response.status_code == 302
    assert FollowUp.objects.get(pk=followup.pk).next_done_at is not None
    assert Customer.objects.get(pk=customer.pk).next_followup_at is None


# --- my follow-ups --------------------------------------------------------------------------


def test_my_follow_ups_tabs_list_plans_with_log_it(org, client):
    customer = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    today = followup_make(customer=customer, next_in=dt.timedelta(minutes=1), next_goal="今天的")
    overdue = followup_make(customer=customer, next_in=dt.timedelta(days=1), next_goal="过期的")
    followup_plan_at(overdue, timezone.now() - dt.timedelta(days=2))
    logged_in(client, org.rep1)
    page = client.get(MINE, {"tab": "overdue"}).content.decode()
    assert "过期的" in page and "今天的" not in page
    assert f"?plan={overdue.pk}" in page and "北京华科信息技术有限公司" in page
    page = client.get(MINE).content.decode()
    assert "今天的" in page or today.next_at.date() != timezone.localdate()
    page = client.get(MINE, {"tab": "recent"}).content.decode()
    assert page.count('data-testid="followup-item"') == 2
    # HTMX tab switch answers only the body
    partial = client.get(
        MINE, {"tab": "week"}, headers={"HX-Request": "true", "HX-Target": "mine-body"}
    )
    assert b"<html" not in partial.content and b'data-testid="tab-week"' in partial.content


def test_a_manager_looks_at_a_subordinates_plans_but_not_another_teams(org, client):
    followup = followup_make(customer=customer_make(owner=org.rep1), next_in=dt.timedelta(days=1))
    followup_plan_at(followup, timezone.now() - dt.timedelta(hours=1))
    logged_in(client, org.manager)
    assert 'data-testid="plan-row"' not in client.get(MINE, {"tab": "overdue"}).content.decode()
    page = client.get(MINE, {"tab": "overdue", "author": org.rep1.pk}).content.decode()
    assert page.count('data-testid="plan-row"') == 1
    assert 'data-testid="author-filter"' in page
    logged_in(client, org.manager2)
    page = client.get(MINE, {"tab": "overdue", "author": org.rep1.pk}).content.decode()
    assert 'data-testid="plan-row"' not in page


def test_the_navigation_offers_follow_ups_to_those_who_see_them(org, client):
    assert MINE in logged_in(client, org.rep1).get(reverse("home")).content.decode()
    assert (
        f'href="{MINE}"' not in logged_in(client, org.finance).get(reverse("home")).content.decode()
    )
    assert client.get(MINE).status_code == 403


# --- the customer and opportunity tabs ------------------------------------------------------


def test_the_customer_page_has_a_follow_ups_tab_newest_first_paged(org, client):
    customer = customer_make(owner=org.rep1)
    for i in range(12):
        followup_make(customer=customer, ago=dt.timedelta(hours=12 - i), summary=f"第{i:02d}次")
    logged_in(client, org.rep1)
    url = reverse("customers:detail", args=[customer.pk])
    page = client.get(url, {"tab": "followups"}).content.decode()
    assert 'data-testid="followups-tab"' in page and 'data-testid="log-followup"' in page
    assert page.index("第11次") < page.index("第02次")
    assert "第01次" not in page  # ten a page
    more = client.get(
        reverse("activities:customer_tab", args=[customer.pk]),
        {"page": 2},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "第01次" in more and "第00次" in more and "<html" not in more
    # the details show the next follow-up beside the last one
    details = client.get(url).content.decode()
    assert 'data-testid="next-followup"' in details
    # a plain request for the tab's page goes back to the customer page
    plain = client.get(reverse("activities:customer_tab", args=[customer.pk]), {"page": 2})
    assert plain.status_code == 302 and "tab=followups" in plain["Location"]


def test_the_customer_tab_is_404_outside_the_scope_and_hidden_without_the_module(org, client):
    theirs = customer_make(owner=org.rep3)
    logged_in(client, org.rep1)
    assert client.get(reverse("activities:customer_tab", args=[theirs.pk])).status_code == 404
    mine = customer_make(owner=org.rep1)
    logged_in(client, org.finance)
    page = client.get(reverse("customers:detail", args=[mine.pk])).content.decode()
    assert "?tab=followups" not in page


def test_the_opportunity_tab_lists_its_follow_ups(org, client, rf):
    customer = customer_make(owner=org.rep1)
    opportunity = opportunity_row_make(customer=customer)
    on_it = followup_make(customer=customer, opportunity=opportunity.pk, summary="商机相关")
    followup_make(customer=customer, summary="别的事")
    request = rf.get("/")
    request.user = org.rep1
    html = followups_opportunity_tab(request, opportunity)
    assert "商机相关" in html and "别的事" not in html
    assert f"opportunity={opportunity.pk}" in html
    paged = logged_in(client, org.rep1).get(
        reverse("activities:opportunity_tab", args=[opportunity.pk]),
        headers={"HX-Request": "true"},
    )
    assert paged.status_code == 200 and "商机相关" in paged.content.decode()
    assert on_it.pk
    assert (
        logged_in(client, org.rep3)
        .get(reverse("activities:opportunity_tab", args=[opportunity.pk]))
        .status_code
        == 404
    )


# --- query counts ---------------------------------------------------------------------------


def _queries(client, url, params=None, headers=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {}, headers=headers or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_my_follow_ups_and_the_customer_tab_do_not_grow_with_rows(org, client):
    customer = customer_make(owner=org.rep1)
    opportunity = opportunity_row_make(customer=customer)
    contact = customer.contacts.first()

    def make():
        f = followup_make(
            customer=customer,
            opportunity=opportunity.pk,
            contact=contact.pk,
            next_in=dt.timedelta(days=1),
        )
        followup_plan_at(f, timezone.now() - dt.timedelta(hours=1))

    make()
    logged_in(client, org.rep1)
    tab_url = reverse("customers:detail", args=[customer.pk])
    pages = [
        (MINE, {"tab": "overdue"}),
        (MINE, {"tab": "recent"}),
        (tab_url, {"tab": "followups"}),
    ]
    for url, params in pages:
        client.get(url, params)  # warm-up
    one = [_queries(client, url, params) for url, params in pages]
    for _i in range(19):
        make()
    twenty = [_queries(client, url, params) for url, params in pages]
    assert one == twenty


def test_deleted_follow_ups_leave_the_tab(org, client):
    customer = customer_make(owner=org.rep1)
    followup = followup_make(customer=customer, summary="将被删除")
    followup_delete(actor=org.manager, followup=followup)
    page = logged_in(client, org.rep1).get(
        reverse("customers:detail", args=[customer.pk]), {"tab": "followups"}
    )
    assert "将被删除" not in page.content.decode()


def test_a_follow_up_is_logged_with_its_attachments(org, client, settings, tmp_path):
    # given rep1's customer and a proposal as a PDF
    from crm.core.models import Attachment
    from crm.tests_support.files import pdf_bytes, upload

    settings.MEDIA_ROOT = str(tmp_path)
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    # when the follow-up is saved with the file
    response = client.post(
        f"/followups/new/?customer={customer.pk}",
        {
            "customer": customer.pk,
            "method": "phone",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "author": org.rep1.pk,
            "summary": "发送方案",
            "file": upload("方案.pdf", pdf_bytes()),
        },
    )
    # then both are saved, the file on the follow-up
    assert response.status_code == 302, response.content[:500]
    followup = FollowUp.objects.get(customer=customer)
    assert list(
        Attachment.objects.filter(object_id=followup.pk).values_list("name", flat=True)
    ) == ["方案.pdf"]


def test_a_refused_file_saves_neither_the_follow_up_nor_the_file(org, client, settings, tmp_path):
    from crm.core.models import Attachment
    from crm.tests_support.files import upload

    settings.MEDIA_ROOT = str(tmp_path)
    customer = customer_make(owner=org.rep1)
    client.force_login(org.rep1)
    response = client.post(
        f"/followups/new/?customer={customer.pk}",
        {
            "customer": customer.pk,
            "method": "phone",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "author": org.rep1.pk,
            "summary": "发送方案",
            "file": upload("tool.exe.pdf", b"MZ\x90\x00not a pdf"),
        },
    )
    assert response.status_code == 422
    assert "发送方案" in response.content.decode()  # what the user typed is still there
    assert not FollowUp.objects.filter(customer=customer).exists()
    assert not Attachment.objects.exists()
