"""Seed the lists and the numbering rule the opportunities and follow-ups use (issue 6).

0002 seeded what existed then; an installation made before issue 6 gets the new lists here,
and entries an administrator already added under the same code are left alone.
"""

import uuid

from django.db import migrations
from django.utils import timezone

KINDS = ("opportunity_lost_reason", "milestone", "followup_method")


def seed(apps, schema_editor):
    from crm.core.dictionaries import SEED
    from crm.core.numbering import DEFAULT_RULES

    DictionaryItem = apps.get_model("core", "DictionaryItem")
    NumberingRule = apps.get_model("core", "NumberingRule")
    for kind in KINDS:
        for i, (code, zh, en) in enumerate(SEED[kind]):
            DictionaryItem.objects.get_or_create(
                kind=kind, code=code, defaults={"label": zh, "label_en": en, "position": i * 10}
            )
    NumberingRule.objects.get_or_create(key="opportunity", defaults=DEFAULT_RULES["opportunity"])
    apps.get_model("core", "ConfigStamp").objects.update(
        token=uuid.uuid4().hex, changed_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0005_attachment_timelineentry")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
