"""Gap-free document numbers (KH202611 0001 ...), shared by every module (CUS-2).

The counter row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions take the
write lock up front, see settings) and incremented inside the caller's transaction, so a
rolled-back create gives its number back and two concurrent creates never share one.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crm.core.models import NumberingRule, NumberSequence

DEFAULT_RULES = {
    "customer": {"prefix": "KH", "period_format": "%Y%m", "digits": 4},
    "opportunity": {"prefix": "SJ", "period_format": "%Y%m", "digits": 4},
    "lead": {"prefix": "XS", "period_format": "%Y%m", "digits": 4},
}


def numbering_rule_get(*, key: str) -> NumberingRule:
    rule = NumberingRule.objects.filter(key=key).first()
    if rule is None:
        defaults = DEFAULT_RULES.get(
            key, {"prefix": key[:2].upper(), "period_format": "%Y%m", "digits": 4}
        )
        rule, _ = NumberingRule.objects.get_or_create(key=key, defaults=defaults)
    return rule


def number_next(*, key: str, now: datetime | None = None) -> str:
    """Take the next number for `key`; must run inside the transaction that saves the record."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_next() must be called inside transaction.atomic()")
    rule = numbering_rule_get(key=key)
    # The period follows the company's time zone (settings.TIME_ZONE), not whichever zone a
    # request activated, so a number never lands in the wrong month.
    local_now = timezone.localtime(now or timezone.now(), timezone.get_default_timezone())
    period = local_now.strftime(rule.period_format) if rule.period_format else ""
    seq, _ = NumberSequence.objects.select_for_update().get_or_create(key=key, period=period)
    seq.last_value += 1
    seq.save(update_fields=["last_value"])
    return f"{rule.prefix}{period}{seq.last_value:0{rule.digits}d}"


def number_next_many(*, key: str, count: int, now: datetime | None = None) -> list[str]:
    """`count` consecutive numbers for `key` in one locked update (an import's batch); the
    same rules as number_next: inside the saving transaction, given back on rollback."""
    if count <= 0:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_next_many() must be called inside transaction.atomic()")
    rule = numbering_rule_get(key=key)
    local_now = timezone.localtime(now or timezone.now(), timezone.get_default_timezone())
    period = local_now.strftime(rule.period_format) if rule.period_format else ""
    seq, _ = NumberSequence.objects.select_for_update().get_or_create(key=key, period=period)
    first = seq.last_value + 1
    seq.last_value += count
    seq.save(update_fields=["last_value"])
    return [f"{rule.prefix}{period}{n:0{rule.digits}d}" for n in range(first, first + count)]
