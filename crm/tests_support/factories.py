"""factory_boy factories and a small demo org for tests (imported by every app's tests)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import factory

from crm.accounts.models import Department, Role, User
from crm.customers.models import Customer
from crm.customers.services import customer_create

PASSWORD = "test-Passw0rd!"
_seq = itertools.count(1)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"部门{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.roles.set(
                [Role.objects.get(code=c) if isinstance(c, str) else c for c in extracted]
            )
        if create:
            self.save()


def user_with_role(role: str, **kwargs: Any) -> User:
    return UserFactory(roles=[role], **kwargs)


def org_build() -> SimpleNamespace:
    dept1 = DepartmentFactory(name="销售一部")
    dept2 = DepartmentFactory(name="销售二部")
    dept_service = DepartmentFactory(name="客服部")
    admin = UserFactory(username="admin", full_name="管理员", roles=["admin"])
    manager = UserFactory(
        username="manager", full_name="王经理", department=dept1, roles=["sales_manager"]
    )
    rep1 = UserFactory(
        username="rep1", full_name="李明", department=dept1, supervisor=manager, roles=["sales_rep"]
    )
    rep2 = UserFactory(
        username="rep2", full_name="张芳", department=dept1, supervisor=manager, roles=["sales_rep"]
    )
    manager2 = UserFactory(
        username="manager2", full_name="陈经理", department=dept2, roles=["sales_manager"]
    )
    rep3 = UserFactory(
        username="rep3",
        full_name="刘洋",
        department=dept2,
        supervisor=manager2,
        roles=["sales_rep"],
    )
    service = UserFactory(
        username="service", full_name="赵客服", department=dept_service, roles=["customer_service"]
    )
    finance = UserFactory(username="finance", full_name="钱财务", roles=["finance"])
    executive = UserFactory(username="exec", full_name="周总", roles=["executive"])
    return SimpleNamespace(
        admin=admin,
        manager=manager,
        rep1=rep1,
        rep2=rep2,
        manager2=manager2,
        rep3=rep3,
        service=service,
        finance=finance,
        exec=executive,
        dept1=dept1,
        dept2=dept2,
        dept_service=dept_service,
        password=PASSWORD,
    )


def mobile_number(n: int | None = None) -> str:
    """A valid, distinct mainland mobile number."""
    n = next(_seq) if n is None else n
    return f"139{n:08d}"


def customer_make(
    *,
    owner: User,
    actor: User | None = None,
    name: str | None = None,
    contacts: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Customer:
    """Create a customer through the real service (numbering, audit, search keys)."""
    n = next(_seq)
    data = {
        "type": "enterprise",
        "name": name or f"测试{n:05d}科技有限公司",
        "industry": "it",
        "source": "website",
        "grade": "B",
        "owner_id": owner.pk,
        "phone": mobile_number(n),
        **fields,
    }
    if contacts is None:
        contacts = [
            {
                "name": f"联系人{n}",
                "title": "经理",
                "phone": mobile_number(n + 500000),
                "is_primary": True,
            }
        ]
    return customer_create(
        actor=actor or owner, data=data, contacts=contacts, confirm_duplicates=True
    )
