"""`crm run` prints "CRM is running" only once the server answers (issue 5 §7): before the
mend it slept 1.5 s and printed the banner about 13 s before the port accepted connections."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from crm import cli

# A tiny web server that starts answering only after a delay, like gunicorn loading Django.
SLOW_SERVER = """
import http.server, sys, time
time.sleep(float(sys.argv[2]))
class Login(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/account/login/" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Login).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def started():
    procs: list[subprocess.Popen] = []

    def start(code: str, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", code, *args])
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def test_the_wait_ends_only_when_the_login_page_answers(started):
    port = _free_port()
    web = started(SLOW_SERVER, str(port), "2")
    begun = time.monotonic()
    problem = cli.server_wait(host="0.0.0.0", port=port, procs={"web server": web}, timeout=30)
    waited = time.monotonic() - begun
    assert problem is None
    # it waited for the server's start-up delay, not a fixed guess
    assert waited >= 1.9
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_a_web_process_that_dies_is_reported_instead_of_the_banner(started):
    web = started("import sys; sys.exit(3)")
    problem = cli.server_wait(
        host="127.0.0.1", port=_free_port(), procs={"web server": web}, timeout=30
    )
    assert problem and "web server exited (code 3)" in problem


def test_a_server_that_never_answers_times_out_with_a_clear_message(started):
    port = _free_port()
    web = started("import time; time.sleep(60)")
    begun = time.monotonic()
    problem = cli.server_wait(host="127.0.0.1", port=port, procs={"web server": web}, timeout=1)
    assert time.monotonic() - begun < 10
    assert problem and f"did not answer at http://127.0.0.1:{port}/account/login/" in problem
    assert "within 1 s" in problem


@pytest.mark.django_db
def test_crm_run_prints_the_banner_after_the_wait(monkeypatch, capsys):
    """cmd_run asks server_wait before printing; when the wait fails there is no banner."""
    calls: list[str] = []

    class Proc:
        returncode = 0

        def poll(self):
            return None

        def terminate(self):
            calls.append("terminate")

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(cli, "_manage", lambda *a: None)
    monkeypatch.setattr(cli.subprocess, "Popen", lambda *a, **k: Proc())
    monkeypatch.setattr(cli, "_scheduler_loop", lambda stop: None)
    monkeypatch.setattr(cli, "server_wait", lambda **k: "the web server did not answer")
    assert cli.cmd_run(["--no-demo"]) == 1
    captured = capsys.readouterr()
    assert "CRM is running" not in captured.out
    assert "the web server did not answer" in captured.err
    assert calls == ["terminate", "terminate"]


@pytest.mark.django_db
def test_crm_run_prints_the_banner_once_the_server_answers(monkeypatch, capsys):
    order: list[str] = []

    class Proc:
        def poll(self):
            return None

    def answered(**kwargs):
        order.append("answered")

    monkeypatch.setattr(cli, "_manage", lambda *a: None)
    monkeypatch.setattr(cli.subprocess, "Popen", lambda *a, **k: Proc())
    monkeypatch.setattr(cli, "_scheduler_loop", lambda stop: None)
    monkeypatch.setattr(cli, "server_wait", answered)
    monkeypatch.setattr(cli, "_print_banner", lambda *a: order.append("banner"))
    monkeypatch.setattr(cli, "_wait", lambda procs, stop: 0)
    assert cli.cmd_run(["--no-demo"]) == 0
    assert order == ["answered", "banner"]
