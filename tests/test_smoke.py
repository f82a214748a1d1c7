"""The quick-start path: migrations seed what the app needs, the demo loads, pages answer."""

import pytest

from crm.core.dictionaries import dictionary_items


@pytest.mark.django_db
def test_migrations_seed_lists_and_roles():
    from crm.accounts.models import Role

    assert {i.code for i in dictionary_items("industry")} >= {"it", "manufacturing"}
    assert set(Role.objects.values_list("code", flat=True)) >= {
        "admin",
        "sales_manager",
        "sales_rep",
        "customer_service",
        "finance",
        "executive",
    }


@pytest.mark.django_db
def test_demo_data_loads_users_of_every_role_and_customers():
    from crm.accounts.models import User
    from crm.customers.models import Customer
    from crm.demo import demo_load

    result = demo_load(password="demo-Passw0rd!", customers=30)
    assert result["customers"] == 30
    assert User.objects.get(username="rep1").supervisor.username == "manager"
    assert Customer.objects.filter(owner__username="rep1").exists()
