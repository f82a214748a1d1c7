"""System settings with seeded defaults (DESIGN invariant 3: business rules are data)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from crm.core.models import SystemSetting

DEFAULTS: dict[str, Any] = {
    # CUS-6: what each kind of match does: "block", "warn" or "off".
    "duplicate_rules": {
        "name": "block",
        "credit_code": "block",
        "phone": "warn",
        "email": "warn",
    },
    # Deleted customers stay restorable this many days, then the sweep purges them.
    "recycle_bin_days": 30,
}
CACHE_PREFIX = "crm:setting:"


def setting_get(key: str) -> Any:
    cached = cache.get(CACHE_PREFIX + key)
    if cached is not None:
        return cached
    row = SystemSetting.objects.filter(key=key).first()
    value = row.value if row else DEFAULTS[key]
    if isinstance(DEFAULTS.get(key), dict) and isinstance(value, dict):
        value = {**DEFAULTS[key], **value}
    cache.set(CACHE_PREFIX + key, value, 300)
    return value


def setting_set(*, key: str, value: Any) -> None:
    SystemSetting.objects.update_or_create(key=key, defaults={"value": value})
    cache.delete(CACHE_PREFIX + key)
