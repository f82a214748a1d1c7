"""ORG-2, SYS-5: function permissions and data scopes of every default role, custom department
scopes, several roles at once, inactive users."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from crm.accounts.models import Department, User
from crm.accounts.services import role_save
from crm.core.configstate import config_scope
from crm.core.permissions import Grant, Scope
from crm.core.scope import (
    scope_filter,
    subordinate_ids,
    user_can,
    user_grants,
    users_assignable_by,
)
from crm.customers.models import Customer
from crm.tests_support.factories import UserFactory, customer_make

ALL_ACTIONS = {"view", "create", "edit", "delete", "export", "transfer", "approve", "view_contact"}


def fresh(user: User) -> User:
    """The user as a new request would load it (grants are cached per user object)."""
    return User.objects.get(pk=user.pk)


def visible_owners(user: User) -> set[str]:
    """Usernames of the owners whose customers `user` may see."""
    rows = Customer.objects.filter(scope_filter(fresh(user), "customers"))
    return set(rows.values_list("owner__username", flat=True))


def custom_role(admin: User, code: str, scope: str, actions=("view",)):
    return role_save(
        actor=admin,
        data={
            "code": code,
            "name": code,
            "permissions": {"customers": {"actions": list(actions), "scope": scope}},
        },
    )


@pytest.fixture
def world(org):
    """The demo org, plus a rep under rep1 (three levels below the manager), a sub-team
    department under 销售一部 with its own rep, and one customer per owner."""
    east = Department.objects.create(name="华东组", parent=org.dept1)
    subrep = UserFactory(
        username="subrep", department=org.dept1, supervisor=org.rep1, roles=["sales_rep"]
    )
    eastrep = UserFactory(username="eastrep", department=east, roles=["sales_rep"])
    owners = [
        org.admin,
        org.manager,
        org.rep1,
        org.rep2,
        subrep,
        eastrep,
        org.manager2,
        org.rep3,
        org.service,
    ]
    for owner in owners:
        if owner is org.service:
            # Customer service may not be made owner today (customers' owner_actions), but a
            # record can still be owned by someone whose role changed later: it stays in scope.
            made = customer_make(owner=org.admin, actor=org.admin)
            Customer.objects.filter(pk=made.pk).update(owner=owner)
        else:
            customer_make(owner=owner, actor=org.admin)
    return SimpleNamespace(org=org, east=east, subrep=subrep, eastrep=eastrep)


EVERYONE = {"admin", "manager", "rep1", "rep2", "subrep", "eastrep", "manager2", "rep3", "service"}


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("admin", EVERYONE),
        # own + subordinates at any depth: subrep reports to rep1, who reports to manager
        ("manager", {"manager", "rep1", "rep2", "subrep"}),
        ("manager2", {"manager2", "rep3"}),
        ("rep1", {"rep1"}),
        ("rep3", {"rep3"}),
        ("subrep", {"subrep"}),
        ("service", EVERYONE),
        ("finance", EVERYONE),
        ("exec", EVERYONE),
    ],
)
def test_each_default_role_sees_exactly_its_scope(world, username, expected):
    assert visible_owners(User.objects.get(username=username)) == expected


@pytest.mark.parametrize(
    ("username", "actions"),
    [
        ("admin", ALL_ACTIONS),
        ("manager", ALL_ACTIONS),
        ("rep1", {"view", "create", "edit", "view_contact"}),
        ("service", {"view", "view_contact"}),
        ("finance", {"view", "export"}),
        # the executive reads everything and changes nothing
        ("exec", {"view", "export", "view_contact"}),
    ],
)
def test_each_default_role_has_its_function_permissions(org, username, actions):
    user = fresh(User.objects.get(username=username))
    assert {a for a in ALL_ACTIONS if user_can(user, "customers", a)} == actions


def test_department_scope_covers_the_members_of_the_users_own_department(world):
    org = world.org
    custom_role(org.admin, "dept_viewer", Scope.DEPARTMENT)
    viewer = UserFactory(department=org.dept1, roles=["dept_viewer"])
    # members of 销售一部 only: not its sub-department 华东组
    assert visible_owners(viewer) == {"manager", "rep1", "rep2", "subrep"}


def test_department_tree_scope_includes_sub_departments(world):
    org = world.org
    custom_role(org.admin, "tree_viewer", Scope.DEPARTMENT_TREE)
    viewer = UserFactory(department=org.dept1, roles=["tree_viewer"])
    assert visible_owners(viewer) == {"manager", "rep1", "rep2", "subrep", "eastrep"}
    # from the sub-department, the tree is only the sub-department
    east_viewer = UserFactory(department=world.east, roles=["tree_viewer"])
    assert visible_owners(east_viewer) == {"eastrep"}


def test_a_department_scope_without_a_department_means_own_records(world):
    org = world.org
    custom_role(org.admin, "dept_viewer", Scope.DEPARTMENT, actions=("view", "create", "edit"))
    loner = UserFactory(department=None, roles=["dept_viewer"])
    customer_make(owner=loner, actor=org.admin)
    assert visible_owners(loner) == {loner.username}
    # and may not hand records to everyone else who has no department either
    assert set(users_assignable_by(fresh(loner), "customers")) == {loner}


def test_two_roles_give_the_union_of_actions_and_the_widest_scope(world):
    org = world.org
    custom_role(org.admin, "dept_exporter", Scope.DEPARTMENT, actions=("view", "export"))
    rep = UserFactory(department=org.dept2, roles=["sales_rep", "dept_exporter"])
    user = fresh(rep)
    assert {a for a in ALL_ACTIONS if user_can(user, "customers", a)} == {
        "view",
        "create",
        "edit",
        "view_contact",
        "export",
    }
    assert user_grants(user)["customers"].scope == Scope.DEPARTMENT
    assert visible_owners(rep) == {"manager2", "rep3"}


def test_scopes_that_do_not_contain_each_other_are_combined(world):
    # A manager in 销售二部 whose subordinate sits in 销售一部, who also holds a department
    # role: sees the subordinate's customers (team) AND the department's (department).
    org = world.org
    custom_role(org.admin, "dept_viewer", Scope.DEPARTMENT)
    boss = UserFactory(
        username="boss", department=org.dept2, roles=["sales_manager", "dept_viewer"]
    )
    User.objects.filter(pk=world.subrep.pk).update(supervisor=boss)
    assert visible_owners(boss) == {"manager2", "rep3", "subrep"}


def test_the_widest_scope_wins_over_narrower_ones(world):
    org = world.org
    custom_role(org.admin, "all_viewer", Scope.ALL)
    rep = UserFactory(department=org.dept1, roles=["sales_rep", "all_viewer"])
    assert visible_owners(rep) == EVERYONE


def test_an_inactive_user_gets_nothing(world):
    org = world.org
    User.objects.filter(pk=org.exec.pk).update(is_active=False)
    user = fresh(org.exec)
    assert visible_owners(user) == set()
    assert not user_can(user, "customers", "view")
    assert not users_assignable_by(user, "customers").exists()


def test_a_user_without_roles_or_without_view_gets_nothing(world):
    org = world.org
    nobody = UserFactory(department=org.dept1)
    assert visible_owners(nobody) == set()
    custom_role(org.admin, "creator_only", Scope.ALL, actions=("create",))
    creator = UserFactory(department=org.dept1, roles=["creator_only"])
    assert visible_owners(creator) == set()


def test_an_anonymous_user_gets_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert not Customer.objects.filter(scope_filter(AnonymousUser(), "customers")).exists()
    assert not user_can(AnonymousUser(), "customers", "view")


def test_a_superuser_sees_everything_even_without_roles(world):
    root = UserFactory(is_superuser=True)
    assert visible_owners(root) == EVERYONE


def test_users_assignable_follow_the_scope(world):
    org = world.org
    assert set(users_assignable_by(fresh(org.rep1), "customers")) == {org.rep1}
    assert set(users_assignable_by(fresh(org.manager), "customers")) == {
        org.manager,
        org.rep1,
        org.rep2,
        world.subrep,
    }
    # an inactive subordinate can no longer receive records
    User.objects.filter(pk=org.rep2.pk).update(is_active=False)
    assert org.rep2 not in set(users_assignable_by(fresh(org.manager), "customers"))


def test_grants_are_read_once_per_user_object(world, django_assert_num_queries):
    user = fresh(world.org.manager)
    with config_scope():
        scope_filter(user, "customers")
        with django_assert_num_queries(0):
            scope_filter(user, "customers")
            user_can(user, "customers", "edit")


def test_grants_and_the_team_are_parsed_once_per_process_until_the_stamp_changes(
    world, django_assert_num_queries
):
    """Issue 5 §6: a request that checks grants and builds the scope filter reads the stamp
    and nothing else, once the process has parsed roles and the supervisor chain."""
    manager = world.org.manager
    with config_scope():
        scope_filter(fresh(manager), "customers")  # the first request of the process parses
    # given a later request (a new user object, as every request loads)
    user = fresh(manager)
    with config_scope(), django_assert_num_queries(1):  # the stamp
        q = scope_filter(user, "customers")
        assert user_can(user, "customers", "transfer")
    # when an administrator gives the manager another subordinate
    UserFactory(username="newrep", supervisor=manager, roles=["sales_rep"])
    # then the next request sees it: the stamp changed, the chain is read again
    with config_scope():
        wider = scope_filter(fresh(manager), "customers")
    assert wider != q
    assert User.objects.get(username="newrep").pk in subordinate_ids(fresh(manager))


def test_an_unknown_scope_in_the_table_never_widens_anything():
    grant = Grant()
    grant.widen(["view"], "everything-please")
    assert grant.scope == Scope.OWN
    assert grant.effective_scopes() == {Scope.OWN}


def test_scope_covers_answers_like_the_scope_filter(org):
    from crm.core.scope import scope_covers

    # own: only oneself; subordinates: the team; all: everyone; nothing without "view"
    assert scope_covers(org.rep1, "customers", org.rep1)
    assert not scope_covers(org.rep1, "customers", org.rep2)
    assert scope_covers(org.manager, "customers", org.rep2)
    assert not scope_covers(org.manager, "customers", org.rep3)
    assert scope_covers(org.service, "customers", org.rep3)
    assert not scope_covers(org.finance, "followups", org.rep1)
    assert not scope_covers(org.rep1, "customers", None)
