"""Account services (ORG-1..4): creating users, reporting lines, departments, roles."""

from __future__ import annotations

import pytest

from crm.accounts.models import Department, Role, RolePermission, User
from crm.accounts.services import (
    department_deactivate,
    department_reactivate,
    department_save,
    role_save,
    user_create,
    user_password_reset,
    user_reactivate,
    user_unlock,
    user_update,
    users_locked_out,
)
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.scope import user_can
from crm.tests_support.factories import DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def _fresh(user: User) -> User:
    """The user as the next request would load it (no cached grants)."""
    return User.objects.get(pk=user.pk)


# --- creating accounts (ORG-1) --------------------------------------------------------------


def test_user_create_sets_initial_password_that_must_be_changed(org):
    # Given an administrator
    # When they create an account without choosing a password
    user, password = user_create(
        actor=org.admin,
        data={
            "username": "newrep",
            "full_name": "孙新人",
            "email": "NewRep@Example.com",
            "phone": "139 1234 5678",
            "department": org.dept1.pk,
            "supervisor": org.manager.pk,
            "roles": [Role.objects.get(code="sales_rep").pk],
        },
    )
    # Then a generated password works, must be changed at first login, and the rest is stored
    assert password and user.check_password(password)
    assert user.must_change_password is True
    assert user.email == "NewRep@example.com"
    assert user.phone.replace(" ", "").endswith("13912345678")
    assert user.department == org.dept1 and user.supervisor == org.manager
    assert [r.code for r in user.roles.all()] == ["sales_rep"]
    # And the creation is audited
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CREATE, object_id=user.pk)
    assert entry.actor == org.admin


def test_user_create_refuses_bad_input_per_field_and_saves_nothing(org):
    before = User.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        user_create(
            actor=org.admin,
            data={"username": "rep1", "full_name": "", "email": "nope", "phone": "123"},
        )
    assert set(exc.value.fields) >= {"username", "full_name", "email", "phone"}
    assert User.objects.count() == before


def test_user_create_refuses_a_weak_initial_password(org):
    with pytest.raises(ValidationFailed) as exc:
        user_create(
            actor=org.admin,
            data={
                "username": "weak",
                "full_name": "弱密码",
                "password": "123",
                "roles": [Role.objects.get(code="sales_rep").pk],
            },
        )
    assert "password" in exc.value.fields
    assert not User.objects.filter(username="weak").exists()


@pytest.mark.parametrize("who", ["rep1", "manager", "exec"])
def test_only_administrators_create_accounts(org, who):
    with pytest.raises(PermissionDeniedError):
        user_create(actor=getattr(org, who), data={"username": "x1", "full_name": "某人"})
    assert not User.objects.filter(username="x1").exists()


def test_password_reset_gives_a_new_initial_password(org):
    password = user_password_reset(actor=org.admin, user=org.rep1)
    rep1 = _fresh(org.rep1)
    assert rep1.check_password(password) and not rep1.check_password(org.password)
    assert rep1.must_change_password is True
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.PASSWORD_CHANGE, object_id=rep1.pk, actor=org.admin
    ).exists()


def test_password_reset_revokes_the_users_api_tokens(org):
    from crm.accounts.services import api_token_authenticate, api_token_create

    # given rep1 has an API token in use
    _token, raw = api_token_create(user=org.rep1, name="ERP")
    assert api_token_authenticate(raw) == org.rep1

    # when an administrator resets rep1's password (the account may be compromised)
    user_password_reset(actor=org.admin, user=org.rep1)

    # then the token no longer works
    assert api_token_authenticate(raw) is None


# --- reporting lines ------------------------------------------------------------------------


def test_supervisor_cycles_are_refused(org):
    # Given rep1 reports to manager
    # When manager is made to report to rep1 (a cycle)
    with pytest.raises(ValidationFailed) as exc:
        user_update(actor=org.admin, user=org.manager, data={"supervisor": org.rep1.pk})
    # Then it is refused on the supervisor field and nothing changes
    assert "supervisor" in exc.value.fields
    assert _fresh(org.manager).supervisor_id is None


def test_a_deeper_supervisor_cycle_is_refused_too(org):
    lead = UserFactory(supervisor=org.rep1)
    with pytest.raises(ValidationFailed):
        user_update(actor=org.admin, user=org.manager, data={"supervisor": lead.pk})


def test_nobody_reports_to_themselves(org):
    with pytest.raises(ValidationFailed) as exc:
        user_update(actor=org.admin, user=org.rep1, data={"supervisor": org.rep1.pk})
    assert "supervisor" in exc.value.fields


def test_changing_a_users_roles_is_audited_as_a_permission_change(org):
    user_update(
        actor=org.admin,
        user=org.rep1,
        data={"roles": [Role.objects.get(code="sales_manager").pk]},
    )
    entry = AuditEntry.objects.get(
        action=AuditEntry.Action.PERMISSION_CHANGE, object_id=org.rep1.pk
    )
    assert any(c["field"] == "roles" for c in entry.changes)


