"""A user account always has a role, and one whose roles grant nothing is told why the
dashboard is empty and whom to ask (issue 5 §4)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from crm.accounts.models import Role, User
from crm.accounts.services import user_create, user_update
from crm.core.errors import ValidationFailed
from crm.tests_support.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_service_refuses_a_new_user_without_a_role(org):
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as exc:
        user_create(actor=org.admin, data={"username": "norole", "full_name": "无角色"})
    assert exc.value.fields["roles"] == ["请至少选择一个角色"]
    assert not User.objects.filter(username="norole").exists()


def test_the_service_refuses_removing_every_role(org):
    with pytest.raises(ValidationFailed) as exc:
        user_update(actor=org.admin, user=org.rep1, data={"roles": []})
    assert "roles" in exc.value.fields
    assert [r.code for r in org.rep1.roles.all()] == ["sales_rep"]


def test_an_edit_that_leaves_the_roles_alone_needs_no_role_field(org):
    user_update(actor=org.admin, user=org.rep1, data={"full_name": "李明明"})
    org.rep1.refresh_from_db()
    assert org.rep1.full_name == "李明明"


def test_the_user_form_shows_the_error_at_the_roles_field(client, org):
    client.force_login(org.admin)
    response = client.post(
        reverse("settings:user_create"), {"username": "norole", "full_name": "无角色"}
    )
    assert response.status_code == 422
    assert response.context["form"].errors["roles"] == ["请至少选择一个角色"]
    html = response.content.decode()
    assert "请至少选择一个角色" in html
    assert not User.objects.filter(username="norole").exists()


def test_a_user_without_roles_is_told_what_is_missing_and_whom_to_ask(client, org):
    # given an account that has no role (created before roles were required)
    lonely = UserFactory(username="lonely", full_name="孤单")
    client.force_login(lonely)
    # when they open the home page
    html = client.get("/").content.decode()
    # then it says they have no role and names the administrators
    assert 'data-testid="no-access"' in html
    assert "您的账号尚未分配角色" in html
    assert org.admin.display_name in html


def test_a_user_whose_roles_grant_nothing_is_told_so(client, org):
    empty = Role.objects.create(code="empty", name="空角色")
    user = UserFactory(username="emptyrole", roles=[empty])
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "您的角色（空角色）未被授予任何权限" in html
    assert org.admin.display_name in html
