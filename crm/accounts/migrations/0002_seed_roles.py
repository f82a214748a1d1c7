"""Seed the default roles of REQUIREMENTS ORG-2."""

from django.db import migrations


def seed(apps, schema_editor):
    from crm.accounts.roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    RolePermission = apps.get_model("accounts", "RolePermission")
    # The English description is what this migration wrote before descriptions were stored
    # in both languages; 0003 turns it into the pair.
    for code, seed in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(
            code=code,
            defaults={"name": seed.name, "name_en": seed.name_en,
                      "description": seed.description_en, "is_system": True},
        )
        if created:
            for module, (actions, scope) in seed.permissions.items():
                RolePermission.objects.create(role=role, module=module, actions=actions,
                                              scope=scope)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
