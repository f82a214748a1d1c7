"""Settings → Lead assignment (LEAD-4): the administrator's ordered rules."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from crm.core.models import AuditEntry
from crm.leads.models import AssignmentRule
from crm.tests_support.lead_rules import rule_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org):
    client = Client()
    client.force_login(org.admin)
    return client


def _order():
    return list(AssignmentRule.objects.order_by("position", "id").values_list("name", flat=True))


def test_the_list_shows_the_rules_in_order(admin_client, org, django_assert_max_num_queries):
    rule_make(name="展会A类", match_source="trade_show", match_grade="A", user=org.rep1)
    rule_make(name="华东轮流", match_region="east", department=org.dept1)
    rule_make(name="其余全部", user=org.manager)
    admin_client.get(reverse("lead_rules:list"))  # warm the process caches
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("lead_rules:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("展会A类") < html.index("华东轮流") < html.index("其余全部")
    assert "销售一部" in html


def test_create_edit_and_delete_a_rule(admin_client, org):
    response = admin_client.post(
        reverse("lead_rules:create"),
        {
            "name": "华南A类",
            "match_region": "south",
            "match_grade": "A",
            "target": "user",
            "user": org.rep3.pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    rule = AssignmentRule.objects.get(name="华南A类")
    assert (rule.match_region, rule.match_grade, rule.user, rule.is_active) == (
        "south",
        "A",
        org.rep3,
        True,
    )
    response = admin_client.post(
        reverse("lead_rules:edit", args=[rule.pk]),
        {"name": "华南轮流", "target": "round_robin", "department": org.dept2.pk},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.target == "round_robin" and rule.department == org.dept2 and rule.user is None
    assert rule.match_region == "" and not rule.is_active
    assert admin_client.post(reverse("lead_rules:delete", args=[rule.pk])).status_code == 302
    assert not AssignmentRule.objects.exists()
    assert AuditEntry.objects.filter(object_repr__contains="华南").count() == 3


def test_a_bad_rule_shows_every_error_and_saves_nothing(admin_client, org):
    response = admin_client.post(
        reverse("lead_rules:create"),
        {"name": "", "match_source": "nope", "match_grade": "D", "target": "user"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "has-error" in html
    assert not AssignmentRule.objects.exists()
    response = admin_client.post(
        reverse("lead_rules:create"), {"name": "财务", "target": "user", "user": org.finance.pk}
    )
    assert response.status_code == 422  # finance may not own leads
    response = admin_client.post(
        reverse("lead_rules:create"), {"name": "轮流", "target": "round_robin"}
    )
    assert response.status_code == 422  # which team?


def test_reorder_by_drag_and_by_arrows(admin_client, org):
    a = rule_make(name="甲", user=org.rep1)
    b = rule_make(name="乙", user=org.rep2)
    c = rule_make(name="丙", user=org.rep3)
    response = admin_client.post(
        reverse("lead_rules:reorder"),
        data=json.dumps({"ordered_ids": [c.pk, a.pk, b.pk]}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["ok"]
    assert _order() == ["丙", "甲", "乙"]
    admin_client.post(reverse("lead_rules:up", args=[b.pk]))
    assert _order() == ["丙", "乙", "甲"]
    admin_client.post(reverse("lead_rules:down", args=[c.pk]))
    assert _order() == ["乙", "丙", "甲"]
    # Not every id: refused, order kept.
    response = admin_client.post(
        reverse("lead_rules:reorder"),
        data=json.dumps({"ordered_ids": [a.pk]}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert _order() == ["乙", "丙", "甲"]
    # The no-script form posts every id in order.
    admin_client.post(reverse("lead_rules:reorder"), {"ordered_ids": [a.pk, b.pk, c.pk]})
    assert _order() == ["甲", "乙", "丙"]


def test_activate_and_deactivate(admin_client, org):
    rule = rule_make(name="甲", user=org.rep1)
    admin_client.post(reverse("lead_rules:deactivate", args=[rule.pk]))
    rule.refresh_from_db()
    assert not rule.is_active
    admin_client.post(reverse("lead_rules:activate", args=[rule.pk]))
    rule.refresh_from_db()
    assert rule.is_active


@pytest.mark.parametrize("who", ["manager", "rep1", "service", "finance", "exec"])
def test_only_administrators_see_or_change_the_rules(org, who):
    rule = rule_make(name="甲", user=org.rep1)
    client = Client()
    client.force_login(getattr(org, who))
    assert client.get(reverse("lead_rules:list")).status_code == 403
    assert client.post(reverse("lead_rules:deactivate", args=[rule.pk])).status_code == 403
    rule.refresh_from_db()
    assert rule.is_active


def test_the_settings_nav_links_the_page(admin_client):
    html = admin_client.get(reverse("settings:index")).content.decode()
    assert reverse("lead_rules:list") in html
