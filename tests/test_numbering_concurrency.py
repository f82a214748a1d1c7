"""CUS-2 under load: customer numbers stay unique and gap-free when many people save at once.

Eight threads, each with its own database connection, create ten customers each through the
real service, all released at the same instant by a barrier. The numbers must come out as
exactly KH<yyyymm>0001 .. KH<yyyymm>0080: no duplicate, no gap, no error.

- PostgreSQL: the counter row is locked with SELECT ... FOR UPDATE; the first create of the
  month races to insert that row, which the unique constraint and get_or_create settle.
- SQLite: settings open every transaction with BEGIN IMMEDIATE, which takes the write lock up
  front, so the creates queue up (busy timeout 20 s) instead of failing half-way. Threads
  need a database file they can all open: under pytest the settings put the test database in
  a file (DATA_DIR/test-crm.sqlite3), never in memory, so each thread's connection sees the
  same database and the committed rows.

Both need real commits, hence `transaction=True`; `serialized_rollback=True` reloads the
seeded roles and lists the flush of the previous transactional test removed.
"""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo

import pytest
from django.db import connection
from django.utils import timezone

from crm.accounts.models import User
from crm.core.models import NumberSequence
from crm.customers import services
from crm.customers.models import Contact, Customer
from crm.customers.services import customer_create
from crm.tests_support.factories import UserFactory

THREADS = 8
PER_THREAD = 10
MOMENT = dt.datetime(2026, 5, 15, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
EXPECTED = [f"KH202605{n:04d}" for n in range(1, THREADS * PER_THREAD + 1)]

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Abort(Exception):
    """Raised inside a create after its number was taken, to force a rollback."""


@pytest.fixture
def actors(settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A fixed clock, so the expected numbers do not depend on the day the suite runs (and a
    # fresh month: the first create must also race to create the month's counter row).
    monkeypatch.setattr(timezone, "now", lambda: MOMENT)
    return [UserFactory(roles=["sales_rep"]).pk for _ in range(THREADS)]


def create_concurrently(actor_ids: list[int], *, failing_every: int = 0) -> tuple[list, list]:
    """Run THREADS workers at once; return (numbers saved, errors other than Abort)."""
    barrier = threading.Barrier(len(actor_ids))
    numbers: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(index: int, actor_id: int) -> None:
        try:
            actor = User.objects.get(pk=actor_id)
            barrier.wait(timeout=30)
            attempt = 0
            saved = 0
            while saved < PER_THREAD:
                attempt += 1
                fail = bool(failing_every) and attempt % failing_every == 0
                serial = index * 1000 + attempt
                try:
                    customer = customer_create(
                        actor=actor,
                        data={
                            "type": "enterprise",
                            "name": f"{'回滚' if fail else '并发'}测试{serial:05d}科技有限公司",
                            "industry": "it",
                            "grade": "B",
                            "phone": f"139{serial:08d}",
                        },
                        contacts=[{"name": f"联系人{serial}", "phone": f"137{serial:08d}"}],
                        confirm_duplicates=True,
                    )
                except Abort:
                    continue
                with lock:
                    numbers.append(customer.number)
                saved += 1
        except Exception as exc:  # every failure is reported by the assertion below
            with lock:
                errors.append(f"thread {index}: {exc!r}")
        finally:
            # Each thread opened its own connection; leaving it open would hold locks and
            # block the database flush after the test.
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(i, actor_id)) for i, actor_id in enumerate(actor_ids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker is stuck (deadlock?)"
    return numbers, errors


def assert_gap_free(numbers: list[str], errors: list[str]) -> None:
    assert errors == []
    assert len(numbers) == len(set(numbers)) == THREADS * PER_THREAD
    assert sorted(numbers) == EXPECTED
    assert sorted(Customer.objects.values_list("number", flat=True)) == EXPECTED
    assert Contact.objects.count() == THREADS * PER_THREAD
    assert NumberSequence.objects.get(key="customer", period="202605").last_value == len(EXPECTED)


def fail_after_numbering(monkeypatch) -> None:
    """Make every create of a '回滚…' customer fail after its number was taken."""
    real_audit_record = services.audit_record

    def audit_record(**kwargs):
        instance = kwargs.get("instance")
        if isinstance(instance, Customer) and instance.name.startswith("回滚"):
            raise Abort
        return real_audit_record(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_record)


def skip_unless(vendor: str) -> None:
    if connection.vendor != vendor:
        pytest.skip(f"needs {vendor} (this run uses {connection.vendor})")


@pytest.mark.postgres
def test_concurrent_creates_get_consecutive_numbers_on_postgresql(actors):
    skip_unless("postgresql")
    assert_gap_free(*create_concurrently(actors))


@pytest.mark.postgres
def test_concurrent_rolled_back_creates_leave_no_gap_on_postgresql(actors, monkeypatch):
    skip_unless("postgresql")
    fail_after_numbering(monkeypatch)
    assert_gap_free(*create_concurrently(actors, failing_every=3))


def test_concurrent_creates_get_consecutive_numbers_on_sqlite(actors):
    skip_unless("sqlite")
    assert_gap_free(*create_concurrently(actors))


def test_concurrent_rolled_back_creates_leave_no_gap_on_sqlite(actors, monkeypatch):
    skip_unless("sqlite")
    fail_after_numbering(monkeypatch)
    assert_gap_free(*create_concurrently(actors, failing_every=3))
