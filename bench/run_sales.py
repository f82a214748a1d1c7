#!/usr/bin/env python
"""Benchmark the issue 6 pages and routes in-process, through the real views (issue 6 §7).

    python bench/run_sales.py [--database-url ...] [--iterations 50] [--users admin,rep1]

For an all-scope user and a rep (rep1 owns a quarter of bench/generate.py's data) it times,
through django.test.Client (middleware, session, templates, JSON):
- the opportunity list page and GET /api/v1/opportunities (newest first, and filtered by a
  stage), the kanban page, GET /api/v1/pipeline and GET /api/v1/forecast?group=month|owner;
- a customer's timeline: the customer page's timeline tab and GET
  /api/v1/customers/{id}/timeline, for a different customer of the viewer's scope each time;
- POST /api/v1/followups (a follow-up with a planned next step on a customer of the viewer).
Each answer is checked (status, at least one row where rows must exist) so a broken page
cannot look fast. Run bench/generate.py and bench/generate_sales.py first.

Results: a Markdown table on stdout and in bench/results/sales-<vendor>.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import pct  # noqa: E402

TARGETS = {"list": 50.0, "kanban": 50.0, "timeline": 50.0, "create": 30.0, "pipeline": 150.0}


def timed(func: Any, iterations: int) -> tuple[list[float], Any]:
    for _i in range(3):  # warm-up
        last = func(-1)
    times = []
    for i in range(iterations):
        started = time.perf_counter()
        last = func(i)
        times.append((time.perf_counter() - started) * 1000)
    return times, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--users", default="admin,rep1")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from generate import django_setup

    django_setup(args.database_url)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from crm.accounts.models import User
    from crm.activities.models import FollowUp
    from crm.core.models import TimelineEntry
    from crm.core.scope import user_scope
    from crm.customers.models import Customer
    from crm.sales.models import Opportunity, Stage

    settings.ALLOWED_HOSTS = ["*"]
    rng = random.Random(args.seed)
    vendor = connection.vendor
    counts = {
        "customers": Customer.objects.count(),
        "opportunities": Opportunity.objects.count(),
        "follow-ups": FollowUp.objects.count(),
        "timeline lines": TimelineEntry.objects.count(),
    }
    head = (
        f"## {vendor} — "
        + ", ".join(f"{n:,} {k}" for k, n in counts.items())
        + f"\n\n{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python "
        f"{platform.python_version()}; {os.cpu_count()} CPU cores, load average "
        f"{os.getloadavg()[0]:.1f} at the start; {args.iterations} iterations per case after 3 "
        "warm-up rounds. Times in ms.\n"
    )
    print(head, flush=True)
    rows = [
        "| case | viewer | queries | p50 | p95 | max | target p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(rows), flush=True)
    proposal = Stage.objects.get(code="proposal").pk
    misses = []
    for username in args.users.split(","):
        user = User.objects.get(username=username)
        client = Client()
        client.force_login(user)
        viewer = f"{username} ({user_scope(user, 'opportunities')})"
        own = Customer.objects.filter(deleted_at__isnull=True)
        if user_scope(user, "customers") != "all":
            own = own.filter(owner=user)
        # Customers with a timeline (they have follow-ups), drawn from the viewer's scope: a
        # different one each time.
        logged = FollowUp.objects.filter(customer__in=own.values("pk"))
        top = FollowUp.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
        sample = []
        while len(sample) < args.iterations + 30:
            found = (
                logged.filter(pk__gte=rng.randrange(1, top + 1))
                .order_by("pk")
                .values_list("customer_id", flat=True)
                .first()
            )
            if found is not None:
                sample.append(found)

        def get(url: str, *, rows_key: str | None = None, client: Any = client) -> Any:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
            if rows_key is not None:
                body = response.json()
                items = body[rows_key] if isinstance(body, dict) else body
                assert items, (url, "no rows")
            return response

        now_local = timezone.localtime()
        cases: list[tuple[str, str, Any]] = [
            ("list", "opportunity list page", lambda i: get("/opportunities/")),
            (
                "list",
                "GET /api/v1/opportunities",
                lambda i: get("/api/v1/opportunities", rows_key="items"),
            ),
            (
                "list",
                "GET /api/v1/opportunities?stage_id=(方案提交)",
                lambda i: get(f"/api/v1/opportunities?stage_id={proposal}", rows_key="items"),
            ),
            ("kanban", "kanban page", lambda i: get("/opportunities/kanban/")),
            ("pipeline", "GET /api/v1/pipeline", lambda i: get("/api/v1/pipeline")),
            (
                "pipeline",
                "GET /api/v1/forecast?group=month",
                lambda i: get("/api/v1/forecast?group=month", rows_key="items"),
            ),
            (
                "pipeline",
                "GET /api/v1/forecast?group=owner",
                lambda i: get("/api/v1/forecast?group=owner", rows_key="items"),
            ),
            (
                "timeline",
                "customer page, timeline tab",
                lambda i, s=sample: get(f"/customers/{s[i % len(s)]}/?tab=timeline"),
            ),
            (
                "timeline",
                "GET /api/v1/customers/{id}/timeline",
                lambda i, s=sample: get(
                    f"/api/v1/customers/{s[i % len(s)]}/timeline", rows_key="items"
                ),
            ),
        ]

        def create(
            i: int, sample: list[int] = sample, now_local: Any = now_local, client: Any = client
        ) -> Any:
            customer = sample[(i + 20) % len(sample)]
            body = {
                "customer_id": customer,
                "method": rng.choice(["phone", "visit", "wechat"]),
                "occurred_at": (now_local - dt.timedelta(minutes=5)).isoformat(),
                "summary": "电话沟通项目进展，确认下周演示。",
                "feedback": "客户希望尽快看到方案。",
                "next_at": (now_local + dt.timedelta(days=3)).isoformat(),
                "next_method": "visit",
                "next_goal": "上门演示",
            }
            response = client.post(
                "/api/v1/followups", data=json.dumps(body), content_type="application/json"
            )
            assert response.status_code == 201, (response.status_code, response.content[:300])
            return response

        cases.append(("create", "POST /api/v1/followups (with a next plan)", create))
        for kind, label, func in cases:
            queries: list[str] = []

            def count(execute, sql, params, many, context, queries=queries):
                queries.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                func(0)
            times, _last = timed(func, args.iterations)
            p50, p95, top = pct(times, 0.5), pct(times, 0.95), max(times)
            target = TARGETS[kind]
            ok = "✅" if p95 <= target else "❌"
            if p95 > target:
                misses.append(f"{label} as {viewer}: p95 {p95:.1f} ms > {target:.0f}")
            line = (
                f"| {label} | {viewer} | {len(queries)} | {p50:.1f} | {p95:.1f} | "
                f"{top:.1f} | ≤ {target:.0f} {ok} |"
            )
            rows.append(line)
            print(line, flush=True)
    text = head + "\n" + "\n".join(rows) + "\n"
    if misses:
        text += "\nMissed:\n" + "\n".join(f"- {m}" for m in misses) + "\n"
        print("\nMissed:\n" + "\n".join(f"- {m}" for m in misses))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"sales-{vendor}.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
