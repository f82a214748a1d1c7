"""Role descriptions in both languages (issue 5 §4): the seeded roles' English descriptions
showed in the Chinese interface. An untouched seeded description becomes the Chinese/English
pair; one an administrator rewrote is kept as it is."""

from django.db import migrations, models


def pair_descriptions(apps, schema_editor):
    from crm.accounts.roles import DEFAULT_ROLES

    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(code__in=list(DEFAULT_ROLES)):
        seed = DEFAULT_ROLES[role.code]
        if role.description in ("", seed.description_en):
            role.description = seed.description
            role.description_en = role.description_en or seed.description_en
            role.save(update_fields=["description", "description_en"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_seed_roles")]
    operations = [
        migrations.AddField(
            model_name="role",
            name="description_en",
            field=models.CharField(
                blank=True, max_length=200, verbose_name="description (English)"
            ),
        ),
        migrations.RunPython(pair_descriptions, migrations.RunPython.noop),
    ]
