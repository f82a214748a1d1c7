"""Race-free duplicate checks, shared by every module that refuses duplicates (CUS-6, issue 5 §1).

A duplicate check reads ("is there a live record with this key?") and then writes. Two
transactions that run the check at the same moment both see "no", and both insert: 10 parallel
creates of one company gave 6 records. `duplicate_keys_lock` closes that window. Call it inside
the transaction that will write, with every normalised key the check is about to look for,
BEFORE looking; a second transaction checking any of the same keys then waits until the first
has committed (and so sees its row) or rolled back.

- PostgreSQL: one transaction-scoped advisory lock per key (`pg_advisory_xact_lock`, released
  at commit or rollback, so no unlock can be forgotten). The lock id is a stable 64-bit hash
  of "<module>:<field>:<key>"; a hash collision only makes two unrelated keys wait for each
  other, never lets a duplicate through. The keys are locked in sorted order in one statement,
  so two transactions asking for overlapping keys cannot deadlock. Take all the keys of a
  transaction in ONE call (an import saves each row in its own transaction): two separate
  calls are not ordered against each other.
- SQLite: the settings open every transaction with BEGIN IMMEDIATE, which takes the database's
  single write lock before the first statement. Every writing transaction, and so every
  check-then-insert, already runs one at a time: a second one waits (busy timeout) at BEGIN
  until the first commits, and then reads the committed row. That is enough, and nothing
  finer exists in SQLite; this function verifies the transaction mode instead of trusting it,
  because with Django's default (DEFERRED) two checks could both read before either writes.

Why a lock and not a partial unique index on the live rows' keys: the rules are settings
(block / warn / off per field, and a name rule that never blocks individuals), the keys are
normalised values that may come from other tables (contacts' phones), and a unique index would
keep refusing after an administrator switched a rule to "warn". An index answers one fixed rule;
the lock makes whatever the rule is at that moment hold, for create, update, restore and import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from django.core.exceptions import ImproperlyConfigured
from django.db import connections


def duplicate_lock_id(*, module: str, field: str, key: str) -> int:
    """The advisory lock id of one key: a signed 64-bit integer, the same in every process
    (Python's hash() is salted per process, so it would not do)."""
    digest = hashlib.blake2b(f"{module}:{field}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def duplicate_keys_lock(
    *, module: str, keys: Mapping[str, Iterable[str]], using: str = "default"
) -> None:
    """Serialise the duplicate checks of `module` on these keys until the transaction ends.

    `keys` maps a field to its normalised values, e.g. {"name": ["华为技术"], "phone": [...]};
    empty values are skipped. Must run inside transaction.atomic() (the lock lives as long as
    the transaction that inserts), before the check reads.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("duplicate_keys_lock() must be called inside transaction.atomic()")
    ids = sorted(
        {
            duplicate_lock_id(module=module, field=field, key=str(value))
            for field, values in keys.items()
            for value in values
            if value
        }
    )
    if not ids:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The sorted subquery fixes the order the locks are taken in.
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(k)) "
                "FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY k) AS keys",
                [ids],
            )
    elif connection.vendor == "sqlite":
        mode = (connection.settings_dict.get("OPTIONS") or {}).get("transaction_mode")
        if str(mode).upper() not in ("IMMEDIATE", "EXCLUSIVE"):
            raise ImproperlyConfigured(
                "Duplicate checks on SQLite need OPTIONS['transaction_mode'] = 'IMMEDIATE'."
            )
        # The transaction already holds the write lock (BEGIN IMMEDIATE); nothing to add.
    else:
        raise ImproperlyConfigured(
            f"No duplicate-check lock for the {connection.vendor} database; "
            "use PostgreSQL or SQLite."
        )
