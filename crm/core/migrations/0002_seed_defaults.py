"""Seed the configurable lists and numbering rules (DESIGN invariant 3)."""

from django.db import migrations


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


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
