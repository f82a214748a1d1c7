"""Backfill the customer timeline (CUS-11) from the audit trail: every customer's creation,
field changes, contact changes, transfers, deletions and restores written before the timeline
existed, so existing installs (and the demo) show their history there.

Idempotent: customers that already have lines of the customer module are skipped."""

from django.db import migrations


def forwards(apps, schema_editor):
    from crm.customers.timeline import timeline_backfill

    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type = ContentType.objects.filter(app_label="customers", model="customer").first()
    if content_type is None:  # a fresh database: nothing was audited yet
        return
    timeline_backfill(
        audit_model=apps.get_model("core", "AuditEntry"),
        timeline_model=apps.get_model("core", "TimelineEntry"),
        customer_model=apps.get_model("customers", "Customer"),
        content_type_id=content_type.pk,
    )


class Migration(migrations.Migration):
    # Each batch commits on its own: a large audit trail is not copied in one transaction.
    atomic = False
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0005_attachment_timelineentry"),
        ("customers", "0006_customer_next_followup_at"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
