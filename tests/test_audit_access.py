"""The audit log is gated by the `audit` module's permission and data scope, with a menu
entry for everyone who may read it (issue 5 §4). It used to need `settings.configure`, so
高管 and 销售经理, whose roles grant `audit.view`, were refused.

Scope rule: an entry is visible when its actor is inside the viewer's audit scope ("own":
what the viewer did; "subordinates": plus what the people below them did; "all": everything,
system and anonymous entries included). Entries about customers are further limited to the
customers the viewer may see.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.accounts.services import user_password_reset
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

AUDIT = reverse("settings:audit")


@pytest.fixture
def history(org):
    """Customers entered by rep1 (the manager's subordinate), by rep3 (another team) and by
    the manager himself, and an account change made by the administrator."""
    return {
        "rep1": customer_make(owner=org.rep1, actor=org.rep1, name="一组代表客户有限公司"),
        "rep3": customer_make(owner=org.rep3, actor=org.rep3, name="二组代表客户有限公司"),
        "manager": customer_make(owner=org.manager, actor=org.manager, name="经理本人客户有限公司"),
        "admin": user_password_reset(actor=org.admin, user=org.rep2),
    }


def _audit_menu(client) -> bool:
    return f'href="{AUDIT}"' in client.get("/").content.decode()


@pytest.mark.parametrize("who", ["rep1", "service", "finance"])
def test_roles_without_audit_view_are_refused_and_have_no_menu_entry(client, org, history, who):
    # given a 销售代表, 客服专员 or 财务 (no audit.view in their default role)
    client.force_login(getattr(org, who))
    # when they open the audit log, then they are refused, and the menu does not offer it
    response = client.get(AUDIT)
    assert response.status_code == 403
    assert "您没有查看操作日志的权限" in response.content.decode()
    assert not _audit_menu(client)


def test_the_executive_reads_every_entry_without_the_settings_tabs(client, org, history):
    # given the 高管 (audit.view over all records)
    client.force_login(org.exec)
    # when they open the audit log from the menu
    assert _audit_menu(client)
    response = client.get(AUDIT)
    html = response.content.decode()
    # then every entry is there, without Settings' tabs (they cannot configure)
    assert response.status_code == 200
    repr_list = [r["entry"].object_repr for r in response.context["rows"]]
    for name in ("一组代表客户", "二组代表客户", "经理本人客户"):
        assert any(r.startswith(name) for r in repr_list), name
    assert any(r["entry"].actor == org.admin for r in response.context["rows"])
    assert 'class="tabs settings-tabs"' not in html


def test_the_sales_manager_reads_what_he_and_his_subordinates_did(client, org, history):
    # given the 销售经理 of 销售一部 (audit.view over his and his subordinates' records)
    client.force_login(org.manager)
    # when he opens the audit log from the menu
    assert _audit_menu(client)
    response = client.get(AUDIT)
    rows = response.context["rows"]
    actors = {r["entry"].actor_id for r in rows}
    reprs = " ".join(r["entry"].object_repr for r in rows)
    # then he sees his own and rep1's entries, not rep3's (another team) nor the admin's
    assert response.status_code == 200
    assert "一组代表客户" in reprs and "经理本人客户" in reprs
    assert "二组代表客户" not in reprs
    assert actors <= {org.manager.pk, org.rep1.pk, org.rep2.pk}
    assert "二组代表客户" not in response.content.decode()
    # and the "who" filter offers only the people in his scope
    offered = set(response.context["form"].fields["actor"].queryset.values_list("pk", flat=True))
    assert offered == {org.manager.pk, org.rep1.pk, org.rep2.pk}


def test_the_sales_manager_cannot_filter_his_way_to_another_teams_entries(client, org, history):
    client.force_login(org.manager)
    response = client.get(AUDIT, {"actor": org.rep3.pk})
    assert "二组代表客户" not in response.content.decode()


def test_the_administrator_reads_everything_with_the_settings_tabs(client, org, history):
    client.force_login(org.admin)
    assert _audit_menu(client)
    response = client.get(AUDIT)
    reprs = " ".join(r["entry"].object_repr for r in response.context["rows"])
    assert "一组代表客户" in reprs and "二组代表客户" in reprs and "经理本人客户" in reprs
    assert 'class="tabs settings-tabs"' in response.content.decode()


def test_a_failed_login_shows_only_to_the_all_scope(client, org):
    """Entries without an actor (failed logins) belong to nobody's subordinates."""
    client.post("/account/login/", {"username": "rep1", "password": "wrong"})
    client.force_login(org.exec)
    assert any(r["entry"].action == "login_failed" for r in client.get(AUDIT).context["rows"])
    client.force_login(org.manager)
    assert not any(r["entry"].action == "login_failed" for r in client.get(AUDIT).context["rows"])


def test_a_configurator_without_audit_view_gets_no_audit_tab_and_is_refused(client, org):
    """Settings and the audit log are separate permissions: an administrator can define a
    role that configures Settings without reading the audit trail."""
    from crm.accounts.models import Role, RolePermission
    from crm.tests_support.factories import UserFactory

    role = Role.objects.create(code="config_only", name="仅配置")
    RolePermission.objects.create(role=role, module="settings", actions=["view", "configure"])
    user = UserFactory(username="configonly", roles=[role])
    client.force_login(user)
    html = client.get(reverse("settings:users")).content.decode()
    assert 'class="tabs settings-tabs"' in html and f'href="{AUDIT}"' not in html
    assert client.get(AUDIT).status_code == 403
