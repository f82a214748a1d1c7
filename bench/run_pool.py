#!/usr/bin/env python
"""Benchmark the public pool (issue 7 §4) in-process: the pool list and the pool_return sweep.

    python bench/run_pool.py [--database-url ...] [--iterations 30] [--users admin,rep1]
                             [--pool 4000] [--due 5000] [--keep]

Everything runs inside one transaction that is rolled back at the end (unless --keep), so the
benchmark database is left as it was:

1. If the database holds fewer than --pool customers in the public pool, random owned
   customers are put there first (no owner, in the pool since 0-60 days ago).
2. The pool list page and GET /api/v1/pool through django.test.Client (middleware, session,
   views, templates, JSON) for each user: newest first, grade=A, an industry, entered_from
   (the last 7 days) and q (2 characters of a pool customer's name, a different one each
   time). Each answer is checked (200; rows where rows must exist).
3. The sweep as `crm sweep --now` runs it (crm.customers.pool.pool_return_sweep):
   - the database's own rules as of now, twice (after bench/generate_leads.py: the day of
     returns and notices it leaves for the first sweep; the second run must do nothing);
   - "nothing due": the follow-up rule for every grade set to 20 years, the won rule off:
     the cost of finding out that nothing is due over the whole archive;
   - "--due customers due": the follow-up rule set to the number of days that makes about
     --due owned, unprotected customers due (the --due-th oldest follow-up clock), the won rule
     off, notice 3 days: the returns (PoolMove, audit, timeline, notification, in batches of
     1,000) and the notices of the customers that fall due within 3 days;
   - the same again at the same moment: it must change nothing and send nothing.
   The candidate query's plan is printed (EXPLAIN ANALYZE on PostgreSQL), so a plan that
   misses the indexes of migration customers 0009 shows.

Results: a Markdown table on stdout and in bench/results/pool-<vendor>.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
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

TARGET_MS = 50.0
TARGET_SWEEP_S = 60.0


class Rollback(Exception):
    pass


def timed(func: Any, iterations: int) -> tuple[list[float], Any]:
    for _i in range(3):  # warm-up
        last = func(-1)
    times = []
    for i in range(iterations):
        started = time.perf_counter()
        last = func(i)
        times.append((time.perf_counter() - started) * 1000)
    return times, last


def fill_pool(wanted: int, rng: random.Random) -> int:
    """Put random owned customers into the pool until it holds `wanted`; how many were
    added."""
    from django.db.models import F
    from django.utils import timezone

    from crm.customers.models import Customer, PoolMove

    have = Customer.objects.filter(owner__isnull=True, deleted_at__isnull=True).count()
    if have >= wanted:
        return 0
    top = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    picked: set[int] = set()
    while len(picked) < wanted - have:
        picked.update(rng.randrange(1, top + 1) for _i in range(wanted - have - len(picked)))
    ids = list(
        Customer.objects.filter(pk__in=picked, owner__isnull=False, deleted_at__isnull=True)
        .order_by()
        .values_list("pk", "owner_id")
    )
    now = timezone.now()
    moves = []
    for pk, owner_id in ids:
        entered = now - dt.timedelta(seconds=rng.randrange(600, 60 * 86400))
        Customer.objects.filter(pk=pk).update(
            owner=None, owned_since=None, pool_entered_at=entered, version=F("version") + 1
        )
        moves.append(
            PoolMove(
                customer_id=pk, kind="return", user_id=owner_id, reason="followup:30", at=entered
            )
        )
    PoolMove.objects.bulk_create(moves, batch_size=1000)
    return len(ids)


def measure_list(args: argparse.Namespace, out: list[str], misses: list[str], rng) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from crm.accounts.models import User
    from crm.customers.models import Customer

    settings.ALLOWED_HOSTS = ["*"]
    pool = Customer.objects.filter(owner__isnull=True, deleted_at__isnull=True)
    names = list(pool.order_by("?").values_list("name", flat=True)[: args.iterations + 10])
    terms = []
    for name in names:
        if len(name) >= 6:
            start = rng.randrange(2, min(len(name) - 2, 8))
            terms.append(name[start : start + 2])
    industry = pool.values_list("industry", flat=True).order_by("industry").first() or "it"
    week_ago = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    header = [
        "| case | viewer | rows | queries | p50 | p95 | max | target p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += header
    print("\n".join(header), flush=True)
    for username in args.users.split(","):
        user = User.objects.filter(username=username).first()
        if user is None:
            out.append(f"| (user {username} not in this database) | | | | | | | |")
            continue
        client = Client()
        client.force_login(user)
        cases = []
        for path, kind in (("/pool/", "page"), ("/api/v1/pool", "api")):
            label = "pool list page" if kind == "page" else "GET /api/v1/pool"
            cases += [
                (f"{label}, newest first", path, "", True),
                (f"{label}, grade=A", path, "grade=A", True),
                (f"{label}, industry={industry}", path, f"industry={industry}", True),
                (f"{label}, entered_from (7 days)", path, f"entered_from={week_ago}", False),
                (f"{label}, page 5", path, "page=5", True),
            ]
            if terms:
                cases.append((f"{label}, q (2 characters)", path, terms, False))
        for label, path, query, must_have_rows in cases:

            def get(i: int, path=path, query=query, client=client, must=must_have_rows):
                from urllib.parse import urlencode

                if isinstance(query, list):
                    url = f"{path}?{urlencode({'q': query[i % len(query)]})}"
                else:
                    url = f"{path}?{query}" if query else path
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                if must and path.startswith("/api/"):
                    assert response.json()["items"], (url, "no rows")
                return response

            queries: list[str] = []

            def count(execute, sql, params, many, context, queries=queries):
                queries.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                first = get(0)
            rows = len(first.json()["items"]) if path.startswith("/api/") else "—"
            times, _last = timed(get, args.iterations)
            p50, p95, top_ms = pct(times, 0.5), pct(times, 0.95), max(times)
            ok = "✅" if p95 <= TARGET_MS else "❌"
            if p95 > TARGET_MS:
                misses.append(f"{label} as {username}: p95 {p95:.1f} ms > {TARGET_MS:.0f}")
            line = (
                f"| {label} | {username} | {rows} | {len(queries)} | {p50:.1f} | {p95:.1f} | "
                f"{top_ms:.1f} | ≤ {TARGET_MS:.0f} {ok} |"
            )
            out.append(line)
            print(line, flush=True)


def explain(qs: Any) -> str:
    from django.db import connection

    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())


def measure_sweep(args: argparse.Namespace, out: list[str], misses: list[str]) -> None:
    from django.utils import timezone

    from crm.core.config import setting_get, setting_set
    from crm.customers import pool
    from crm.customers.models import FOLLOWUP_CLOCK, OWNED_LIVE, Customer, PoolMove
    from crm.notify.models import Notification

    moment = timezone.now()
    rules = setting_get("pool_rules")
    protected = rules.get("protected_statuses") or []
    header = [
        "",
        f"The pool_return sweep as of {timezone.localtime(moment):%Y-%m-%d %H:%M}, over "
        f"{Customer.objects.filter(OWNED_LIVE).count():,} owned live customers "
        f"(protected: {', '.join(protected) or 'none'}):",
        "",
        "| run | s | touched | returned | notices | PoolMove rows |",
        "|---|---|---|---|---|---|",
    ]
    out += header
    print("\n".join(header), flush=True)

    def run(label: str) -> float:
        moves = PoolMove.objects.count()
        # Only the pool's notices: other sweeps (or other people's runs) may write others.
        sent = Notification.objects.filter(kind__in=("pool_notice", "pool_return"))
        notes = sent.count()
        returned_before = Customer.objects.filter(
            owner__isnull=True, pool_entered_at=moment
        ).count()
        started = time.perf_counter()
        touched = pool.pool_return_sweep(now=moment)
        seconds = time.perf_counter() - started
        returned = (
            Customer.objects.filter(owner__isnull=True, pool_entered_at=moment).count()
            - returned_before
        )
        line = (
            f"| {label} | {seconds:.2f} | {touched:,} | {returned:,} | "
            f"{sent.count() - notes:,} | {PoolMove.objects.count() - moves:,} |"
        )
        out.append(line)
        print(line, flush=True)
        return seconds

    if rules.get("enabled"):
        # What the database's own rules find as of now (after bench/generate_leads.py: the
        # day of returns and notices a sweep that did not run for a day leaves).
        run("the stored rules, as of now")
        run("the same again (must change nothing)")
    off = {"A": None, "B": None, "C": None}
    setting_set(
        key="pool_rules",
        value={
            **rules,
            "enabled": True,
            "followup_days": {g: 7300 for g in "ABC"},
            "won_days": off,
        },
    )
    # Nothing is due; the customers notified under the stored rules are re-armed (their
    # notice no longer holds), which is what the "touched" count of this run is.
    idle = run("follow-up rule 20 years: nothing due")
    # The follow-up rule that makes about --due customers due.
    owned = Customer.objects.filter(OWNED_LIVE).exclude(status__in=protected)
    clock = (
        owned.annotate(clock=FOLLOWUP_CLOCK)
        .order_by("clock")
        .values_list("clock", flat=True)[args.due - 1 : args.due]
    )
    threshold = next(iter(clock), None)
    if threshold is None:
        out.append(f"\n(fewer than {args.due} owned unprotected customers: no return measured)")
        return
    days = max(1, (moment - threshold).days)
    setting_set(
        key="pool_rules",
        value={
            **rules,
            "enabled": True,
            "followup_days": {g: days for g in "ABC"},
            "won_days": off,
            "notice_days": 3,
        },
    )
    due_qs = pool._candidates(setting_get("pool_rules"), moment)
    plan = explain(due_qs.values("pk"))
    first = run(f"follow-up rule {days} days (about {args.due:,} due)")
    second = run("the same again (must change nothing)")
    out += ["", "Candidate query plan:", "", "```", plan, "```"]
    print("\n".join(out[-5:]), flush=True)
    for label, seconds in (("idle sweep", idle), ("sweep with returns", first)):
        if seconds > TARGET_SWEEP_S:
            misses.append(f"{label}: {seconds:.1f} s > {TARGET_SWEEP_S:.0f}")
    if second > TARGET_SWEEP_S:
        misses.append(f"repeated sweep: {second:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--users", default="admin,rep1")
    parser.add_argument("--pool", type=int, default=4000, help="pool size to measure with")
    parser.add_argument("--due", type=int, default=5000, help="customers the sweep returns")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--keep", action="store_true", help="commit instead of rolling back")
    args = parser.parse_args(argv)

    from generate import django_setup

    django_setup(args.database_url)
    from django.core.management import call_command
    from django.db import connection, transaction

    from crm.customers.models import Customer

    call_command("migrate", "--noinput", verbosity=0)  # the pool's indexes (customers 0009)
    rng = random.Random(args.seed)
    vendor = connection.vendor
    out: list[str] = []
    misses: list[str] = []
    try:
        with transaction.atomic():
            started = time.perf_counter()
            added = fill_pool(args.pool, rng)
            counts = {
                "customers": Customer.objects.count(),
                "in the pool": Customer.objects.filter(
                    owner__isnull=True, deleted_at__isnull=True
                ).count(),
            }
            head = (
                f"## public pool — {vendor}: "
                + ", ".join(f"{n:,} {k}" for k, n in counts.items())
                + (
                    f" ({added:,} put there for this run in {time.perf_counter() - started:.0f} s)"
                    if added
                    else ""
                )
                + f"\n\n{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python "
                f"{platform.python_version()}; {os.cpu_count()} CPU cores, load average "
                f"{os.getloadavg()[0]:.1f} at the start; {args.iterations} iterations per case "
                "after 3 warm-up rounds; list times in ms. Everything in one transaction, "
                + ("committed." if args.keep else "rolled back at the end.")
                + "\n"
            )
            print(head, flush=True)
            measure_list(args, out, misses, rng)
            if not args.no_sweep:
                measure_sweep(args, out, misses)
            if not args.keep:
                raise Rollback
    except Rollback:
        pass
    text = head + "\n" + "\n".join(out) + "\n"
    if misses:
        text += "\nMissed:\n" + "\n".join(f"- {m}" for m in misses) + "\n"
        print("\nMissed:\n" + "\n".join(f"- {m}" for m in misses))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"pool-{vendor}.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
