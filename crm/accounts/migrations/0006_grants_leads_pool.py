"""Give the default roles their grants for the leads and the public pool (issue 7 §1, §4).

roles_seed() only creates missing roles, so an installation that already has them gets the
new modules' rows here; a role whose administrator already granted the module keeps its row.
"""

import uuid

from django.db import migrations
from django.utils import timezone

MODULES = ("leads", "pool")


def grant(apps, schema_editor):
    from crm.accounts.roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    RolePermission = apps.get_model("accounts", "RolePermission")
    for code, seed in DEFAULT_ROLES.items():
        role = Role.objects.filter(code=code).first()
        if role is None:
            continue
        for module in MODULES:
            if module not in seed.permissions:
                continue
            actions, scope = seed.permissions[module]
            RolePermission.objects.get_or_create(
                role=role, module=module, defaults={"actions": actions, "scope": scope}
            )
    apps.get_model("core", "ConfigStamp").objects.update(
        token=uuid.uuid4().hex, changed_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_grants_opportunities_followups"),
        ("core", "0004_merge_0003_audit_account_locked_0003_configstamp"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
