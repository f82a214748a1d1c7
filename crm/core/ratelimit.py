"""Counting requests per key in a time window, in the shared cache (issue 7 §2).

A fixed window: the count of `key` in the window that `at` falls in. Cheap (one cache add or
increment per hit), shared by every process (the cache is the box's, crm/settings.py), and
forgiving of a lost cache (the count starts again from zero, which only lets a few more in).
"""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache


def rate_limit_hit(*, key: str, limit: int, window_seconds: int, at: dt.datetime) -> bool:
    """Count one request of `key` and say whether it is over `limit` in its window."""
    window_seconds = max(1, int(window_seconds))
    bucket = int(at.timestamp()) // window_seconds
    cache_key = f"crm:rate:{key}:{window_seconds}:{bucket}"
    if cache.add(cache_key, 1, timeout=window_seconds + 5):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between the add and the increment
            cache.set(cache_key, 1, timeout=window_seconds + 5)
            count = 1
    return count > limit
