#!/usr/bin/env python
"""Benchmark issue 7 in-process: the lead list, the overdue follow-ups, the public pool and the
full sweep over the whole archive (issue 7 §8).

    python bench/run_issue7.py [--database-url ...] [--iterations 50]
                               [--users admin,manager,rep1] [--no-sweeps] [--sweeps-only]
                               [--now 2026-12-03T16:00]

Through django.test.Client (middleware, session, the real views and templates, JSON), logged
in as each user, it times:
- the lead list page and GET /api/v1/leads for an all-scope user, a manager and a rep:
  newest first, status=new, sla_state=breached, owner_id=none (unassigned: only for users who
  may assign) and q (a 2-character fragment of a company in the viewer's scope, a different
  one each iteration);
- the overdue follow-ups page and GET /api/v1/followups/overdue for a rep and a manager;
- the pool list page and GET /api/v1/pool;
- every registered sweep, as `crm sweep --now` runs them (each one timed on its own): a first
  run, then a second run at the same moment, with the notifications each sent. The second run
  must send none (each notice once). The first run changes the database (it is the real sweep:
  notices, pool returns); after bench/generate_leads.py it catches up the day of clock changes
  that script leaves for it (its --swept-hours-ago).
Each answer is checked (status 200; the rows it holds are reported) so a broken page cannot
look fast. A case whose URL or sweep does not exist yet is skipped with a note.

Results: a Markdown table on stdout and in bench/results/issue7.md.
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
CLOCK_SWEEPS = ("lead_sla", "followup_cadence", "customers_dormant", "pool_return")
# Where the pages may live: the first name that reverses (or path that resolves) is used.
PAGES = {
    "leads": ["leads:list", "/leads/"],
    "overdue": [
        "followups:overdue",
        "activities:overdue",
        "activities:followups_overdue",
        "followups:followups_overdue",
        "customers:overdue",
        "/followups/overdue/",
        "/overdue/",
    ],
    "pool": ["pool:list", "customers:pool", "pool:index", "/pool/", "/customers/pool/"],
}
APIS = {
    "leads": "/api/v1/leads",
    "overdue": "/api/v1/followups/overdue",
    "pool": "/api/v1/pool",
}


def timed(func: Any, iterations: int) -> tuple[list[float], Any]:
    for _i in range(3):  # warm-up
        last = func(-1)
    times = []
    for i in range(iterations):
        started = time.perf_counter()
        last = func(i)
        times.append((time.perf_counter() - started) * 1000)
    return times, last


def path_of(candidates: list[str]) -> str | None:
    """The first candidate that is a URL of the app (a URL name that reverses, or a path that
    resolves to a view other than a catch-all)."""
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    for candidate in candidates:
        if candidate.startswith("/"):
            try:
                resolve(candidate)
            except Resolver404:
                continue
            return candidate
        try:
            return reverse(candidate)
        except NoReverseMatch:
            continue
    return None


def api_exists(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def rows_in(response: Any) -> int | None:
    """Rows of a JSON list answer (items / results / a list), None for HTML."""
    if "json" not in response.get("Content-Type", ""):
        return None
    body = response.json()
    if isinstance(body, list):
        return len(body)
    for key in ("items", "results", "rows"):
        if isinstance(body.get(key), list):
            return len(body[key])
    return None


def measure_pages(args: argparse.Namespace, out: list[str], notes: list[str]) -> list[str]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from crm.accounts.models import User
    from crm.core.scope import user_can, user_scope
    from crm.leads.models import Lead

    settings.ALLOWED_HOSTS = ["*"]
    rng = random.Random(args.seed)
    misses: list[str] = []
    pages = {kind: path_of(candidates) for kind, candidates in PAGES.items()}
    apis = {kind: path if api_exists(path) else None for kind, path in APIS.items()}
    for kind in PAGES:
        if pages[kind] is None:
            notes.append(f"{kind} page: skipped, no such URL yet (tried {', '.join(PAGES[kind])})")
        if apis[kind] is None:
            notes.append(f"{kind} API: skipped, {APIS[kind]} does not exist yet")
    header = [
        "| case | viewer | rows | queries | p50 | p95 | max | target p95 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += header
    print("\n".join(header), flush=True)

    for username in args.users.split(","):
        user = User.objects.filter(username=username).first()
        if user is None:
            notes.append(f"user {username}: not in this database, skipped")
            continue
        client = Client()
        client.force_login(user)
        scope = user_scope(user, "leads")
        viewer = f"{username} ({scope})"
        # Search terms: 2-character windows of companies of leads in the viewer's scope.
        visible = Lead.objects.filter(deleted_at__isnull=True)
        if scope == "own":
            visible = visible.filter(owner=user)
        top = Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        terms: list[str] = []
        for _n in range(args.iterations + 10):
            if not top or scope is None:
                break
            company = (
                visible.filter(pk__gte=rng.randrange(1, top + 1))
                .order_by("pk")
                .values_list("company", flat=True)
                .first()
            )
            if company and len(company) >= 6:
                start = rng.randrange(2, min(len(company) - 2, 8))
                terms.append(company[start : start + 2])
        cases: list[tuple[str, str, Any]] = []
        lead_filters = [
            ("newest first", ""),
            ("status=new", "status=new"),
            ("sla_state=breached", "sla_state=breached"),
        ]
        if user_can(user, "leads", "assign"):
            lead_filters.append(("owner_id=none (unassigned)", "owner_id=none"))
        if scope is not None:
            for label, query in lead_filters:
                if pages["leads"]:
                    cases.append((f"lead list page, {label}", pages["leads"], query))
                if apis["leads"]:
                    cases.append((f"GET /api/v1/leads, {label}", apis["leads"], query))
            if terms:
                if pages["leads"]:
                    cases.append(("lead list page, q (2 characters)", pages["leads"], terms))
                if apis["leads"]:
                    cases.append(("GET /api/v1/leads, q (2 characters)", apis["leads"], terms))
        if username != "admin":  # the overdue list per owner: a rep, and a manager's team
            if pages["overdue"]:
                cases.append(("overdue follow-ups page", pages["overdue"], ""))
            if apis["overdue"]:
                cases.append(("GET /api/v1/followups/overdue", apis["overdue"], ""))
        if user_can(user, "pool", "view"):
            if pages["pool"]:
                cases.append(("pool list page", pages["pool"], ""))
            if apis["pool"]:
                cases.append(("GET /api/v1/pool", apis["pool"], ""))

        for label, path, query in cases:

            def get(i: int, path: str = path, query: Any = query, client: Any = client) -> Any:
                if isinstance(query, list):
                    from urllib.parse import urlencode

                    url = f"{path}?{urlencode({'q': query[i % len(query)]})}"
                else:
                    url = f"{path}?{query}" if query else path
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                return response

            queries: list[str] = []

            def count(execute, sql, params, many, context, queries=queries):
                queries.append(sql)
                return execute(sql, params, many, context)

            try:
                with connection.execute_wrapper(count):
                    first = get(0)
            except AssertionError as exc:
                status = exc.args[0][1]
                why = " (the route is not there yet)" if status in (404, 405, 422) else ""
                notes.append(f"{label} as {viewer}: skipped, answered {status}{why}")
                continue
            rows = rows_in(first)
            times, _last = timed(get, args.iterations)
            p50, p95, top_ms = pct(times, 0.5), pct(times, 0.95), max(times)
            ok = "✅" if p95 <= TARGET_MS else "❌"
            if p95 > TARGET_MS:
                misses.append(f"{label} as {viewer}: p95 {p95:.1f} ms > {TARGET_MS:.0f}")
            line = (
                f"| {label} | {viewer} | {'—' if rows is None else rows} | {len(queries)} | "
                f"{p50:.1f} | {p95:.1f} | {top_ms:.1f} | ≤ {TARGET_MS:.0f} {ok} |"
            )
            out.append(line)
            print(line, flush=True)
    return misses


def measure_sweeps(args: argparse.Namespace, out: list[str], notes: list[str]) -> list[str]:
    from django.utils import timezone

    from crm.core.sweeps import sweeps_registered
    from crm.notify.models import Notification

    misses: list[str] = []
    sweeps = sweeps_registered()
    for name in CLOCK_SWEEPS:
        if name not in sweeps:
            notes.append(f"sweep {name}: skipped, not registered yet")
    moment = args.now or timezone.now()
    header = [
        "",
        f"Sweeps as of {timezone.localtime(moment).isoformat(timespec='minutes')}, each run on "
        "its own in registration order (what `crm sweep --now` runs):",
        "",
        "| sweep | 1st run: s | touched | notices | 2nd run: s | touched | notices |",
        "|---|---|---|---|---|---|---|",
    ]
    out += header
    print("\n".join(header), flush=True)
    runs: list[dict[str, tuple[float, int | str, int]]] = [{}, {}]
    for run in runs:
        for name, func in sweeps.items():
            before = Notification.objects.count()
            started = time.perf_counter()
            try:
                touched: int | str = func(now=moment)
            except Exception as exc:  # reported, like sweeps_run_now goes on with the others
                touched = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            run[name] = (
                time.perf_counter() - started,
                touched,
                Notification.objects.count() - before,
            )
    for name in sweeps:
        (s1, t1, n1), (s2, t2, n2) = runs[0][name], runs[1][name]
        line = f"| {name} | {s1:.2f} | {t1} | {n1:,} | {s2:.2f} | {t2} | {n2:,} |"
        out.append(line)
        print(line, flush=True)
    totals = [sum(r[n][0] for n in sweeps) for r in runs]
    notices = [sum(r[n][2] for n in sweeps) for r in runs]
    ok1 = "✅" if totals[0] <= TARGET_SWEEP_S else "❌"
    ok2 = "✅" if notices[1] == 0 else "❌"
    line = (
        f"| **all sweeps** | **{totals[0]:.1f}** {ok1} | | **{notices[0]:,}** | "
        f"**{totals[1]:.1f}** | | **{notices[1]:,}** {ok2} |"
    )
    out.append(line)
    print(line, flush=True)
    out.append(
        f"\nTargets: the full sweep ≤ {TARGET_SWEEP_S:.0f} s; the second run sends no notice."
    )
    if totals[0] > TARGET_SWEEP_S:
        misses.append(f"first sweep run: {totals[0]:.1f} s > {TARGET_SWEEP_S:.0f}")
    if notices[1]:
        misses.append(f"second sweep run sent {notices[1]} notices (each must be sent once)")
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--users", default="admin,manager,rep1")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-sweeps", action="store_true", help="only the pages and routes")
    parser.add_argument("--sweeps-only", action="store_true", help="only the sweeps")
    parser.add_argument("--now", default=None, help="the sweeps' moment (ISO; default now)")
    args = parser.parse_args(argv)

    from generate import django_setup

    django_setup(args.database_url)
    from django.db import connection

    from crm.activities.models import FollowUp
    from crm.cli import sweep_moment
    from crm.customers.models import Customer
    from crm.leads.models import Lead

    args.now = sweep_moment(args.now) if args.now else None
    vendor = connection.vendor
    counts = {
        "customers": Customer.objects.count(),
        "in the pool": Customer.objects.filter(owner__isnull=True, deleted_at__isnull=True).count(),
        "leads": Lead.objects.count(),
        "follow-ups": FollowUp.objects.count(),
    }
    head = (
        f"## issue 7 — {vendor}: "
        + ", ".join(f"{n:,} {k}" for k, n in counts.items())
        + f"\n\n{dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python "
        f"{platform.python_version()}; {os.cpu_count()} CPU cores, load average "
        f"{os.getloadavg()[0]:.1f} at the start; {args.iterations} iterations per case after 3 "
        "warm-up rounds. Times in ms.\n"
    )
    print(head, flush=True)
    out: list[str] = []
    notes: list[str] = []
    misses: list[str] = []
    if not args.sweeps_only:
        misses += measure_pages(args, out, notes)
    if not args.no_sweeps:
        misses += measure_sweeps(args, out, notes)
    text = head + "\n" + "\n".join(out) + "\n"
    if notes:
        text += "\nSkipped:\n" + "\n".join(f"- {n}" for n in notes) + "\n"
        print("\nSkipped:\n" + "\n".join(f"- {n}" for n in notes))
    if misses:
        text += "\nMissed:\n" + "\n".join(f"- {m}" for m in misses) + "\n"
        print("\nMissed:\n" + "\n".join(f"- {m}" for m in misses))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "issue7.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
