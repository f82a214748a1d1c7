"""The modules' declarations: every module of issue 8 is there, headers are unique."""

import pytest
from django.test import RequestFactory

from crm.dataio.registry import dataio_module, dataio_modules

MODULES = ["customers", "contacts", "leads", "opportunities", "followups"]


def test_every_module_declared():
    assert sorted(m.key for m in dataio_modules()) >= sorted(MODULES)
    with pytest.raises(KeyError):
        dataio_module("nothing")


@pytest.mark.django_db
@pytest.mark.parametrize("key", MODULES)
def test_columns_unique_keys_and_labels(key):
    module = dataio_module(key)
    columns = module.columns()
    assert len({c.key for c in columns}) == len(columns)
    assert len({str(c.label) for c in columns}) == len(columns)


@pytest.mark.django_db
@pytest.mark.parametrize("key", MODULES)
def test_rows_and_values_read(key):
    from crm.tests_support.activities import followup_make
    from crm.tests_support.factories import customer_make, org_build
    from crm.tests_support.leads import lead_make
    from crm.tests_support.sales import opportunity_make

    org = org_build()
    customer = customer_make(owner=org.rep1)
    followup_make(customer=customer)
    lead_make(owner=org.rep1)
    opportunity_make(customer=customer, owner=org.rep1)
    module = dataio_module(key)
    params = RequestFactory().get("/", {"q": ""}).GET
    rows = list(module.rows(org.admin, params))
    assert rows
    for obj in rows:
        for column in module.columns():
            module.value(obj, column)
    assert list(module.deleted_rows(org.admin, params)) == [] if module.deleted_rows else True
