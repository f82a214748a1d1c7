"""Seed the lists and the numbering rule the leads, the pool and the lifecycle use (issue 7).

Every seeded entry missing from an installation is added (the new lists, the new sources
官网表单 and 线下沙龙, the customer loss reasons of issue 7 §5); entries an administrator
already has under the same code keep their labels.
"""

import uuid

from django.db import migrations
from django.utils import timezone


def seed(apps, schema_editor):
    from crm.core.dictionaries import SEED
    from crm.core.numbering import DEFAULT_RULES

    DictionaryItem = apps.get_model("core", "DictionaryItem")
    NumberingRule = apps.get_model("core", "NumberingRule")
    for kind, rows in SEED.items():
        for i, (code, zh, en) in enumerate(rows):
            DictionaryItem.objects.get_or_create(
                kind=kind, code=code, defaults={"label": zh, "label_en": en, "position": i * 10}
            )
    for key, rule in DEFAULT_RULES.items():
        NumberingRule.objects.get_or_create(key=key, defaults=rule)
    apps.get_model("core", "ConfigStamp").objects.update(
        token=uuid.uuid4().hex, changed_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0006_seed_issue6_lists")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
