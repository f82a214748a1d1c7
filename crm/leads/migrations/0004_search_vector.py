"""Lead search through the customers' mechanism (crm.core.search): the index tokens of each
lead's searched texts (`search_document`, filled for existing leads here) and, on PostgreSQL,
their stored vector with a GIN index. Without it a search scanned leads until a page was full
and a rare term read all of them (bench at 300k leads: p95 139–213 ms)."""

from django.db import migrations, models


def documents_fill(apps, schema_editor):
    from crm.leads.services import lead_search_values

    Lead = apps.get_model("leads", "Lead")
    batch = []
    for lead in Lead.objects.only("id", "company", "number", "name", "phone", "email").iterator(
        chunk_size=2000
    ):
        lead.search_document = lead_search_values(lead)["search_document"]
        batch.append(lead)
        if len(batch) >= 2000:
            Lead.objects.bulk_update(batch, ["search_document"])
            batch = []
    if batch:
        Lead.objects.bulk_update(batch, ["search_document"])


def vector_add(apps, schema_editor):
    from crm.core.search import search_vector_sql

    if schema_editor.connection.vendor == "postgresql":
        for statement in search_vector_sql("leads_lead", "lead_search_gin"):
            schema_editor.execute(statement)
        # The planner needs the new column's statistics at once: without them a common
        # 2-character term was searched by walking the list (p95 120-240 ms at 300k leads).
        schema_editor.execute("ANALYZE leads_lead")


def vector_remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS lead_search_gin")
        schema_editor.execute("ALTER TABLE leads_lead DROP COLUMN IF EXISTS search_vector")


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_clock_indexes")]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="search_document",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(documents_fill, migrations.RunPython.noop),
        migrations.RunPython(vector_add, vector_remove),
    ]