# --- departments ----------------------------------------------------------------------------


def test_department_with_active_members_cannot_be_deactivated(org):
    with pytest.raises(ValidationFailed) as exc:
        department_deactivate(actor=org.admin, department=org.dept1)
    assert "department" in exc.value.fields
    assert Department.objects.get(pk=org.dept1.pk).is_active


def test_department_with_an_active_sub_department_cannot_be_deactivated(org):
    parent = DepartmentFactory(name="华东大区")
    DepartmentFactory(name="上海组", parent=parent)
    with pytest.raises(ValidationFailed):
        department_deactivate(actor=org.admin, department=parent)


def test_an_empty_department_is_deactivated_audited_and_can_come_back(org):
    empty = department_save(actor=org.admin, data={"name": "临时项目组", "parent": org.dept1.pk})
    department_deactivate(actor=org.admin, department=empty)
    assert not Department.objects.get(pk=empty.pk).is_active
    assert AuditEntry.objects.filter(object_id=empty.pk, action=AuditEntry.Action.DELETE).exists()
    department_reactivate(actor=org.admin, department=Department.objects.get(pk=empty.pk))
    assert Department.objects.get(pk=empty.pk).is_active


def test_a_department_cannot_move_inside_its_own_subtree(org):
    child = department_save(actor=org.admin, data={"name": "一组", "parent": org.dept1.pk})
    with pytest.raises(ValidationFailed) as exc:
        department_save(
            actor=org.admin, department=org.dept1, data={"name": "销售一部", "parent": child.pk}
        )
    assert "parent" in exc.value.fields


# --- roles (ORG-2) --------------------------------------------------------------------------


def test_role_permission_change_is_audited_and_applies(org):
    role = Role.objects.get(code="sales_rep")
    # When an administrator lets sales reps export, with their own scope
    role_save(
        actor=org.admin,
        role=role,
        data={
            "name": role.name,
            "permissions": {"customers": {"actions": ["view", "export"], "scope": "own"}},
        },
    )
    # Then the grant changes for the next request and the change is in the audit trail
    assert user_can(_fresh(org.rep1), "customers", "export")
    assert not user_can(_fresh(org.rep1), "customers", "create")
    entry = AuditEntry.objects.filter(
        action=AuditEntry.Action.PERMISSION_CHANGE, object_id=role.pk
    ).latest("id")
    assert entry.actor == org.admin
    assert any(c["field"] == "customers" for c in entry.changes)


def test_role_with_unknown_action_or_scope_is_refused(org):
    role = Role.objects.get(code="sales_rep")
    with pytest.raises(ValidationFailed) as exc:
        role_save(
            actor=org.admin,
            role=role,
            data={
                "name": role.name,
                "permissions": {"customers": {"actions": ["fly"], "scope": "galaxy"}},
            },
        )
    assert {"permissions.customers.actions", "permissions.customers.scope"} <= set(exc.value.fields)


def test_the_last_way_into_settings_cannot_be_removed(org):
    # Given the admin role is the only one that may configure settings
    admin_role = Role.objects.get(code="admin")
    # When someone removes its configure permission
    with pytest.raises(ValidationFailed):
        role_save(
            actor=org.admin,
            role=admin_role,
            data={"name": admin_role.name, "permissions": {"settings": {"actions": ["view"]}}},
        )
    # Then nothing changed: the administrator still gets in
    perm = RolePermission.objects.get(role=admin_role, module="settings")
    assert "configure" in perm.actions
    assert user_can(_fresh(org.admin), "settings", "configure")


def test_administrator_cannot_drop_their_own_last_admin_role(org):
    with pytest.raises(ValidationFailed) as exc:
        user_update(actor=org.admin, user=org.admin, data={"roles": []})
    assert "roles" in exc.value.fields
    assert _fresh(org.admin).roles.filter(code="admin").exists()


# --- lockout helpers ------------------------------------------------------------------------


def test_unlock_clears_a_lockout(org, client):
    for _ in range(5):
        client.post("/account/login/", {"username": "rep2", "password": "wrong"})
    assert users_locked_out(usernames=["rep2", "rep1"]) == {"rep2"}
    user_unlock(actor=org.admin, user=org.rep2)
    assert users_locked_out(usernames=["rep2"]) == set()


def test_reactivated_user_can_log_in_again(org, client):
    from crm.accounts.services import user_deactivate

    user_deactivate(actor=org.admin, user=org.rep3)
    user_reactivate(actor=org.admin, user=_fresh(org.rep3))
    response = client.post("/account/login/", {"username": "rep3", "password": org.password})
    assert response.status_code == 302
