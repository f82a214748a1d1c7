"""Default roles (ORG-2). Seeded once; administrators edit them in Settings."""

from __future__ import annotations

from django.db import transaction

from crm.accounts.models import Role, RolePermission
from crm.core.configstate import config_changed
from crm.core.permissions import MODULES

ALL_CUSTOMER_ACTIONS = list(MODULES["customers"].actions)

# code: (Chinese name, English name, description, {module: (actions, scope)})
DEFAULT_ROLES: dict[str, tuple[str, str, str, dict[str, tuple[list[str], str]]]] = {
    "admin": (
        "系统管理员",
        "Administrator",
        "Manages users, roles, lists and all data",
        {code: (list(m.actions), "all") for code, m in MODULES.items()},
    ),
    "sales_manager": (
        "销售经理",
        "Sales manager",
        "Own and subordinates' customers; transfers and approvals",
        {
            "customers": (ALL_CUSTOMER_ACTIONS, "subordinates"),
            "audit": (["view"], "subordinates"),
        },
    ),
    "sales_rep": (
        "销售代表",
        "Sales rep",
        "Own customers",
        {"customers": (["view", "create", "edit", "view_contact"], "own")},
    ),
    "customer_service": (
        "客服专员",
        "Customer service",
        "Reads every customer to serve them",
        {"customers": (["view", "view_contact"], "all")},
    ),
    "finance": (
        "财务",
        "Finance",
        "Reads every customer for invoicing and collection",
        {"customers": (["view", "export"], "all")},
    ),
    "executive": (
        "高管",
        "Executive",
        "Reads everything, changes nothing",
        {
            "customers": (["view", "export", "view_contact"], "all"),
            "audit": (["view"], "all"),
        },
    ),
}


@transaction.atomic
def roles_seed() -> None:
    """Create the default roles that are missing; existing roles keep their edits."""
    for code, (name, name_en, description, perms) in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "description": description,
                "is_system": True,
            },
        )
        if not created:
            continue
        RolePermission.objects.bulk_create(
            RolePermission(role=role, module=module, actions=actions, scope=scope)
            for module, (actions, scope) in perms.items()
        )
    config_changed()  # bulk_create sends no signals
