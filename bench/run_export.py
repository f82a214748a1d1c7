#!/usr/bin/env python
"""Benchmark exports (issue 8 §3): the customer list as csv and xlsx, rows per second and
peak memory, through the same code the export view and the worker run.

    python bench/run_export.py [--database-url ...] [--users admin,manager_east]
                               [--formats csv,xlsx] [--limit 0]

Generate the data first (bench/generate.py --customers 100000). For each user and format the
whole list the user sees (scope, default sort) is written to a temporary file by
crm.dataio.exports (csv_chunks / xlsx_write over rows_iter: iterator chunks of 2,000 rows,
the primary contacts prefetched per chunk, masking, labels, formula neutralisation), and the
run reports rows, seconds, rows/s, the queries it took (constant per chunk), the peak of
Python allocations (tracemalloc) and the process's resident-set growth (ru_maxrss).

tracemalloc slows Python down by about a third, so the rate is measured in a run without it
and the memory in a second run with it (--no-memory skips the second).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_setup(database_url: str) -> None:
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def export_once(user: Any, fmt: str, *, limit: int) -> dict[str, Any]:
    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext

    from crm.dataio.exports import ExportPlan, csv_chunks, rows_iter, xlsx_write
    from crm.dataio.registry import dataio_module

    plan = ExportPlan(module=dataio_module("customers"), user=user, format=fmt, params=QueryDict())
    columns = plan.columns()
    header = [str(c.label) for c in columns]
    queryset = plan.queryset()
    if limit:
        queryset = queryset[:limit]
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries, tempfile.TemporaryFile() as handle:
        rows = rows_iter(plan.module, columns, queryset, plan.context())
        if fmt == "csv":
            count = 0

            def counted(rows: Any) -> Any:
                nonlocal count
                for row in rows:
                    count += 1
                    yield row

            for chunk in csv_chunks(header, counted(rows)):
                handle.write(chunk)
        else:
            count = xlsx_write(handle, header, rows)
        size = handle.tell()
    seconds = time.perf_counter() - started
    return {
        "rows": count,
        "seconds": seconds,
        "rate": count / seconds if seconds else 0.0,
        "queries": len(queries.captured_queries),
        "size_mb": size / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--users", default="admin")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--limit", type=int, default=0, help="export at most this many rows")
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args(argv)
    django_setup(args.database_url)

    from django.conf import settings
    from django.db import connection
    from django.utils import translation

    from crm.accounts.models import User

    settings.DEBUG = False
    translation.activate("zh-hans")
    vendor = connection.vendor
    print(f"database: {vendor} {connection.settings_dict['NAME']}", flush=True)
    lines = [
        "| user | format | rows | s | rows/s | queries | file MB | peak Python MB "
        "| RSS growth MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for username in args.users.split(","):
        user = User.objects.get(username=username)
        for fmt in args.formats.split(","):
            rss_before = rss_mb()
            timing = export_once(user, fmt, limit=args.limit)
            rss_growth = rss_mb() - rss_before
            peak = float("nan")
            if not args.no_memory:
                tracemalloc.start()
                export_once(user, fmt, limit=args.limit)
                peak = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
            line = (
                f"| {username} | {fmt} | {timing['rows']:,} | {timing['seconds']:.1f} "
                f"| {timing['rate']:,.0f} | {timing['queries']} | {timing['size_mb']:.1f} "
                f"| {peak:.1f} | {rss_growth:.1f} |"
            )
            print(line, flush=True)
            lines.append(line)
    print("\n".join(lines))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"export-{vendor}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
