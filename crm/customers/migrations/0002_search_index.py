"""PostgreSQL only: the GIN index behind customer search, and trigram-free n-gram tokens.

The expression must match the one in customers.selectors.customer_search exactly.
SQLite has no text-search index; it scans, which is fine at embedded sizes.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS cust_search_gin ON customers_customer "
    "USING gin (to_tsvector('simple'::regconfig, search_document))"
)
DROP = "DROP INDEX IF EXISTS cust_search_gin"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
