#!/usr/bin/env python
"""Time the clocks of issue 7 on a big database (issue 7 §8): each sweep's first and steady
runs, the full `crm sweep`, the notices each sends (once), and the overdue / dormant pages.

    python bench/run_clocks.py --database-url postgres://postgres@127.0.0.1:5432/crm_bench_1m \
        [--steady 3] [--now 2026-12-03T10:00] [--iterations 30] [--users admin,rep1] [--explain]

The sweeps write to the database (that is what they are for): every clock's state as of
`--now`, and their notifications. Run 1 is the "first run" on a database whose clocks were
never swept (or after --reset, which empties the stored states first: a few minutes at 1M);
the next --steady runs are five minutes apart, as the worker runs them, and must change
almost nothing and send no notice twice. Then the whole round (as `sweeps_run_now`, every
registered sweep, as `crm sweep --now` does) and the pages, through django.test.Client, for an
all-scope user and a rep.

Results: a Markdown table on stdout and in bench/results/clocks-<vendor>.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import pct  # noqa: E402

SWEEP_TARGET_S = 60.0
PAGE_TARGET_MS = 50.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--steady", type=int, default=3, help="steady runs after the first")
    parser.add_argument("--now", default="", help="ISO time the sweeps run as of (default now)")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--users", default="admin,rep1")
    parser.add_argument("--reset", action="store_true", help="clear the stored clock states first")
    parser.add_argument("--no-pages", action="store_true")
    parser.add_argument("--explain", action="store_true", help="query plans of the sweeps' SQL")
    args = parser.parse_args(argv)

    from generate import django_setup

    django_setup(args.database_url)
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.utils import timezone

    from crm.accounts.models import User
    from crm.activities.clocks import followup_cadence_sweep
    from crm.cli import sweep_moment
    from crm.core.scope import user_scope
    from crm.core.sweeps import sweeps_registered
    from crm.customers.clocks import customers_dormant_sweep
    from crm.customers.models import Customer
    from crm.leads.models import Lead
    from crm.leads.sweeps import lead_sla_sweep
    from crm.notify.models import Notification

    settings.ALLOWED_HOSTS = ["*"]
    vendor = connection.vendor
    moment = sweep_moment(args.now) if args.now else timezone.now()
    counts = {
        "customers": Customer.objects.count(),
        "leads": Lead.objects.count(),
        "notifications": Notification.objects.count(),
    }
    out: list[str] = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    emit(
        f"## {vendor} — "
        + ", ".join(f"{n:,} {k}" for k, n in counts.items())
        + f"\n\n{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; sweeps as of "
        f"{timezone.localtime(moment):%Y-%m-%d %H:%M}; Python {platform.python_version()}; "
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start.\n"
    )
    if args.reset:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE customers_customer SET followup_overdue_since = NULL, dormant_since = NULL"
                " WHERE followup_overdue_since IS NOT NULL OR dormant_since IS NOT NULL"
            )
            cursor.execute(
                "UPDATE leads_lead SET followup_overdue_since = NULL, sla_reminded_at = NULL,"
                " sla_breach_notified_at = NULL"
            )
            cursor.execute(
                "DELETE FROM notify_notification WHERE kind IN "
                "('lead_sla_due', 'lead_sla_breached', 'followup_cadence')"
            )
        emit(f"reset of the stored states: {time.perf_counter() - started:.1f} s\n")

    sweeps = [
        ("lead_sla", lead_sla_sweep),
        ("followup_cadence", followup_cadence_sweep),
        ("customers_dormant", customers_dormant_sweep),
    ]
    emit("| sweep | run | as of | seconds | rows changed + notices | notices sent | ≤ 60 s |")
    emit("|---|---|---|---|---|---|---|")
    for run in range(1 + args.steady):
        at = moment + dt.timedelta(minutes=5 * run)
        for name, func in sweeps:
            before = Notification.objects.count()
            started = time.perf_counter()
            result = func(now=at)
            seconds = time.perf_counter() - started
            sent = Notification.objects.count() - before
            label = "first" if run == 0 else f"steady {run}"
            ok = "✅" if seconds <= SWEEP_TARGET_S else "❌"
            emit(
                f"| {name} | {label} | {timezone.localtime(at):%H:%M} | {seconds:.2f} | "
                f"{result:,} | {sent:,} | {ok} |"
            )
    # The whole round as `crm sweep --now` runs it (every registered sweep, in order, each
    # timed), twice: the second must send nothing.
    emit("")
    emit("| whole round (crm sweep) | seconds | per sweep | notices sent | ≤ 60 s |")
    emit("|---|---|---|---|---|")
    for run in range(2):
        at = moment + dt.timedelta(minutes=5 * (args.steady + 1 + run))
        before = Notification.objects.count()
        started = time.perf_counter()
        parts = []
        for name, func in sweeps_registered().items():
            t0 = time.perf_counter()
            result = func(now=at)
            parts.append(f"{name} {result:,} in {time.perf_counter() - t0:.1f} s")
        seconds = time.perf_counter() - started
        sent = Notification.objects.count() - before
        ok = "✅" if seconds <= SWEEP_TARGET_S else "❌"
        emit(f"| round {run + 1} | {seconds:.2f} | {'; '.join(parts)} | {sent:,} | {ok} |")
    dupes = (
        Notification.objects.exclude(dedup_key="")
        .values("recipient_id", "dedup_key")
        .order_by()
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    emit(f"\nnotices sent twice (same recipient and key): {dupes}")
    state = {
        "customers overdue": Customer.objects.filter(
            deleted_at__isnull=True, followup_overdue_since__isnull=False
        ).count(),
        "customers dormant": Customer.objects.filter(
            deleted_at__isnull=True, dormant_since__isnull=False
        ).count(),
        "leads overdue": Lead.objects.filter(followup_overdue_since__isnull=False).count(),
        "leads breached": Lead.objects.filter(sla_state="breached").count(),
        "leads due soon": Lead.objects.filter(sla_state="due_soon").count(),
    }
    emit("stored state: " + ", ".join(f"{k} {v:,}" for k, v in state.items()))

    if args.explain and vendor == "postgresql":
        _explain(moment, emit)

    if not args.no_pages:
        emit("")
        emit("| page | viewer | queries | p50 ms | p95 ms | max ms | ≤ 50 ms |")
        emit("|---|---|---|---|---|---|---|")
        for username in args.users.split(","):
            user = User.objects.get(username=username)
            client = Client()
            client.force_login(user)
            viewer = f"{username} ({user_scope(user, 'customers')})"
            for label, url in (
                ("overdue page", "/followups/overdue/"),
                ("overdue page, page 5", "/followups/overdue/?page=5"),
                (
                    "overdue page, customers of one owner",
                    f"/followups/overdue/?type=customer&owner={user.pk}",
                ),
                ("GET /api/v1/followups/overdue", "/api/v1/followups/overdue"),
                ("dormant page", "/customers/dormant/"),
                ("customer list ?overdue=1", "/customers/?overdue=1"),
                (
                    "GET /api/v1/customers?dormant=1&overdue=1",
                    "/api/v1/customers?dormant=1&overdue=1",
                ),
            ):
                queries: list[str] = []

                def count(execute, sql, params, many, context, queries=queries):
                    queries.append(sql)
                    return execute(sql, params, many, context)

                with connection.execute_wrapper(count):
                    response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                for _i in range(3):
                    client.get(url)
                times = []
                for _i in range(args.iterations):
                    started = time.perf_counter()
                    client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                p95 = pct(times, 0.95)
                ok = "✅" if p95 <= PAGE_TARGET_MS else "❌"
                emit(
                    f"| {label} | {viewer} | {len(queries)} | {pct(times, 0.5):.1f} | "
                    f"{p95:.1f} | {max(times):.1f} | {ok} |"
                )
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / f"clocks-{vendor}.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    return 0


def _explain(moment: Any, emit: Any) -> None:
    """The plans of the steady-state statements (one per clock), to stderr and the table."""
    from django.db import connection

    from crm.customers.clocks import cadence_base, cadence_intervals, dormant_base, dormant_delta
    from crm.customers.models import Customer

    interval = cadence_intervals()["B"] or dt.timedelta(days=7)
    cases = {
        "cadence: newly overdue (B)": Customer.objects.filter(
            deleted_at__isnull=True,
            owner__isnull=False,
            followup_overdue_since__isnull=True,
            grade="B",
        )
        .alias(base=cadence_base())
        .filter(base__lt=moment - interval)
        .values("pk")[:5000],
        "cadence: back in cadence (B)": Customer.objects.filter(
            deleted_at__isnull=True, followup_overdue_since__isnull=False, grade="B"
        )
        .alias(base=cadence_base())
        .filter(base__gte=moment - interval)
        .values("pk")[:5000],
        "dormant: newly dormant": Customer.objects.filter(
            deleted_at__isnull=True, dormant_since__isnull=True
        )
        .alias(base=dormant_base())
        .filter(base__lte=moment - dormant_delta())
        .values("pk")[:5000],
    }
    for label, qs in cases.items():
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        emit(f"\n{label}:\n```\n{plan}\n```")


if __name__ == "__main__":
    raise SystemExit(main())
