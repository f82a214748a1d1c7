"""The configuration stamp (issue 5 §1, §6): one row, bumped by every configuration write."""

import uuid

from django.db import migrations, models
from django.utils import timezone


def create_row(apps, schema_editor):
    ConfigStamp = apps.get_model("core", "ConfigStamp")
    ConfigStamp.objects.get_or_create(
        pk=1, defaults={"token": uuid.uuid4().hex, "changed_at": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0002_seed_defaults")]
    operations = [
        migrations.CreateModel(
            name="ConfigStamp",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.CharField(max_length=32)),
                ("changed_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "configuration stamp",
                "verbose_name_plural": "configuration stamps",
            },
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
