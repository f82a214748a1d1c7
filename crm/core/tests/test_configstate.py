"""Issue 5 §1 and §6: configuration changed in one process reaches every other at its next
request, and is read there from a parsed, stamp-keyed process cache (no query per lookup, no
unpickling).

Two `ProcessConfigCache` instances stand for two web workers: each keeps what it parsed, as a
worker's memory would, and only the stamp in the database tells them something changed.
"""

from __future__ import annotations

import pickle

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from crm.accounts.services import role_save, user_update
from crm.core import configstate
from crm.core.config import setting_get, settings_update
from crm.core.configstate import ProcessConfigCache, config_changed, config_scope
from crm.core.dictionaries import dictionary_item_save, dictionary_label
from crm.core.scope import user_can
from crm.tests_support.api import api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def processes(monkeypatch):
    """Two web processes' configuration caches; `use(name)` makes one the current process."""
    caches = {"a": ProcessConfigCache(), "b": ProcessConfigCache()}

    def use(name: str) -> ProcessConfigCache:
        monkeypatch.setattr(configstate, "process_cache", caches[name])
        return caches[name]

    use.caches = caches  # type: ignore[attr-defined]
    return use


def industries(api) -> set[str]:
    return {i["code"] for i in api.get("dictionaries/industry").json()}


def customer_body(industry: str) -> dict:
    return {
        "type": "individual",
        "name": "王小明",
        "industry": industry,
        "phone": "13812345678",
    }


def test_an_industry_added_in_one_process_is_accepted_by_the_other_at_its_next_request(
    org, processes
):
    admin, rep = api_as(org.admin), api_as(org.rep1)
    # given both processes have answered requests (each parsed the lists once)
    processes("a")
    assert "biotech" not in industries(admin)
    processes("b")
    assert "biotech" not in industries(rep)
    refused = rep.post("customers", customer_body("biotech"))
    assert refused.status_code == 422
    assert set(refused.json()["fields"]) == {"industry"}
    # when the administrator adds an industry through process A
    processes("a")
    dictionary_item_save(
        actor=org.admin, kind="industry", data={"code": "biotech", "label": "生物科技"}
    )
    # then process B offers and accepts it at its very next request, with no cache shared
    processes("b")
    assert "biotech" in industries(rep)
    response = rep.post("customers", customer_body("biotech"))
    assert response.status_code == 201, response.json()
    assert response.json()["industry_label"] == "生物科技"


def test_a_system_rule_changed_in_one_process_holds_in_the_other_at_once(org, processes):
    processes("a")
    with config_scope():
        assert setting_get("recycle_bin_days") == 30
    processes("b")
    with config_scope():
        assert setting_get("recycle_bin_days") == 30
    processes("a")
    settings_update(actor=org.admin, key="recycle_bin_days", value=7)
    processes("b")
    with config_scope():
        assert setting_get("recycle_bin_days") == 7


def test_a_role_change_in_one_process_changes_what_the_other_allows(org, processes):
    processes("b")
    rep = api_as(org.rep1)
    assert rep.get("recycle-bin/customers").status_code == 403  # reps may not delete
    processes("a")
    role = org.rep1.roles.get(code="sales_rep")
    role_save(
        actor=org.admin,
        role=role,
        data={
            "name": role.name,
            "permissions": {"customers": {"actions": ["view", "delete"], "scope": "own"}},
        },
    )
    processes("b")
    assert rep.get("recycle-bin/customers").status_code == 200


def test_a_new_supervisor_in_one_process_widens_the_scope_in_the_other(org, processes):
    processes("b")
    manager2 = api_as(org.manager2)
    with config_scope():
        assert dictionary_label("industry", "it")  # process B is warm
    mine = {c["id"] for c in manager2.get("customers").json()["items"]}
    processes("a")
    from crm.tests_support.factories import customer_make

    customer = customer_make(owner=org.rep1)
    user_update(actor=org.admin, user=org.rep1, data={"supervisor": org.manager2.pk})
    processes("b")
    now = {c["id"] for c in manager2.get("customers").json()["items"]}
    assert customer.pk in now - mine


def test_a_rolled_back_change_leaves_no_trace_in_the_process_cache(org):
    with config_scope():
        assert dictionary_label("industry", "biotech") == "biotech"
    with pytest.raises(RuntimeError), transaction.atomic():
        dictionary_item_save(
            actor=org.admin, kind="industry", data={"code": "biotech", "label": "生物科技"}
        )
        # inside the transaction the writer sees its own change ...
        assert dictionary_label("industry", "biotech") == "生物科技"
        raise RuntimeError("roll back")
    # ... and after the rollback nobody does, this process included
    with config_scope():
        assert dictionary_label("industry", "biotech") == "biotech"
    # nor after the next change: a counter would now repeat the rolled-back stamp and serve
    # the cached entry again; a random token cannot
    settings_update(actor=org.admin, key="recycle_bin_days", value=9)
    with config_scope():
        assert dictionary_label("industry", "biotech") == "biotech"
        assert setting_get("recycle_bin_days") == 9


def test_the_stamp_is_read_once_per_request_and_nothing_is_parsed_twice(org):
    with config_scope():
        user_can(org.admin, "customers", "view")
        dictionary_label("industry", "it")
        setting_get("duplicate_rules")
    loads = configstate.process_cache.loads
    with config_scope(), CaptureQueriesContext(connection) as ctx:
        for _ in range(50):
            dictionary_label("industry", "it")
            dictionary_label("source", "website")
            setting_get("duplicate_rules")
    assert [q["sql"] for q in ctx.captured_queries] == [
        "SELECT token FROM core_configstamp WHERE id = 1"
    ]
    assert configstate.process_cache.loads == loads


def test_configuration_lookups_never_touch_the_django_cache(org, monkeypatch):
    """With REDIS_URL set every lookup used to be a GET and an unpickle (issue 5 §6)."""
    with config_scope():
        dictionary_label("industry", "it")
    calls: list[str] = []
    monkeypatch.setattr(cache, "get", lambda *a, **k: calls.append("get"))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append("loads"))
    with config_scope():
        for code in ("it", "finance", "retail"):
            dictionary_label("industry", code)
        setting_get("recycle_bin_days")
        user_can(org.manager, "customers", "view")
    assert calls == []


def test_a_flushed_stamp_row_is_recreated_by_the_next_change(org):
    from crm.core.models import ConfigStamp

    ConfigStamp.objects.all().delete()
    with config_scope():
        assert dictionary_label("industry", "it") == "信息技术"
    config_changed()
    assert ConfigStamp.objects.count() == 1
