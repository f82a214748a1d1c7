"""The opportunities UI: pages, forms, the stage path, dialogs, settings, the customer tab."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.customers.models import Customer
from crm.sales.models import Opportunity, Stage
from crm.sales.services import opportunity_close_won, opportunity_delete
from crm.tests_support.factories import customer_make
from crm.tests_support.sales import opportunity_make, stage
from crm.web.search import search_providers

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_list_kanban_forecast_pages_show_the_scope(org):
    mine = opportunity_make(owner=org.rep1, name="我的商机一号")
    theirs = opportunity_make(owner=org.rep3, name="别人的商机")
    c = client_for(org.rep1)
    page = c.get(reverse("sales:list")).content.decode()
    assert "我的商机一号" in page and "别人的商机" not in page
    assert 'hx-target="#opportunity-results"' in page
    partial = c.get(reverse("sales:list"), {"q": "一号"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and "我的商机一号" in partial.content.decode()
    board = c.get(reverse("sales:kanban")).content.decode()
    assert "我的商机一号" in board and "别人的商机" not in board
    assert 'data-move-url="/api/v1/opportunities/{id}/stage"' in board
    assert "vendor/sortablejs/Sortable.min.js" in board
    forecast = c.get(reverse("sales:forecast")).content.decode()
    assert "vendor/echarts/echarts.min.js" in forecast and "forecast-month-chart" in forecast
    assert c.get(reverse("sales:detail", args=[theirs.pk])).status_code == 404
    assert c.get(reverse("sales:detail", args=[mine.pk])).status_code == 200


def test_the_service_role_reads_but_cannot_write(org):
    opp = opportunity_make(owner=org.rep1)
    c = client_for(org.service)
    page = c.get(reverse("sales:detail", args=[opp.pk])).content.decode()
    assert 'data-testid="win"' not in page and 'data-testid="edit"' not in page
    assert c.get(reverse("sales:edit", args=[opp.pk])).status_code == 403
    response = c.post(
        reverse("sales:stage", args=[opp.pk]), {"stage_id": stage("needs").pk, "version": 1}
    )
    assert response.status_code == 403
    assert Opportunity.objects.get(pk=opp.pk).stage.code == "initial"


def test_create_from_the_customer_page(org):
    customer = customer_make(owner=org.rep1)
    c = client_for(org.rep1)
    tab = c.get(reverse("customers:detail", args=[customer.pk]), {"tab": "opportunities"})
    assert f"/opportunities/new/?customer={customer.pk}" in tab.content.decode()
    form = c.get(reverse("sales:create"), {"customer": customer.pk})
    assert customer.name in form.content.decode()
    bad = c.post(reverse("sales:create"), {"customer": customer.pk, "name": "", "amount": "x"})
    assert bad.status_code == 422
    assert "data-error-summary" in bad.content.decode()
    response = c.post(
        reverse("sales:create"),
        {"customer": customer.pk, "name": "新商机", "amount": "5000", "owner": org.rep1.pk},
    )
    opp = Opportunity.objects.get(name="新商机")
    assert response.status_code == 302 and response["Location"] == reverse(
        "sales:detail", args=[opp.pk]
    )
    tab = c.get(reverse("customers:detail", args=[customer.pk]), {"tab": "opportunities"})
    assert "新商机" in tab.content.decode()


def test_the_customer_chooser_searches_within_the_scope(org):
    customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    customer_make(owner=org.rep3, name="北京华盛科技有限公司")
    c = client_for(org.rep1)
    page = c.get(reverse("sales:create"), {"q": "北京"}).content.decode()
    assert "华科" in page and "华盛" not in page


def test_edit_sends_only_changes_and_refuses_a_stale_copy(org):
    opp = opportunity_make(owner=org.rep1, amount="1000")
    c = client_for(org.rep1)
    data = {
        "version": 1,
        "name": opp.name,
        "amount": "2000.00",
        "owner": org.rep1.pk,
        "expected_close_date": "",
        "probability": "",
        "source": "",
        "contact": "",
        "competitors": "",
        "description": "",
    }
    assert c.post(reverse("sales:edit", args=[opp.pk]), data).status_code == 302
    assert Opportunity.objects.get(pk=opp.pk).amount == 2000
    stale = c.post(reverse("sales:edit", args=[opp.pk]), {**data, "amount": "3000"})
    assert stale.status_code == 409


def test_stage_path_win_lose_reopen(org):
    customer = customer_make(owner=org.rep1)
    opp = opportunity_make(owner=org.rep1, customer=customer)
    c = client_for(org.rep1)
    url = reverse("sales:detail", args=[opp.pk])
    page = c.get(url).content.decode()
    assert 'data-testid="stage-path"' in page and "方案提交" in page
    c.post(reverse("sales:stage", args=[opp.pk]), {"stage_id": stage("proposal").pk, "version": 1})
    assert Opportunity.objects.get(pk=opp.pk).stage.code == "proposal"
    # a stale click is refused with the conflict message, nothing moves
    response = c.post(
        reverse("sales:stage", args=[opp.pk]), {"stage_id": stage("needs").pk, "version": 1}
    )
    assert response.status_code == 302
    assert Opportunity.objects.get(pk=opp.pk).stage.code == "proposal"
    # win without a contract number: the dialog comes back open with the field errors
    refused = c.post(reverse("sales:win", args=[opp.pk]), {"version": 2, "actual_amount": ""})
    assert refused.status_code == 422
    body = refused.content.decode()
    assert "data-open-on-load" in body and "has-error" in body
    c.post(
        reverse("sales:win", args=[opp.pk]),
        {"version": 2, "contract_no": "HT-1", "actual_amount": "1000", "closed_on": ""},
    )
    won = Opportunity.objects.get(pk=opp.pk)
    assert won.status == "won" and Customer.objects.get(pk=customer.pk).status == "deal"
    c.post(reverse("sales:reopen", args=[opp.pk]), {"version": won.version})
    reopened = Opportunity.objects.get(pk=opp.pk)
    assert reopened.status == "open" and reopened.stage.code == "proposal"
    lost = c.post(reverse("sales:lose", args=[opp.pk]), {"version": reopened.version})
    assert lost.status_code == 422
    c.post(
        reverse("sales:lose", args=[opp.pk]),
        {"version": reopened.version, "lost_reason": "budget", "lost_note": ""},
    )
    assert Opportunity.objects.get(pk=opp.pk).status == "lost"
    for tab in ("details", "milestones", "stages", "history"):
        response = c.get(url, {"tab": tab}, headers={"HX-Request": "true", "HX-Target": "tab-body"})
        assert response.status_code == 200 and "<html" not in response.content.decode()


def test_milestone_form(org):
    opp = opportunity_make(owner=org.rep1)
    c = client_for(org.rep1)
    bad = c.post(reverse("sales:milestone_create", args=[opp.pk]), {"kind": "", "occurred_on": ""})
    assert bad.status_code == 422
    ok = c.post(
        reverse("sales:milestone_create", args=[opp.pk]),
        {"kind": "signed", "occurred_on": "2026-01-02", "note": "已签"},
    )
    assert ok.status_code == 302
    page = c.get(reverse("sales:detail", args=[opp.pk]), {"tab": "milestones"}).content.decode()
    assert "已签" in page and "完成签约" in page


def test_delete_restore_and_recycle_bin(org):
    opp = opportunity_make(owner=org.manager, customer=customer_make(owner=org.manager))
    c = client_for(org.manager)
    assert c.post(reverse("sales:delete", args=[opp.pk]), {"version": 1}).status_code == 302
    assert opp.name in c.get(reverse("sales:recycle_bin")).content.decode()
    c.post(reverse("sales:restore", args=[opp.pk]), {"version": 2})
    assert Opportunity.objects.get(pk=opp.pk).deleted_at is None
    assert client_for(org.rep1).get(reverse("sales:recycle_bin")).status_code == 403


def test_global_search_finds_opportunities_in_scope(org):
    customer = customer_make(owner=org.rep1, name="北京华科信息技术有限公司")
    opp = opportunity_make(owner=org.rep1, customer=customer, name="办公设备采购")
    opportunity_make(owner=org.rep3, name="办公设备别家")
    provider = next(p for p in search_providers(user=org.rep1) if p.code == "opportunities")
    hits = provider.search(user=org.rep1, q="bjhk", limit=10)
    assert [h.title for h in hits] == ["办公设备采购"]
    assert hits[0].url == reverse("sales:detail", args=[opp.pk])
    assert [h.title for h in provider.search(user=org.rep1, q="办公", limit=10)] == ["办公设备采购"]
    assert "q=" in provider.more_url("办公")


def test_settings_stages_page(org):
    c = client_for(org.admin)
    page = c.get(reverse("stages:list")).content.decode()
    assert "初步接触" in page and "vendor/sortablejs/Sortable.min.js" in page
    assert reverse("stages:list") in c.get(reverse("settings:index")).content.decode()
    bad = c.post(reverse("stages:create"), {"name": "", "probability": "200", "kind": "open"})
    assert bad.status_code == 422
    c.post(reverse("stages:create"), {"name": "技术验证", "probability": "55", "kind": "open"})
    new = Stage.objects.get(name="技术验证")
    ids = list(Stage.objects.order_by("position").values_list("pk", flat=True))
    ids.remove(new.pk)
    ids.insert(1, new.pk)
    response = c.post(
        reverse("stages:reorder"), {"ordered_ids": ids}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["ok"]
    assert list(Stage.objects.order_by("position"))[1] == new
    # a used stage cannot be deleted: the reason is shown
    opp = opportunity_make(owner=org.rep1)
    opportunity_close_won(
        actor=org.rep1, opportunity=opp, contract_no="x", actual_amount=1, version=1
    )
    response = c.post(reverse("stages:delete", args=[stage("contract").pk]), follow=True)
    assert Stage.objects.filter(code="contract").exists()
    assert "contract" not in response.content.decode() or "停用" in response.content.decode()
    c.post(reverse("stages:delete", args=[new.pk]))
    assert not Stage.objects.filter(pk=new.pk).exists()
    assert client_for(org.manager).get(reverse("stages:list")).status_code == 403


def _count(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", ["sales:list", "sales:kanban", "sales:forecast"])
def test_page_queries_do_not_grow_with_rows(org, name):
    customer = customer_make(owner=org.rep1)
    opportunity_make(owner=org.rep1, customer=customer)
    c = client_for(org.rep1)
    url = reverse(name)
    c.get(url)
    one = _count(c, url)
    for i in range(19):
        opportunity_make(
            owner=org.rep1, customer=customer, expected_close_date=f"2027-{1 + i % 12:02d}-01"
        )
    assert _count(c, url) == one


def test_stage_history_tab_queries_do_not_grow(org):
    from crm.sales.services import opportunity_move_stage

    opp = opportunity_make(owner=org.rep1)
    c = client_for(org.rep1)
    url = reverse("sales:detail", args=[opp.pk])
    c.get(url, {"tab": "stages"})
    one = _count(c, url, {"tab": "stages"})
    version = 1
    for code in ["needs", "proposal", "negotiation", "initial"] * 5:
        opp = opportunity_move_stage(
            actor=org.rep1, opportunity=opp, stage=stage(code), version=version
        )
        version = opp.version
    assert _count(c, url, {"tab": "stages"}) == one


def test_deleted_opportunities_are_not_on_the_customer_tab(org):
    customer = customer_make(owner=org.manager)
    opp = opportunity_make(owner=org.manager, customer=customer, name="将删除")
    opportunity_delete(actor=org.manager, opportunity=opp)
    tab = client_for(org.manager).get(
        reverse("customers:detail", args=[customer.pk]), {"tab": "opportunities"}
    )
    assert "将删除" not in tab.content.decode()


def test_the_audit_log_shows_a_milestone_change(org, client):
    # given a milestone on an opportunity (audited as a change of its "milestones")
    import datetime as dt

    from crm.sales.services import milestone_create
    from crm.tests_support.sales import opportunity_make

    opp = opportunity_make(owner=org.rep1)
    milestone_create(
        actor=org.rep1, opportunity=opp, kind="signed", occurred_on=dt.date.today(), note=""
    )
    client.force_login(org.admin)
    response = client.get("/settings/audit/")
    assert response.status_code == 200


def test_winning_takes_the_contract_file_and_a_refused_file_wins_nothing(org, settings, tmp_path):
    from crm.core.models import Attachment
    from crm.tests_support.files import pdf_bytes, upload

    settings.MEDIA_ROOT = str(tmp_path)
    opp = opportunity_make(owner=org.rep1)
    c = client_for(org.rep1)
    url = reverse("sales:win", args=[opp.pk])
    fields = {"version": opp.version, "contract_no": "HT-9", "actual_amount": "5000"}
    # a program named .pdf: refused, and the opportunity stays open
    refused = c.post(url, {**fields, "file": upload("合同.pdf", b"MZ\x90\x00binary")})
    assert refused.status_code == 422
    assert Opportunity.objects.get(pk=opp.pk).status == "open"
    assert not Attachment.objects.exists()
    # the real contract: won, and the file is on the opportunity
    c.post(url, {**fields, "file": upload("合同.pdf", pdf_bytes())})
    assert Opportunity.objects.get(pk=opp.pk).status == "won"
    assert list(Attachment.objects.filter(object_id=opp.pk).values_list("name", flat=True)) == [
        "合同.pdf"
    ]
