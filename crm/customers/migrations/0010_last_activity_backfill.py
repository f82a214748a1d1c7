"""Customers' last activity (CUS-10) from what they already hold: the latest of their last
follow-up and the latest stage change of their live opportunities (creation, moves, win,
loss, reopening). In batches of ids, each committed on its own (a million customers take a
few minutes on PostgreSQL); only rows still without a value, so an interrupted run resumes."""

from django.db import migrations
from django.db.models import Exists, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest

BATCH = 20000


def backfill(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    StageChange = apps.get_model("sales", "StageChange")
    db = schema_editor.connection.alias
    latest_change = Subquery(
        StageChange.objects.using(db)
        .filter(opportunity__customer_id=OuterRef("pk"), opportunity__deleted_at__isnull=True)
        .order_by()
        .values("opportunity__customer_id")
        .annotate(at=Max("changed_at"))
        .values("at")[:1]
    )
    Opportunity = apps.get_model("sales", "Opportunity")
    if schema_editor.connection.vendor == "postgresql":
        # GREATEST skips NULLs there: the subquery runs once per row.
        value = Greatest(F("last_followup_at"), latest_change)
    else:  # SQLite's MAX() is NULL when any argument is
        value = Greatest(
            Coalesce(F("last_followup_at"), latest_change),
            Coalesce(latest_change, F("last_followup_at")),
        )
    # Only customers with something to count: a customer with neither keeps NULL (its
    # creation counts) without being rewritten, which on a big table is most of the cost
    # (every index gets a new entry for every row rewritten).
    has_activity = Q(last_followup_at__isnull=False) | Exists(
        Opportunity.objects.using(db).filter(customer_id=OuterRef("pk"), deleted_at__isnull=True)
    )
    top = Customer.objects.using(db).aggregate(top=Max("pk"))["top"] or 0
    start = 0
    while start <= top:
        Customer.objects.using(db).filter(
            has_activity, pk__gte=start, pk__lt=start + BATCH, last_activity_at__isnull=True
        ).update(last_activity_at=value)
        start += BATCH


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0009_pool_sweep_indexes"),
        ("sales", "0003_pipeline_totals_indexes"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
