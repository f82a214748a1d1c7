"""crm.core.duplicates: the lock that makes a blocking duplicate rule hold under concurrency.

The threaded proof (20 parallel creates → one saved) is tests/test_write_races.py; these check
the pieces it relies on, on whichever database the run uses.
"""

from __future__ import annotations

import sqlite3

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction

from crm.core.duplicates import duplicate_keys_lock, duplicate_lock_id

pytestmark = pytest.mark.django_db


def test_the_lock_id_is_stable_and_names_module_field_and_key():
    """Every process must compute the same id (Python's hash() is salted per process)."""
    assert duplicate_lock_id(module="customers", field="name", key="华为") == (
        duplicate_lock_id(module="customers", field="name", key="华为")
    )
    assert duplicate_lock_id(module="customers", field="name", key="x") == -5762881331457638443
    ids = {
        duplicate_lock_id(module=m, field=f, key="x")
        for m, f in [("customers", "name"), ("customers", "email"), ("leads", "name")]
    }
    assert len(ids) == 3
    assert all(-(2**63) <= i < 2**63 for i in ids)  # fits PostgreSQL's bigint


def test_the_lock_outside_a_transaction_is_a_programming_error(monkeypatch):
    """A lock outside the inserting transaction would be released before the insert."""
    monkeypatch.setattr(connections["default"], "in_atomic_block", False)
    with pytest.raises(RuntimeError):
        duplicate_keys_lock(module="customers", keys={"name": ["x"]})


@pytest.mark.postgres
def test_on_postgresql_a_held_key_makes_another_transaction_wait():
    """Given one transaction locked a key, another cannot take the same key until it ends,
    while a different key stays free."""
    if connection.vendor != "postgresql":
        pytest.skip("needs postgresql")
    held = duplicate_lock_id(module="customers", field="credit_code", key="91350100M000100Y43")
    free = duplicate_lock_id(module="customers", field="credit_code", key="other")
    with transaction.atomic():
        duplicate_keys_lock(
            module="customers", keys={"credit_code": ["91350100M000100Y43"], "name": [""]}
        )
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [held])
                assert cursor.fetchone()[0] is False
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [free])
                assert cursor.fetchone()[0] is True
                cursor.execute("ROLLBACK")
        finally:
            other.close()


def test_on_sqlite_every_transaction_holds_the_write_lock_from_its_start():
    """The SQLite answer: BEGIN IMMEDIATE. While this test's transaction is open (it has
    written nothing yet), another connection cannot even begin a writing transaction, so
    two check-then-inserts can never interleave."""
    if connection.vendor != "sqlite":
        pytest.skip("needs sqlite")
    assert connection.in_atomic_block
    duplicate_keys_lock(module="customers", keys={"name": ["x"]})
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_on_sqlite_deferred_transactions_are_refused(monkeypatch):
    """With Django's default DEFERRED mode two checks could both read before either writes;
    the lock says so instead of silently letting duplicates through."""
    if connection.vendor != "sqlite":
        pytest.skip("needs sqlite")
    options = {**connection.settings_dict["OPTIONS"], "transaction_mode": "DEFERRED"}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    with pytest.raises(ImproperlyConfigured):
        duplicate_keys_lock(module="customers", keys={"name": ["x"]})
    # no keys, nothing to lock: never refused
    duplicate_keys_lock(module="customers", keys={"name": [""]})
