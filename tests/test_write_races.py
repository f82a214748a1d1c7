"""Issue 5 §1: blocking duplicate rules and version checks hold when many people click at once.

Found by a tester: 10 parallel creates of the same company name gave 6 × 201, 10 with the same
credit code 4 × 201, and 3 of 5 parallel DELETEs carrying the same version answered 204. Here
real threads, each with its own database connection, are released together by a barrier:

- 20 identical creates (same name, or same credit code; through the service and through
  POST /api/v1/customers) → exactly one is saved, the 19 others are refused as duplicates;
  likewise 10 renames to one name, and 10 restores of copies of one company.
  The mend: crm.core.duplicates.duplicate_keys_lock, taken by the duplicate check before it
  reads (PostgreSQL advisory locks; SQLite's BEGIN IMMEDIATE write lock).
- 5 DELETEs, or 5 restores, sent with the same version → exactly one succeeds, four get 409.
  The mend: customer_delete / customer_restore lock the row and call
  crm.core.versioning.version_check before anything else, like an edit.

Each test runs on PostgreSQL (marked `postgres`) and on SQLite (the test database is a file,
so the threads share it); the other one skips. `transaction=True` because the threads must see
each other's commits; `serialized_rollback=True` as in tests/test_numbering_concurrency.py.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from crm.accounts.models import User
from crm.core.errors import ConflictError, DuplicateError
from crm.customers.models import Customer
from crm.customers.services import (
    customer_create,
    customer_delete,
    customer_restore,
    customer_update,
)
from crm.tests_support.api import api_as
from crm.tests_support.factories import UserFactory, customer_make

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

VENDORS = [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"]
CREDIT_CODE = "91350100M000100Y43"


@pytest.fixture
def vendor(request):
    if connection.vendor != request.param:
        pytest.skip(f"needs {request.param} (this run uses {connection.vendor})")
    return request.param


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in `count` threads released together; return each result (or the
    exception it raised)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # the assertions below say which ones and why
            results[index] = exc
        finally:
            # Each thread opened its own connection; an open one would hold locks and block
            # the flush after the test.
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker is stuck (deadlock?)"
    return results


def outcome(result: Any) -> str:
    if isinstance(result, Exception):
        return type(result).__name__
    status = getattr(result, "status_code", None)
    return str(status) if status is not None else "saved"


def company(index: int, **overrides: Any) -> dict[str, Any]:
    """A valid create body; phones differ per thread (those only warn, and are confirmed)."""
    return {
        "type": "enterprise",
        "name": f"并发{index:02d}号科技有限公司",
        "industry": "it",
        "grade": "B",
        "phone": f"139{index:08d}",
        **overrides,
    }


def contacts(index: int) -> list[dict[str, Any]]:
    return [{"name": f"联系人{index}", "phone": f"137{index:08d}", "is_primary": True}]


@pytest.fixture
def rep_id():
    return UserFactory(roles=["sales_rep"]).pk


# --- duplicates -----------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
@pytest.mark.parametrize(
    "same",
    [
        pytest.param({"name": "杭州云帆信息技术有限公司"}, id="name"),
        pytest.param({"credit_code": CREDIT_CODE}, id="credit_code"),
    ],
)
def test_twenty_parallel_creates_of_one_company_save_exactly_one(vendor, rep_id, same):
    """Given the rule 'block' for names and credit codes, when 20 people save the same company
    at the same instant, then one customer is saved and 19 are refused as duplicates."""

    def create(index: int) -> Customer:
        actor = User.objects.get(pk=rep_id)
        return customer_create(
            actor=actor,
            data=company(index, **same),
            contacts=contacts(index),
            confirm_duplicates=True,
        )

    results = at_once(20, create)

    assert Counter(outcome(r) for r in results) == {"saved": 1, "DuplicateError": 19}
    field = next(iter(same))
    assert Customer.objects.filter(**same).count() == 1
    refused = [r for r in results if isinstance(r, DuplicateError)]
    assert all(set(r.fields) == {field} for r in refused)


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_twenty_parallel_api_creates_answer_one_201_and_nineteen_409(vendor, rep_id):
    """Through the API, as the tester did it: exactly one 201, the others 409 `duplicate`."""
    rep = User.objects.get(pk=rep_id)
    clients = [api_as(rep) for _ in range(20)]  # a token each, like 20 separate callers

    def post(index: int):
        body = company(index, name="宁波海曙精密机械有限公司", credit_code=CREDIT_CODE)
        return clients[index].post(
            "customers", {**body, "contacts": contacts(index), "confirm_duplicates": True}
        )

    results = at_once(20, post)

    assert Counter(outcome(r) for r in results) == {"201": 1, "409": 19}
    assert {r.json()["error"] for r in results if r.status_code == 409} == {"duplicate"}
    assert Customer.objects.filter(credit_code=CREDIT_CODE).count() == 1


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_parallel_renames_to_one_name_save_exactly_one(vendor):
    """Given ten different customers, when each is renamed to the same company name at the
    same instant, then one rename is saved and nine are refused: an edit's duplicate check
    takes the same locks as a create's."""
    manager = UserFactory(roles=["sales_manager"])
    rows = [customer_make(owner=manager) for _ in range(10)]

    def rename(index: int) -> Customer:
        actor = User.objects.get(pk=manager.pk)
        return customer_update(
            actor=actor,
            customer=rows[index],
            data={"name": "温州瓯江阀门制造有限公司"},
            version=rows[index].version,
        )

    results = at_once(10, rename)

    assert Counter(outcome(r) for r in results) == {"saved": 1, "DuplicateError": 9}
    assert Customer.objects.filter(name="温州瓯江阀门制造有限公司").count() == 1


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_parallel_restores_cannot_bring_back_two_copies_of_one_company(vendor, rep_id):
    """Given ten deleted customers with the same credit code, when all are restored at the
    same instant (without versions), then one comes back and nine are refused as duplicates:
    the restore's duplicate check takes the same locks as a create's."""
    manager = UserFactory(roles=["sales_manager"])
    rows = []
    for _ in range(10):
        row = customer_make(owner=manager, credit_code=CREDIT_CODE)
        customer_delete(actor=manager, customer=row)
        rows.append(row)

    def restore(index: int) -> Customer:
        actor = User.objects.get(pk=manager.pk)
        return customer_restore(actor=actor, customer=rows[index])

    results = at_once(10, restore)

    assert Counter(outcome(r) for r in results) == {"saved": 1, "DuplicateError": 9}
    assert Customer.objects.filter(credit_code=CREDIT_CODE, deleted_at__isnull=True).count() == 1


