"""Indexes measured with bench/ at 1M customers on PostgreSQL.

1. The list indexes become partial (WHERE deleted_at IS NULL) on the list's sort columns.
   PostgreSQL does not treat "deleted_at IS NULL" as an equality, so an index led by deleted_at
   could not deliver rows in created_at order: every list page sorted the whole table (~1 s).
2. PostgreSQL only: the search document is stored as a tsvector (a generated column) and the
   GIN index is built on that column instead of on the to_tsvector() expression. With the
   expression, every row the planner re-checks or filters (lossy bitmap pages, an index walk
   in list order) re-parses the document, about 45 µs a row: a 2-character search within a
   rep's scope took up to 10 s. The stored vector is read, not parsed. The column is not a
   model field (SQLite has no tsvector); the database keeps it up to date on every write, and
   customers.selectors.customer_search names it. Stripped of positions (search never ranks
   or matches phrases), it is a third smaller.
"""

from django.conf import settings
from django.db import migrations, models

VECTOR = (
    "ALTER TABLE customers_customer ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (strip(to_tsvector('simple'::regconfig, search_document))) STORED"
)
# The planner's guess for a token missing from the column's statistics is half the rarest
# listed frequency: with the default 1,000 listed tokens that was ~0.5 % of the table, so
# rare 2-character fragments were taken for common ones and searched by walking the whole
# list (seconds at 1M rows). 10,000 listed tokens bring the guess down to ~0.1 %.
STATISTICS = "ALTER TABLE customers_customer ALTER COLUMN search_vector SET STATISTICS 1000"
# Same name as the expression index it replaces (0002), now over the stored vector.
VECTOR_INDEX = (
    "CREATE INDEX IF NOT EXISTS cust_search_gin ON customers_customer USING gin (search_vector)"
)
OLD_INDEX = (
    "CREATE INDEX IF NOT EXISTS cust_search_gin ON customers_customer "
    "USING gin (to_tsvector('simple'::regconfig, search_document))"
)


def vector_add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS cust_search_gin")
        schema_editor.execute(VECTOR)
        schema_editor.execute(STATISTICS)
        schema_editor.execute(VECTOR_INDEX)


def vector_remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS cust_search_gin")
        schema_editor.execute("ALTER TABLE customers_customer DROP COLUMN IF EXISTS search_vector")
        schema_editor.execute(OLD_INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_search_reindex"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="customer", name="cust_live_created_idx"),
        migrations.RemoveIndex(model_name="customer", name="cust_owner_idx"),
        migrations.RemoveIndex(model_name="customer", name="cust_grade_idx"),
        migrations.RemoveIndex(model_name="customer", name="cust_name_idx"),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["-created_at", "-id"],
                name="cust_live_recent_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["owner", "-created_at", "-id"],
                name="cust_live_owner_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["pinyin", "name", "id"],
                name="cust_live_name_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["grade", "-created_at", "-id"],
                name="cust_live_grade_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["-grade", "-created_at", "-id"],
                name="cust_live_grade_desc_idx",
            ),
        ),
        migrations.RunPython(vector_add, vector_remove),
    ]
