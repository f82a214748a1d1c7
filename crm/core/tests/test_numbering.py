"""CUS-2: customer numbers are KH + yyyymm + a 4-digit sequence that restarts each month,
assigned on save, never reused, gap-free."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import transaction
from django.utils import timezone

from crm.core.models import NumberingRule, NumberSequence
from crm.core.numbering import number_next
from crm.customers.models import Customer
from crm.customers.services import customer_delete, customers_purge_expired
from crm.tests_support.factories import customer_make

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int = 15, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def frozen_now(monkeypatch):
    """Set the clock the services read (numbering and created_at alike)."""

    def freeze(moment: dt.datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return freeze


def test_a_new_customer_is_numbered_kh_yyyymm_and_four_digits(org, frozen_now):
    frozen_now(at(2026, 5, 3))
    customer = customer_make(owner=org.rep1)
    assert customer.number == "KH2026050001"
    assert re.fullmatch(r"KH\d{6}\d{4}", customer.number)


def test_numbers_follow_each_other_within_a_month(org, frozen_now):
    frozen_now(at(2026, 5, 3))
    numbers = [customer_make(owner=org.rep1).number for _ in range(3)]
    assert numbers == ["KH2026050001", "KH2026050002", "KH2026050003"]


def test_the_sequence_restarts_each_month(org, frozen_now):
    frozen_now(at(2026, 5, 31))
    customer_make(owner=org.rep1)
    customer_make(owner=org.rep1)
    frozen_now(at(2026, 6, 1))
    assert customer_make(owner=org.rep1).number == "KH2026060001"
    frozen_now(at(2026, 5, 31))  # a late-running import still continues May's counter
    assert customer_make(owner=org.rep1).number == "KH2026050003"


def test_the_month_is_the_companys_not_utc(org, frozen_now):
    # 2026-05-31 17:30 UTC is already 1 June in Shanghai
    frozen_now(dt.datetime(2026, 5, 31, 17, 30, tzinfo=dt.UTC))
    assert customer_make(owner=org.rep1).number == "KH2026060001"


def test_the_month_does_not_follow_a_users_activated_time_zone(org, frozen_now):
    frozen_now(dt.datetime(2026, 5, 31, 17, 30, tzinfo=dt.UTC))  # 1 June in Shanghai
    with timezone.override(zoneinfo.ZoneInfo("America/New_York")):  # still 31 May there
        assert customer_make(owner=org.rep1).number == "KH2026060001"


def test_a_number_is_never_reused_after_delete_or_purge(org, frozen_now, settings):
    frozen_now(at(2026, 5, 3))
    first = customer_make(owner=org.rep1)
    second = customer_make(owner=org.rep1)
    customer_delete(actor=org.admin, customer=second)
    assert customer_make(owner=org.rep1).number == "KH2026050003"
    # even once the recycle bin is purged, the freed number is not handed out again
    frozen_now(at(2026, 5, 28))
    assert customers_purge_expired(now=at(2026, 7, 1)) == 1
    assert not Customer.objects.filter(pk=second.pk).exists()
    assert customer_make(owner=org.rep1).number == "KH2026050004"
    assert Customer.objects.filter(pk=first.pk).exists()


def test_a_rolled_back_create_gives_its_number_back(org, frozen_now):
    frozen_now(at(2026, 5, 3))
    customer_make(owner=org.rep1)

    class Abort(Exception):
        pass

    # Given a create that fails after its number was taken (in the same transaction)
    with pytest.raises(Abort), transaction.atomic():
        taken = customer_make(owner=org.rep1)
        assert taken.number == "KH2026050002"
        raise Abort
    # then the number goes back: the next customer gets it, leaving no gap
    assert not Customer.objects.filter(number="KH2026050002").exists()
    assert customer_make(owner=org.rep1).number == "KH2026050002"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_number_next_refuses_to_run_outside_a_transaction():
    # Taken outside the record's transaction, a number could not be given back on failure.
    with pytest.raises(RuntimeError):
        number_next(key="customer")


def test_the_rule_is_data_an_administrator_can_change(db):
    # Given an administrator changed the customer numbering to a yearly, 6-digit sequence
    NumberingRule.objects.update_or_create(
        key="customer", defaults={"prefix": "C", "period_format": "%Y", "digits": 6}
    )
    with transaction.atomic():
        assert number_next(key="customer", now=at(2026, 5, 3)) == "C2026000001"
        assert number_next(key="customer", now=at(2026, 12, 31)) == "C2026000002"
        assert number_next(key="customer", now=at(2027, 1, 1)) == "C2027000001"
    assert NumberSequence.objects.get(key="customer", period="2026").last_value == 2


def test_an_unknown_kind_gets_a_default_rule(db):
    with transaction.atomic():
        assert number_next(key="order", now=at(2026, 5, 3)) == "OR2026050001"