# --- versions on delete and restore ---------------------------------------------------------


@pytest.fixture
def manager_clients():
    """Five API callers with the delete permission, and a customer of theirs."""
    manager = UserFactory(roles=["sales_manager"])
    customer = customer_make(owner=manager)
    return customer, [api_as(manager) for _ in range(5)]


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_five_parallel_deletes_with_one_version_answer_one_204_and_four_409(
    vendor, manager_clients
):
    """When five DELETEs carry the version they all read, then exactly one moves the customer
    to the recycle bin (204) and four are refused as conflicts (409)."""
    customer, clients = manager_clients

    def delete(index: int):
        return clients[index].delete(f"customers/{customer.pk}?version={customer.version}")

    results = at_once(5, delete)

    assert Counter(outcome(r) for r in results) == {"204": 1, "409": 4}
    assert {r.json()["error"] for r in results if r.status_code == 409} == {"conflict"}
    assert {r.json()["current_version"] for r in results if r.status_code == 409} == {
        customer.version + 1
    }
    after = Customer.objects.get(pk=customer.pk)
    assert after.deleted_at is not None and after.version == customer.version + 1


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_five_parallel_restores_with_one_version_answer_one_200_and_four_409(
    vendor, manager_clients
):
    """When five restores carry the version the recycle bin showed, then exactly one brings
    the customer back (200) and four are refused as conflicts (409)."""
    customer, clients = manager_clients
    assert clients[0].delete(f"customers/{customer.pk}").status_code == 204
    deleted = Customer.objects.get(pk=customer.pk)

    def restore(index: int):
        return clients[index].post(f"customers/{customer.pk}/restore?version={deleted.version}")

    results = at_once(5, restore)

    assert Counter(outcome(r) for r in results) == {"200": 1, "409": 4}
    assert {r.json()["error"] for r in results if r.status_code == 409} == {"conflict"}
    after = Customer.objects.get(pk=customer.pk)
    assert after.deleted_at is None and after.version == deleted.version + 1


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_five_parallel_deletes_through_the_service_let_exactly_one_pass(vendor):
    """The same through the service (what the web form and any later caller use)."""
    manager = UserFactory(roles=["sales_manager"])
    customer = customer_make(owner=manager)

    def delete(index: int) -> Customer:
        actor = User.objects.get(pk=manager.pk)
        return customer_delete(actor=actor, customer=customer, version=customer.version)

    results = at_once(5, delete)

    assert Counter(outcome(r) for r in results) == {"saved": 1, "ConflictError": 4}
    assert all(type(r) is ConflictError for r in results if isinstance(r, Exception))


