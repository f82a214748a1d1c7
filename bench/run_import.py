#!/usr/bin/env python
"""Benchmark imports (issue 8 §2): customers with their primary contact, from csv and xlsx,
through the full engine (crm.dataio.imports + crm.customers.imports: parsing, customer_clean
and contact_clean, the duplicate lookups and locks, numbers, bulk writes, audit, timeline).

    python bench/run_import.py [--database-url URL] [--rows 100000] [--formats csv,xlsx]
                               [--memory] [--notes /work/notes/import-bench.md]

Each run generates a file of N new customers (unique names, phones, credit codes), imports it
as the administrator (created if missing; the database is migrated first) and reports rows/s,
the queries per batch, the peak of Python allocations (tracemalloc, --memory: a second,
slower run) and the process's resident-set size (ru_maxrss). The figures are appended to the
notes file.
"""

from __future__ import annotations

import argparse
import csv
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


HEADER = ["名称", "行业", "等级", "电话", "邮箱", "统一社会信用代码", "地址", "联系人姓名",
          "联系人职务", "联系人电话"]  # fmt: skip


def rows(n: int, run: str):
    for i in range(n):
        yield [
            f"基准{run}{i:07d}科技有限公司",
            "IT",
            "ABC"[i % 3],
            f"13{5 + int(run[-3:]) % 5}{i:08d}",  # 135-139: valid mobile prefixes
            f"c{i}@{run.lower()}.example.com",
            "",
            f"北京市海淀区基准路{i}号",
            f"联系人{i}",
            "经理",
            f"18{6 + int(run[-3:]) % 4}{i:08d}",  # 186-189
        ]


def write_file(fmt: str, n: int, run: str, folder: str) -> Path:
    path = Path(folder) / f"bench-{run}.{fmt}"
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows(n, run))
    else:
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = book.add_worksheet()
        for c, h in enumerate(HEADER):
            sheet.write_string(0, c, h)
        for r, values in enumerate(rows(n, run), start=1):
            for c, v in enumerate(values):
                sheet.write_string(r, c, v)
        book.close()
    return path


def import_once(user: Any, path: Path) -> dict[str, Any]:
    from django.core.files import File
    from django.db import connection, reset_queries

    from crm.dataio import imports

    with path.open("rb") as handle:
        job = imports.import_job_start(
            actor=user, module_key="customers", upload=File(handle, name=path.name), run=False
        )
    started = time.perf_counter()
    job = imports.import_job_run_now(job.pk)
    seconds = time.perf_counter() - started
    assert job.state == "done", job.message
    reset_queries()
    del connection
    return {
        "rows": job.done,
        "created": job.created,
        "rejected": job.rejected,
        "seconds": seconds,
        "rate": job.done / seconds if seconds else 0,
        "errors": job.errors[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--memory", action="store_true", help="a tracemalloc run as well")
    parser.add_argument("--notes", default="/work/notes/import-bench.md")
    args = parser.parse_args()
    django_setup(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from crm.accounts.models import User

    user = User.objects.filter(username="admin").first() or User.objects.create_superuser(
        username="admin", password="bench-Passw0rd!", full_name="管理员"
    )
    vendor = connection.vendor
    lines = []
    stamp = time.strftime("%Y%m%d%H%M%S")
    with tempfile.TemporaryDirectory() as folder:
        for k, fmt in enumerate(args.formats.split(",")):
            run = f"R{stamp}{k}{os.getpid() % 1000:03d}"
            started = time.perf_counter()
            path = write_file(fmt, args.rows, run, folder)
            made = time.perf_counter() - started
            before = rss_mb()
            result = import_once(user, path)
            line = (
                f"| {vendor} | {fmt} | {result['rows']:,} | {result['seconds']:.1f} s | "
                f"{result['rate']:,.0f} | {rss_mb():.0f} MB (+{rss_mb() - before:.0f}) |"
            )
            if args.memory:
                run = f"M{stamp}{k}{os.getpid() % 1000:03d}"
                path = write_file(fmt, args.rows, run, folder)
                tracemalloc.start()
                import_once(user, path)
                _current, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                line += f" {peak / 2**20:.0f} MB |"
            else:
                line += " - |"
            if result["rejected"]:
                line += f" {result['rejected']} REJECTED |"
            print(f"{line}  (file written in {made:.1f} s; {result['rejected']} rejected "
                  f"{result['errors']})", flush=True)  # fmt: skip
            lines.append(line)
    if args.notes:
        with open(args.notes, "a", encoding="utf-8") as handle:
            handle.write(
                f"\n### {time.strftime('%Y-%m-%d %H:%M')} bench/run_import.py --rows {args.rows}"
                f" ({vendor})\n\n| db | format | rows | time | rows/s | max RSS | "
                "tracemalloc peak |\n|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
