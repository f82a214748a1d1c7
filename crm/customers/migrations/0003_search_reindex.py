"""Recompute every customer's search keys: the index document now holds 'w'-marked suffixes
of Latin/digit words and 4-digit windows of every digit run, derived from exactly the texts
the exact check matches (see crm.core.text.search_document). Rows written before would be
missed by the PostgreSQL index for pinyin-initial and word queries."""

from django.db import migrations


def forwards(apps, schema_editor):
    from crm.customers.services import customers_search_reindex

    customers_search_reindex(
        customer_model=apps.get_model("customers", "Customer"),
        contact_model=apps.get_model("customers", "Contact"),
    )


class Migration(migrations.Migration):
    # Each batch commits on its own: a large table is not rewritten in one transaction.
    atomic = False
    dependencies = [("customers", "0002_search_index")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
