"""Seed the default roles of REQUIREMENTS ORG-2."""

from django.db import migrations


def seed(apps, schema_editor):
    from crm.accounts.roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    RolePermission = apps.get_model("accounts", "RolePermission")
    for code, (name, name_en, description, perms) in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "description": description,
                      "is_system": True},
        )
        if created:
            for module, (actions, scope) in perms.items():
                RolePermission.objects.create(role=role, module=module, actions=actions,
                                              scope=scope)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
