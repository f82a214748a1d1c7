"""The production path works as the README's "Running it for real" says (issue 5 §5).

In subprocesses, with the production environment (CRM_ENV=production, a generated SECRET_KEY, a
throwaway PostgreSQL database, Redis for cache, sessions and the task queue):

- `crm check --deploy` is clean (it failed: django_tasks_rq needs the django_rq app);
- `crm migrate`, `crm collectstatic` and `crm createsuperuser` succeed;
- `crm serve` answers behind two gunicorn workers; a login through the web holds on both
  workers, and the session lives in Redis;
- `crm worker` runs the sweeps it enqueues at start, and a task that a web request enqueued
  (shortening the recycle-bin retention in Settings → System rules purges at once); it ran
  nothing before: RQ's own Job class cannot call a django.tasks Task.

Needs PostgreSQL and Redis (CI has both); skipped, saying why, when either cannot be reached.
The test owns one Redis database (CRM_TEST_REDIS_URL, default db 6) and empties it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
import pytest
import redis

from crm.cli import server_wait

pytestmark = pytest.mark.production

BASE_DIR = Path(__file__).resolve().parent.parent
PORTS = range(int(os.environ.get("CRM_TEST_PORT_FIRST", "8160")), 8170)
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379/6")
PASSWORD = "Prod-path-" + secrets.token_urlsafe(12)
COMMAND_TIMEOUT = 120


def _postgres_admin_url() -> str:
    """The server that hosts the throwaway database: CRM_TEST_POSTGRES_URL, else the server of
    a PostgreSQL DATABASE_URL, else the local one."""
    explicit = os.environ.get("CRM_TEST_POSTGRES_URL")
    if explicit:
        return explicit
    current = os.environ.get("DATABASE_URL", "")
    if current.startswith(("postgres://", "postgresql://")):
        return urlunsplit(urlsplit(current)._replace(path="/postgres"))
    return "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1} for crm serve")


def _wait_for(what: str, check: Callable[[], bool], timeout: float, logs: Callable[[], str]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s\n{logs()}")


class Deployment:
    """The production environment and the processes started in it (killed at teardown)."""

    def __init__(self, *, database_url: str, tmp: Path) -> None:
        self.tmp = tmp
        self.database_url = database_url
        self.env = {
            # A clean environment, as on a server: nothing from the test run leaks in.
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            # gunicorn keeps its control socket under HOME: one per deployment, not shared.
            "HOME": str(tmp),
            "LANG": "C.UTF-8",
            "CRM_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "ALLOWED_HOSTS": "127.0.0.1",
            "CRM_STATIC_ROOT": str(tmp / "static"),
            "CRM_DATA_DIR": str(tmp / "data"),
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def crm(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        # `python -m crm.cli` from the checkout is the `crm` console script of this checkout
        # (the installed script may point at another one).
        return subprocess.run(
            [sys.executable, "-m", "crm.cli", *args],
            cwd=BASE_DIR,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )

    def crm_ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = self.crm(*args, env=env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"crm {' '.join(args)} failed:\n{output}"
        return output

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "crm.cli", *args],
            cwd=BASE_DIR,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's and RQ's children too
        )
        log.close()

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)[-4000:]}" for name in self.procs)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def sql(self, query: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def deployment(tmp_path, redis_db) -> Iterator[Deployment]:
    """A fresh PostgreSQL database and a production environment; dropped and killed after."""
    admin_url = _postgres_admin_url()
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL is not reachable at {admin_url}: {exc}")
    name = f"crm_prod_path_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    deployment = Deployment(database_url=_with_database(admin_url, name), tmp=tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


class Browser:
    """Plain HTTP to gunicorn as nginx would forward HTTPS (X-Forwarded-Proto), with cookies
    kept by hand: production cookies are Secure, which a normal client keeps off plain HTTP."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"https://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": "https",
            "Origin": self.origin,
            "Referer": self.origin + path,
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                for key, morsel in SimpleCookie(header).items():
                    self.cookies[key] = morsel.value
            return response.status, dict(response.headers), text
        finally:
            conn.close()

    def csrf_from(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert match, "no CSRF token on the page"
        return match.group(1)


SETUP = """
import datetime as dt, json
from django.utils import timezone
from crm.accounts.models import Role, User
from crm.customers.models import Customer
from crm.customers.services import customer_create, customer_delete

admin = User.objects.get(username="admin")
rep = User.objects.create_user(username="rep", full_name="李明", password="unused-Passw0rd!")
rep.roles.set([Role.objects.get(code="sales_rep")])
ids = {}
for n, days in enumerate((31, 10), start=1):
    customer = customer_create(
        actor=admin,
        data={"type": "enterprise", "name": f"生产验证{n}科技有限公司", "industry": "it",
              "source": "website", "grade": "B", "owner_id": rep.pk,
              "phone": f"1390000000{n}"},
        contacts=[{"name": f"联系人{n}", "phone": f"1380000000{n}", "is_primary": True}],
        confirm_duplicates=True,
    )
    customer_delete(actor=admin, customer=customer)
    Customer.objects.filter(pk=customer.pk).update(
        deleted_at=timezone.now() - dt.timedelta(days=days)
    )
    ids[days] = customer.pk
print("IDS=" + json.dumps(ids))
"""


def test_check_deploy_is_clean_with_the_production_settings(deployment):
    """Before the mend: 'RQBackend configured as django_tasks_rq backend, but django_rq app
    not installed'. The README's settings, unchanged (SSL redirect and HSTS on)."""
    output = deployment.crm_ok("check", "--deploy")
    assert "System check identified no issues" in output
    assert "WARNING" not in output and "ERROR" not in output


def test_the_production_path_serves_logs_in_and_runs_tasks(deployment, redis_db):
    d = deployment
    began = time.monotonic()

    # given a database migrated, static files collected and a first administrator
    d.crm_ok("migrate", "--noinput")
    d.crm_ok("collectstatic", "--noinput")
    assert (d.tmp / "static" / "staticfiles.json").exists()
    d.crm_ok(
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    # and two customers in the recycle bin, for 31 and for 10 days (retention: 30 days)
    setup = d.crm_ok("shell", "-c", SETUP)
    ids = {int(k): v for k, v in json.loads(setup.split("IDS=")[1].splitlines()[0]).items()}

    def exists(pk: int) -> bool:
        return bool(d.sql("SELECT 1 FROM customers_customer WHERE id = %s", pk))

    # when `crm serve` runs with two workers, and `crm worker` beside it
    port = _free_port()
    d.start(
        "serve",
        "serve",
        "--access-logformat",
        "%(p)s %(s)s %(m)s %(U)s",
        env={"PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"},
    )
    d.start("worker", "worker")
    problem = server_wait(host="127.0.0.1", port=port, procs=d.procs, timeout=60)
    assert problem is None, f"{problem}\n{d.logs()}"

    # then the worker ran the sweeps it enqueues at start: the 31-day-old customer is purged
    _wait_for("the start-up sweep's purge", lambda: not exists(ids[31]), 60, d.logs)
    assert exists(ids[10])

    # when the administrator logs in through the web
    browser = Browser(port)
    status, _headers, page = browser.request("GET", "/account/login/")
    assert status == 200, page[:500]
    status, headers, page = browser.request(
        "POST",
        "/account/login/",
        {
            "username": "admin",
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.csrf_from(page),
        },
    )
    assert status == 302 and headers["Location"] == "/", (status, page[:500])
    session = browser.cookies["sessionid"]

    # then every request with that session is served logged in, by both web processes
    pids: set[str] = set()
    for _round in range(5):
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: browser.request("GET", "/")[0], range(16)))
        assert answers == [200] * 16, answers
        pids = set(re.findall(r"^<(\d+)> 200 GET /$", d.log("serve"), re.MULTILINE))
        if len(pids) >= 2:
            break
    assert len(pids) == 2, f"home page answered by workers {pids}\n{d.logs()}"
    # and the session lives in Redis, where both processes find it
    assert list(redis_db.scan_iter(match=f"*{session}")), "the session is not in Redis"

    # when a web request shortens the retention to 7 days
    status, _headers, page = browser.request("GET", "/settings/rules/")
    assert status == 200, page[:500]
    status, headers, page = browser.request(
        "POST",
        "/settings/rules/",
        {
            "csrfmiddlewaretoken": browser.csrf_from(page),
            "recycle_bin_days": "7",
            "duplicate_name": "block",
            "duplicate_credit_code": "block",
            "duplicate_phone": "warn",
            "duplicate_email": "warn",
        },
    )
    assert status == 302, (status, page[:500])

    # then the worker runs the sweep that request enqueued: the 10-day-old customer is purged
    # (the next scheduled sweep is an hour away), with an audit entry by the system. The worker
    # had read the 30-day retention into the cache at start; that it now purges at 7 days
    # shows the web process's cache invalidation reached it: one cache, in Redis.
    _wait_for("the purge enqueued by the web request", lambda: not exists(ids[10]), 30, d.logs)
    purges = d.sql(
        "SELECT object_id, actor_name FROM core_auditentry WHERE action = 'purge' ORDER BY id"
    )
    assert purges == [(ids[31], "system"), (ids[10], "system")]
    assert "Traceback" not in d.log("worker"), d.log("worker")

    # the whole path stays quick enough for every CI run
    assert time.monotonic() - began < 150
