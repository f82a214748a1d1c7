"""Seed the default pipeline stages (OPP-2, seed 000 §3.2)."""

import uuid

from django.db import migrations
from django.utils import timezone


def seed(apps, schema_editor):
    from crm.sales.stages import stages_seed

    stages_seed(stage_model=apps.get_model("sales", "Stage"))
    apps.get_model("core", "ConfigStamp").objects.update(
        token=uuid.uuid4().hex, changed_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial"), ("core", "0004_merge_0003_audit_account_locked_0003_configstamp")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
