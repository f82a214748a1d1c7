"""Default roles (ORG-2). Seeded once; administrators edit them in Settings.

Names and descriptions are stored in both languages (name/name_en, description/
description_en, like a list entry's label/label_en), so an administrator who renames a role
renames it in both and the interface never shows a seed text in the wrong language.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from crm.accounts.models import Role, RolePermission
from crm.core.configstate import config_changed
from crm.core.permissions import MODULES

ALL_CUSTOMER_ACTIONS = list(MODULES["customers"].actions)
ALL_OPPORTUNITY_ACTIONS = list(MODULES["opportunities"].actions)
ALL_FOLLOWUP_ACTIONS = list(MODULES["followups"].actions)
ALL_LEAD_ACTIONS = list(MODULES["leads"].actions)


@dataclass(frozen=True)
class RoleSeed:
    name: str
    name_en: str
    description: str
    description_en: str
    # module: (actions, scope)
    permissions: dict[str, tuple[list[str], str]]


DEFAULT_ROLES: dict[str, RoleSeed] = {
    "admin": RoleSeed(
        "系统管理员",
        "Administrator",
        "管理用户、角色、数据字典及全部数据",
        "Manages users, roles, lists and all data",
        {code: (list(m.actions), "all") for code, m in MODULES.items()},
    ),
    "sales_manager": RoleSeed(
        "销售经理",
        "Sales manager",
        "本人及下属的客户；客户转移与审批",
        "Own and subordinates' customers; transfers and approvals",
        {
            "customers": (ALL_CUSTOMER_ACTIONS, "subordinates"),
            "opportunities": (ALL_OPPORTUNITY_ACTIONS, "subordinates"),
            "followups": (ALL_FOLLOWUP_ACTIONS, "subordinates"),
            "leads": (ALL_LEAD_ACTIONS, "subordinates"),
            "pool": (["view", "claim"], "all"),
            "audit": (["view"], "subordinates"),
        },
    ),
    "sales_rep": RoleSeed(
        "销售代表",
        "Sales rep",
        "本人负责的客户",
        "Own customers",
        {
            "customers": (["view", "create", "edit", "view_contact"], "own"),
            "opportunities": (["view", "create", "edit"], "own"),
            "followups": (["view", "create", "edit"], "own"),
            "leads": (["view", "create", "edit"], "own"),
            "pool": (["view", "claim"], "all"),
        },
    ),
    "customer_service": RoleSeed(
        "客服专员",
        "Customer service",
        "查看全部客户，以便提供服务",
        "Reads every customer to serve them",
        {
            "customers": (["view", "view_contact"], "all"),
            # Service reads customers' opportunities and follow-ups to serve them, read-only.
            "opportunities": (["view"], "all"),
            "followups": (["view"], "all"),
        },
    ),
    "finance": RoleSeed(
        "财务",
        "Finance",
        "查看全部客户，用于开票与回款",
        "Reads every customer for invoicing and collection",
        {
            "customers": (["view", "export"], "all"),
            # Won deals are what finance invoices and collects.
            "opportunities": (["view", "export"], "all"),
        },
    ),
    "executive": RoleSeed(
        "高管",
        "Executive",
        "查看全部数据，不做修改",
        "Reads everything, changes nothing",
        {
            "customers": (["view", "export", "view_contact"], "all"),
            "opportunities": (["view", "export"], "all"),
            "followups": (["view", "export"], "all"),
            "leads": (["view", "export"], "all"),
            "pool": (["view"], "all"),
            "audit": (["view"], "all"),
        },
    ),
}


@transaction.atomic
def roles_seed() -> None:
    """Create the default roles that are missing; existing roles keep their edits."""
    for code, seed in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(
            code=code,
            defaults={
                "name": seed.name,
                "name_en": seed.name_en,
                "description": seed.description,
                "description_en": seed.description_en,
                "is_system": True,
            },
        )
        if not created:
            continue
        RolePermission.objects.bulk_create(
            RolePermission(role=role, module=module, actions=actions, scope=scope)
            for module, (actions, scope) in seed.permissions.items()
        )
    config_changed()  # bulk_create sends no signals
