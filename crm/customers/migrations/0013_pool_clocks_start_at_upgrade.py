"""Start the pool clocks of existing customers at the upgrade (issue 7 §4).

Customers created before the pool existed have no `owned_since`, so the pool's clocks would
count from their creation and the first sweep would return, without the notice the rules
promise, every unprotected customer not followed up in the last N days. Their owners get the
full N days (and the notice K days before) from the moment the rules arrived, as a company
switching the rules on would expect. Customers the services wrote since keep their own time.
"""

from django.db import migrations
from django.utils import timezone


def start_clocks(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    Customer.objects.filter(owned_since__isnull=True, owner__isnull=False).update(
        owned_since=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("customers", "0012_pool_clock_indexes_whole")]
    operations = [migrations.RunPython(start_clocks, migrations.RunPython.noop)]
