"""The demo data has a history (issue 5 §4): customers created over the last 18 months on a
growth curve with numbers of their own months, later edits, a recycle bin and follow-ups,
instead of 320 customers all created today."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from crm.accounts.models import User
from crm.core.models import AuditEntry, NumberSequence
from crm.core.validators import digits_only
from crm.customers.models import Customer
from crm.demo import (
    DEMO_DUPLICATE_CUSTOMERS,
    DEMO_MERGED_CUSTOMERS,
    demo_created_times,
    demo_load,
)
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db

COUNT = 120


@pytest.fixture
def demo(db):
    """The customer archive's own demo customers (COUNT of them), without the customers the
    demo leads were converted into later: those are numbered when they were converted, after
    the month's back-dated ones, and carry the lead's earlier follow-ups; nor the duplicate
    pairs entered again by a second rep (crm.demo.demo_duplicates_create), numbered the
    same way."""
    demo_load(password="demo-Passw0rd!", customers=COUNT)
    rows = [row for pair in DEMO_DUPLICATE_CUSTOMERS for row in pair] + list(DEMO_MERGED_CUSTOMERS)
    phones = {digits_only(row[3]) for row in rows if row[3]}
    emails = {row[4].lower() for row in rows if row[4]}
    return list(
        Customer.objects.filter(leads__isnull=True)
        .exclude(phone_digits__in=phones)
        .exclude(email_key__in=emails)
        .order_by("created_at")
    )


def test_converted_leads_became_customers_numbered_in_their_month(demo):
    converted = list(Customer.objects.filter(leads__isnull=False).distinct())
    assert converted, "some demo leads were converted"
    counters = dict(
        NumberSequence.objects.filter(key="customer").values_list("period", "last_value")
    )
    for customer in converted:
        period = _local(customer.created_at).strftime("%Y%m")
        assert customer.number.startswith(f"KH{period}"), customer.number
        assert int(customer.number[-4:]) <= counters[period]


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value, timezone.get_default_timezone())


def test_customers_are_spread_over_eighteen_months_and_not_all_new(demo):
    now = timezone.now()
    months = Counter(_local(c.created_at).strftime("%Y%m") for c in demo)
    assert len(demo) == COUNT
    assert len(months) >= 15
    assert all(c.created_at <= now for c in demo)
    assert now - min(c.created_at for c in demo) < dt.timedelta(days=18 * 31)
    this_month = _local(now).strftime("%Y%m")
    assert months.get(this_month, 0) < COUNT / 5  # "本月新增" is not the total
    assert all(c.updated_at >= c.created_at for c in demo)


def test_the_number_of_new_customers_grows_with_time():
    now = timezone.localtime(timezone.now())
    times = demo_created_times(count=320, now=now, rng=random.Random(1))
    assert len(times) == 320 and times == sorted(times)
    half = now - (now - times[0]) / 2
    early = sum(1 for t in times if t < half)
    assert early < 320 - early  # fewer in the first nine months than in the last nine


def test_the_spring_festival_month_is_slow():
    now = timezone.localtime(timezone.now()).replace(year=2027, month=6, day=28)
    months = Counter(t.month for t in demo_created_times(count=320, now=now, rng=random.Random(1)))
    assert months[2] < months[3] * 0.6


def test_numbers_belong_to_the_month_each_customer_was_created_in(demo):
    per_month: dict[str, list[int]] = {}
    for customer in demo:
        period = _local(customer.created_at).strftime("%Y%m")
        assert customer.number.startswith(f"KH{period}"), customer.number
        per_month.setdefault(period, []).append(int(customer.number[-4:]))
    counters = dict(
        NumberSequence.objects.filter(key="customer").values_list("period", "last_value")
    )
    for period, seqs in per_month.items():
        # in time order, without gaps, and the counter where the sequence ended
        assert seqs == list(range(1, len(seqs) + 1)), period
        assert counters[period] >= len(seqs), period  # converted leads continue it


def test_a_customer_created_now_continues_this_months_sequence(demo):
    period = _local(timezone.now()).strftime("%Y%m")
    before = Customer.objects.filter(number__startswith=f"KH{period}").count()
    customer = customer_make(owner=User.objects.get(username="rep1"))
    assert customer.number == f"KH{period}{before + 1:04d}"


def test_the_audit_trail_follows_the_history(demo):
    ct = ContentType.objects.get_for_model(Customer)
    by_pk = {c.pk: c for c in demo}
    entries = list(AuditEntry.objects.filter(content_type=ct, object_id__in=by_pk))
    creates = [e for e in entries if e.action == AuditEntry.Action.CREATE]
    updates = [e for e in entries if e.action == AuditEntry.Action.UPDATE]
    assert len(creates) == COUNT
    for entry in creates:
        customer = by_pk[entry.object_id]
        assert entry.created_at == customer.created_at
        assert entry.object_repr == str(customer)  # the renumbered number
        # each owner entered their customers (some went to the public pool since)
        assert entry.actor_id == customer.created_by_id
    assert updates, "some customers were edited later"
    assert all(e.created_at > by_pk[e.object_id].created_at for e in updates)


def test_a_few_customers_wait_in_the_recycle_bin_and_follow_ups_are_spread(demo):
    deleted = [c for c in demo if c.deleted_at is not None]
    assert 1 <= len(deleted) <= 10
    now = timezone.now()
    assert all(now - dt.timedelta(days=30) < c.deleted_at <= now for c in deleted)
    followed = [c for c in demo if c.last_followup_at is not None]
    assert len(followed) > COUNT / 2
    assert all(c.created_at <= c.last_followup_at <= now for c in followed)
    assert len({_local(c.last_followup_at).strftime("%Y%m") for c in followed}) > 5


def test_the_numbers_are_searchable(demo):
    customer = next(c for c in demo if c.deleted_at is None)
    assert customer.number.lower() in Customer.objects.get(pk=customer.pk).search_blob


def test_the_demo_company_has_custom_fields_and_part_of_its_records_use_them(demo):
    # issue 8 §1: defined by the administrator through the real service, values on part of
    # the records (given at creation, so in their create audit entries)
    from crm.core.models import CustomField
    from crm.leads.models import Lead
    from crm.sales.models import Opportunity

    fields = dict(CustomField.objects.values_list("key", "module"))
    assert fields == {
        "company_size": "customers",
        "annual_revenue": "customers",
        "wechat": "customers",
        "products": "leads",
        "sign_quarter": "opportunities",
    }
    sized = [c for c in demo if c.custom.get("company_size")]
    assert 0.3 * len(demo) < len(sized) < 0.9 * len(demo)
    assert Lead.objects.exclude(custom={}).exists()
    assert Lead.objects.filter(custom={}).exists()
    assert Opportunity.objects.exclude(custom={}).exists()
    entry = AuditEntry.objects.filter(
        action="create", object_id=str(sized[0].pk), content_type__model="customer"
    ).get()
    assert "custom.company_size" in {c["field"] for c in entry.changes}
