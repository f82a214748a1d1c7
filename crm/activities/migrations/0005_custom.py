"""The `custom` column of custom field values (SYS-1, issue 8 §1).

PostgreSQL only: a GIN index (jsonb_path_ops) on the column serves the lists' equality and
membership filters (`custom @> '{"key": value}'`); range filters get a btree expression index
per field, created by crm.core.customfields when a number or date field is defined.
"""

from django.db import migrations, models

TABLES = ['activities_followup']


def gin_add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_custom_gin ON {table} "
                "USING gin (custom jsonb_path_ops)"
            )


def gin_remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {table}_custom_gin")


class Migration(migrations.Migration):

    dependencies = [
        ('activities', '0004_followup_reminder_markers'),
    ]

    operations = [
        migrations.AddField(
            model_name='followup',
            name='custom',
            field=models.JSONField(blank=True, default=dict, verbose_name='custom fields'),
        ),
        migrations.RunPython(gin_add, gin_remove),
    ]
