#!/usr/bin/env python
"""Profile one list request in-process: where do the milliseconds of GET /api/v1/customers go?

    python bench/profile_list.py [--database-url ...] [--url /api/v1/customers]
                                 [--user admin] [--requests 200] [--redis redis://...]
                                 [--token] [--top 25]

Runs `--requests` requests through django.test.Client (the whole middleware stack; logged in
with a session, or with `--token` through a real API token in the Authorization header) after
20 warm-up requests, prints p50 / p95, queries and unpickled objects per request, then the
cProfile of the timed requests sorted by own time and by cumulative time. `--redis` sets
REDIS_URL before Django starts, i.e. the production cache and session configuration.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pickle
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--url", default="/api/v1/customers")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--redis", default="", help="REDIS_URL for cache and sessions")
    parser.add_argument("--token", action="store_true", help="authenticate with an API token")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if args.redis:
        os.environ["REDIS_URL"] = args.redis

    from generate import django_setup

    django_setup(args.database_url)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from crm.accounts.models import User
    from crm.accounts.services import api_token_create

    user = User.objects.get(username=args.user)
    client = Client()
    headers: dict[str, str] = {}
    if args.token:
        _token, raw = api_token_create(user=user, name="bench profile")
        headers = {"Authorization": f"Bearer {raw}"}
    else:
        client.force_login(user)

    def get() -> None:
        response = client.get(args.url, headers=headers)
        assert response.status_code == 200, (response.status_code, response.content[:300])

    for _ in range(20):
        get()
    with CaptureQueriesContext(connection) as ctx:
        get()
    queries = len(ctx.captured_queries)

    # Count what is unpickled per request (cache reads): pickle.loads is what Django's cache
    # backends call for every value they return.
    unpickled = 0
    real_loads = pickle.loads

    def counting_loads(data, *a, **kw):
        nonlocal unpickled
        unpickled += 1
        return real_loads(data, *a, **kw)

    pickle.loads = counting_loads
    try:
        get()
    finally:
        pickle.loads = real_loads

    samples: list[float] = []
    profiler = cProfile.Profile()
    for _ in range(args.requests):
        started = time.perf_counter()
        profiler.enable()
        get()
        profiler.disable()
        samples.append((time.perf_counter() - started) * 1000)
    # Unprofiled timing as well: cProfile roughly doubles the cost of Python calls.
    plain: list[float] = []
    for _ in range(args.requests):
        started = time.perf_counter()
        get()
        plain.append((time.perf_counter() - started) * 1000)
    plain.sort()
    p50 = plain[len(plain) // 2]
    p95 = plain[int(len(plain) * 0.95) - 1]
    print(
        f"{connection.vendor} {args.url} as {args.user} ({'token' if args.token else 'session'}"
        f", {'REDIS_URL set' if args.redis else 'no REDIS_URL'}): p50 {p50:.2f} ms, "
        f"p95 {p95:.2f} ms, {queries} queries, {unpickled} pickle.loads per request; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(args.top)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
