#!/usr/bin/env python
"""HTTP load on the customer list: `crm serve` in the production configuration, measured.

    python bench/http_load.py [--database-url postgres://...] [--redis-url redis://...]
                              [--port 8170] [--concurrency 8] [--duration 30]
                              [--url /api/v1/customers] [--user admin] [--workers N]

What it does, and nothing else:
1. creates an API token for `--user` in the database (revoked again at the end);
2. starts `crm serve --preload` itself (gunicorn, `--workers` or crm serve's own default of
   2 × cores + 1) on 127.0.0.1:`--port` with CRM_ENV=production, a random SECRET_KEY,
   SECURE_SSL_REDIRECT=0, the database and, unless `--redis-url ""`, Redis for cache and
   sessions: the configuration README's "Running it for real" describes;
3. waits until the list answers 200, warms up for `--warmup` seconds, then runs
   `--concurrency` client threads for `--duration` seconds (at most `--max-requests`
   requests), each sending GET `--url` with the token and X-Forwarded-Proto: https, as a
   TLS-terminating proxy in front would;
4. stops the server it started and prints requests/s, latency percentiles, errors, the CPU
   time each answer cost the web workers, PostgreSQL's backends and the client (read from
   /proc: true whatever else the machine runs), and the load average before and after (the
   machine may be shared: throughput and latency from a busy machine are not comparable), as
   a Markdown row, also appended to bench/results/http.md.

Only 127.0.0.1 is ever contacted. The client is plain threads and http.client (one TCP
connection per request: gunicorn's sync workers close every connection), so it costs the two
cores some CPU too, as any client on the same box would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import pct  # noqa: E402 - the bench folder is on the path only from here

HOST = "127.0.0.1"
TARGET_RPS = 150.0
TARGET_P95_MS = 100.0


def get(port: int, url: str, headers: dict[str, str], timeout: float = 10.0) -> tuple[int, int]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, len(body)
    finally:
        conn.close()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (after "comm")


def session_pids(sid: int) -> list[int]:
    """The processes of the server's own session: crm serve, gunicorn and its workers."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[3]) == sid:
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (utime, stime: fields 14 and 15)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def database_backend_pids() -> list[int]:
    """PostgreSQL backends serving this database (the web workers' persistent connections)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cur.fetchall()]


def server_start(args: argparse.Namespace, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "CRM_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": args.database_url,
        "HOST": HOST,
        "PORT": str(args.port),
        "ALLOWED_HOSTS": HOST,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "crm.settings",
    }
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    command = [sys.executable, "-m", "crm.cli", "serve", *args.serve_args.split()]
    with log.open("wb") as out:
        # A session of its own, so that stopping it stops its gunicorn workers and nothing else.
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def server_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_ready(port: int, url: str, headers: dict[str, str], proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"crm serve exited with {proc.returncode}; see its log")
        try:
            status, _size = get(port, url, headers, timeout=5)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise SystemExit(f"crm serve did not answer {url} with 200 in 90 s ({last})")


def load(
    *,
    port: int,
    url: str,
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    max_requests: int,
) -> tuple[list[float], dict[str, int], float, int]:
    """(latencies in ms of the 200 answers, other outcomes counted, elapsed s, bytes/answer)."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    sizes: list[int] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    sent = 0

    def worker() -> None:
        nonlocal sent
        while True:
            with lock:
                if sent >= max_requests or time.monotonic() >= stop_at:
                    return
                sent += 1
            started = time.perf_counter()
            try:
                status, size = get(port, url, headers)
                outcome = "ok" if status == 200 else f"HTTP {status}"
            except OSError as exc:
                outcome, size = type(exc).__name__, 0
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if outcome == "ok":
                    latencies.append(elapsed)
                    sizes.append(size)
                else:
                    failures[outcome] = failures.get(outcome, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 30)
    elapsed = time.perf_counter() - started
    return latencies, failures, elapsed, (sum(sizes) // len(sizes) if sizes else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/7",
        help='cache and sessions; "" for none (file cache, database sessions)',
    )
    parser.add_argument("--port", type=int, default=8170)
    parser.add_argument("--workers", type=int, default=0, help="default: crm serve's own")
    parser.add_argument(
        "--serve-args",
        default="--preload",
        help="extra gunicorn options for crm serve (default --preload: every worker is ready "
        "when the first answers; without it the others may still be importing the app, "
        "pypinyin's dictionaries mostly, during the measurement)",
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--url", default="/api/v1/customers")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--label", default="", help="a note for the results row")
    args = parser.parse_args(argv)
    if not args.database_url:
        raise SystemExit("--database-url (or DATABASE_URL) is required")
    if not args.url.startswith("/"):
        raise SystemExit("--url is a path on the local server, e.g. /api/v1/customers")

    from generate import django_setup

    django_setup(args.database_url)
    from crm.accounts.models import User
    from crm.accounts.services import api_token_create, api_token_revoke
    from crm.customers.models import Customer

    user = User.objects.get(username=args.user)
    token, raw = api_token_create(user=user, name="bench/http_load.py")
    customers = Customer.objects.count()
    headers = {
        "Authorization": f"Bearer {raw}",
        "X-Forwarded-Proto": "https",
        "Host": HOST,
        "Accept": "application/json",
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    log = results / "http-server.log"
    load_before = os.getloadavg()
    proc = server_start(args, log)
    try:
        wait_ready(args.port, args.url, headers, proc)
        load(
            port=args.port,
            url=args.url,
            headers=headers,
            concurrency=args.concurrency,
            duration=args.warmup,
            max_requests=args.max_requests,
        )
        # CPU spent by the server's processes, the database's backends and this client during
        # the measurement: what each answer costs, whatever else the machine is doing.
        web_pids, db_pids = session_pids(proc.pid), database_backend_pids()
        cpu_before = cpu_seconds(web_pids), cpu_seconds(db_pids), time.process_time()
        latencies, failures, elapsed, size = load(
            port=args.port,
            url=args.url,
            headers=headers,
            concurrency=args.concurrency,
            duration=args.duration,
            max_requests=args.max_requests,
        )
        cpu_after = cpu_seconds(web_pids), cpu_seconds(db_pids), time.process_time()
    finally:
        server_stop(proc)
        api_token_revoke(actor=user, token=token)
    load_after = os.getloadavg()
    rps = len(latencies) / elapsed
    answers = max(1, len(latencies) + sum(failures.values()))
    web_ms, db_ms, client_ms = (
        (after - before) * 1000 / answers
        for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    p50, p95, p99 = (pct(latencies, p) for p in (0.5, 0.95, 0.99))
    ok = rps >= TARGET_RPS and p95 <= TARGET_P95_MS and not failures
    workers = args.workers or (os.cpu_count() or 1) * 2 + 1
    cache = "Redis" if args.redis_url else "file cache, db sessions"
    row = (
        f"| {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC | {customers:,} | {args.url} | "
        f"{cache} | {workers} | {args.concurrency} | {len(latencies):,} in {elapsed:.0f} s | "
        f"**{rps:.0f}** | {p50:.0f} / **{p95:.0f}** / {p99:.0f} / {max(latencies):.0f} | "
        f"{sum(failures.values())} | {size:,} | {web_ms:.1f} / {db_ms:.1f} / {client_ms:.1f} | "
        f"{2000 / (web_ms + db_ms):.0f} | {load_before[0]:.1f} → {load_after[0]:.1f} | "
        f"{'✅' if ok else '❌'} {args.serve_args} {args.label} |"
    )
    head = (
        "| when | customers | path | cache | workers | concurrency | answers | req/s | "
        "ms p50 / p95 / p99 / max | errors | bytes | CPU ms per answer: web / PostgreSQL / "
        "client | req/s 2 free cores could serve (2000 ÷ web+PostgreSQL CPU ms) | "
        "load avg (1 min) before → after | ≥150/s, p95 ≤100 |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    print(head)
    print(row)
    if failures:
        print(f"failures: {failures}", file=sys.stderr)
    out = results / "http.md"
    if not out.exists():
        out.write_text(head + "\n", encoding="utf-8")
    with out.open("a", encoding="utf-8") as f:
        f.write(row + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