# --- the public pool (issue 7 §4) -----------------------------------------------------------


def _pool_customer(owner: User) -> Customer:
    from crm.customers.pool import customer_release

    customer = customer_make(owner=owner)
    admin = UserFactory(roles=["admin"])
    customer_release(actor=admin, customer=customer, reason="并发测试")
    return customer


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_five_reps_claiming_one_pool_customer_at_once_make_exactly_one_owner(vendor):
    """The customer's row decides: one claim passes, four are told someone was first."""
    from crm.customers.pool import customer_claim

    customer = _pool_customer(UserFactory(roles=["sales_rep"]))
    reps = [UserFactory(roles=["sales_rep"]).pk for _ in range(5)]

    def claim(index: int) -> Customer:
        return customer_claim(actor=User.objects.get(pk=reps[index]), customer=customer.pk)

    results = at_once(5, claim)

    assert Counter(outcome(r) for r in results) == {"saved": 1, "ConflictError": 4}
    assert {r.extra["reason"] for r in results if isinstance(r, Exception)} == {"claimed"}
    winner = next(r for r in results if not isinstance(r, Exception))
    assert Customer.objects.get(pk=customer.pk).owner_id == winner.owner_id
    from crm.customers.models import PoolMove

    assert PoolMove.objects.filter(customer=customer, kind="claim").count() == 1


@pytest.mark.parametrize("vendor", VENDORS, indirect=True)
def test_one_rep_claiming_five_customers_at_once_stops_at_the_claim_limit(vendor):
    """The claimer's row serialises their claims: at limit - 2 owned, two of five pass."""
    from crm.core.config import setting_set
    from crm.customers.pool import customer_claim

    setting_set(key="pool_claim_limit", value=3)
    rep = UserFactory(roles=["sales_rep"])
    customer_make(owner=rep)
    other = UserFactory(roles=["sales_rep"])
    customers = [_pool_customer(other).pk for _ in range(5)]

    def claim(index: int) -> Customer:
        return customer_claim(actor=User.objects.get(pk=rep.pk), customer=customers[index])

    results = at_once(5, claim)

    assert Counter(outcome(r) for r in results) == {"saved": 2, "ConflictError": 3}
    assert {r.extra["reason"] for r in results if isinstance(r, Exception)} == {"limit"}
    assert Customer.objects.filter(owner=rep, deleted_at__isnull=True).count() == 3
