"""The `crm` command: run the app (with its worker), serve in production, sweep, or manage.

crm run        set up (migrate, demo data when empty) and start web + worker: the quick start
crm serve      production web server (gunicorn), no demo data
crm worker     background task worker, with the periodic sweeps
crm sweep      run the periodic sweeps once (cron-friendly, idempotent); --now WHEN as of then
crm <django management command> ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# Short enough for a reminder 30 minutes before a planned follow-up (FUP-2) to go out on time.
SWEEP_INTERVAL_SECONDS = int(os.environ.get("CRM_SWEEP_INTERVAL", "300"))
# gunicorn loads the app in each worker before it answers; on a busy laptop that takes a while.
START_TIMEOUT_SECONDS = float(os.environ.get("CRM_START_TIMEOUT", "90"))


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()


def _manage(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


def _print_banner(port: int, demo_password: str | None) -> None:
    from crm.demo import USERS

    line = "=" * 64
    print(line)
    print(f"  CRM is running:  http://127.0.0.1:{port}/")
    print(f"  API docs:        http://127.0.0.1:{port}/api/v1/docs")
    if demo_password:
        print("  Demo logins (username / password):")
        for username, (full_name, dept, role, _sup, _su) in USERS.items():
            print(f"    {username:<9} / {demo_password}   {role} {dept or ''} {full_name}")
    print("  Stop with Ctrl+C.")
    print(line, flush=True)


def _worker_command() -> list[str]:
    from django.conf import settings

    if settings.REDIS_URL:
        # django_tasks_rq's Job runs a django.tasks Task; RQ's own Job would call the Task
        # object and fail ("'Task' object is not callable").
        return [
            sys.executable,
            "-m",
            "django",
            "rqworker",
            "default",
            "--with-scheduler",
            "--job-class",
            "django_tasks_rq.Job",
        ]
    return [sys.executable, "-m", "django", "db_worker", "--interval", "2"]


def _scheduler_loop(stop: threading.Event) -> None:
    """Enqueue the periodic sweeps; the worker runs them."""
    from crm.core.tasks import sweeps_run

    while not stop.is_set():
        try:
            sweeps_run.enqueue()
        except Exception as exc:
            print(f"crm: could not enqueue sweeps: {exc}", file=sys.stderr)
        stop.wait(SWEEP_INTERVAL_SECONDS)


def cmd_run(argv: list[str]) -> int:
    port = int(os.environ.get("PORT", "8000"))
    _django_setup()
    from django.conf import settings

    from crm.accounts.models import User

    _manage("migrate", "--noinput", "-v", "0")
    # WhiteNoise serves from the finders here; it only wants the collected folder to exist.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    demo_password = None
    if "--no-demo" not in argv and not User.objects.exists():
        from crm.demo import demo_load

        print("crm: loading demo data (first start) ...", flush=True)
        result = demo_load(password=settings.CRM_DEMO_PASSWORD)
        print(f"crm: {result['customers']} demo customers created", flush=True)
    if User.objects.filter(username="admin").exists() and "--no-demo" not in argv:
        demo_password = settings.CRM_DEMO_PASSWORD
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "crm.settings"}
    procs = [subprocess.Popen(_worker_command(), env=env)]
    stop = threading.Event()
    threading.Thread(target=_scheduler_loop, args=(stop,), daemon=True).start()
    if "--dev" in argv:
        web = [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}"]
        env["DEBUG"] = "1"
    else:
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "crm.wsgi:application",
            "--bind",
            f"{os.environ.get('HOST', '127.0.0.1')}:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "2"),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--log-level",
            "warning",
        ]
    procs.append(subprocess.Popen(web, env=env))
    try:
        problem = server_wait(
            host=os.environ.get("HOST", "127.0.0.1"),
            port=port,
            procs={"web server": procs[1], "worker": procs[0]},
            timeout=START_TIMEOUT_SECONDS,
        )
    except KeyboardInterrupt:
        _stop(procs, stop)
        return 130
    if problem:
        print(f"crm: {problem}", file=sys.stderr, flush=True)
        _stop(procs, stop)
        return 1
    _print_banner(port, demo_password)
    return _wait(procs, stop)


def server_wait(
    *,
    host: str,
    port: int,
    procs: dict[str, subprocess.Popen],
    timeout: float,
    interval: float = 0.25,
) -> str | None:
    """Wait until the login page answers, so the banner never points at a closed port.

    Returns None once it answers, else what went wrong (a process exited, or no answer in time).
    """
    if host in {"", "0.0.0.0", "::"}:
        host = "127.0.0.1"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        for name, proc in procs.items():
            code = proc.poll()
            if code is not None:
                return f"the {name} exited (code {code}) before the CRM answered; see above."
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            try:
                conn.request("GET", "/account/login/")
                status = conn.getresponse().status
            finally:
                conn.close()
            if status < 500:
                return None
            last = f"HTTP {status}"
        except OSError as exc:
            last = str(exc) or type(exc).__name__
        if time.monotonic() >= deadline:
            return (
                f"the web server did not answer at http://{host}:{port}/account/login/ "
                f"within {timeout:.0f} s (last: {last}); stopping."
            )
        time.sleep(interval)


def _stop(procs: list[subprocess.Popen], stop: threading.Event) -> None:
    stop.set()
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def _wait(procs: list[subprocess.Popen], stop: threading.Event) -> int:
    def shutdown(*_args: object) -> None:
        stop.set()
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        _stop(procs, stop)
    return max((p.returncode or 0) for p in procs)


def cmd_serve(argv: list[str]) -> int:
    """Production web server: several worker processes, no demo data, migrations applied."""
    port = os.environ.get("PORT", "8000")
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "crm.wsgi:application",
        "--bind",
        f"{os.environ.get('HOST', '0.0.0.0')}:{port}",
        "--workers",
        os.environ.get("WEB_CONCURRENCY", str((os.cpu_count() or 1) * 2 + 1)),
        "--access-logfile",
        "-",
        *argv,
    ]
    return subprocess.call(args)


def cmd_worker(argv: list[str]) -> int:
    _django_setup()
    stop = threading.Event()
    threading.Thread(target=_scheduler_loop, args=(stop,), daemon=True).start()
    proc = subprocess.Popen(_worker_command() + argv)
    return _wait([proc], stop)


def sweep_moment(value: str) -> dt.datetime:
    """`--now`: an ISO date or date-time; without a zone it is the CRM's (Asia/Shanghai)."""
    from django.utils import timezone

    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date or date-time (e.g. 2027-01-31 or 2027-01-31T10:00)"
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def cmd_sweep(argv: list[str]) -> int:
    _django_setup()
    from django.utils import timezone

    from crm.core.sweeps import sweeps_run_now

    parser = argparse.ArgumentParser(
        prog="crm sweep", description="Run every periodic sweep once (idempotent)."
    )
    parser.add_argument(
        "--now",
        type=sweep_moment,
        default=None,
        metavar="WHEN",
        help="run as of this ISO date or date-time (default: the present), e.g. 2027-01-31T10:00",
    )
    args = parser.parse_args(argv)
    moment = args.now or timezone.now()
    print(f"sweeps as of {timezone.localtime(moment).isoformat(timespec='minutes')}")
    for name, count in sweeps_run_now(now=moment).items():
        print(f"{name}: {count}")
    return 0


COMMANDS = {"run": cmd_run, "serve": cmd_serve, "worker": cmd_worker, "sweep": cmd_sweep}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    sys.path.insert(0, str(Path.cwd()))
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["crm", *argv])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
