"""A kill -9 in the middle of an import (issue 8 §2, §8): `crm import` runs in a subprocess on
a file-based SQLite database, is killed after its first committed batches, and leaves whole
batches only; resuming the job, or running the file again, ends with every row exactly once."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROWS = 12000
BATCH = 250


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CRM_") and k != "PYTEST_ADDOPTS"
    }
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'crm.sqlite3'}",
            "CRM_DATA_DIR": str(tmp_path / "data"),
            "DJANGO_SETTINGS_MODULE": "crm.settings",
        }
    )
    return env


def _manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        **kwargs,
    )


def _counts(db: Path) -> tuple[int, int, int, int, int]:
    with sqlite3.connect(db) as conn:
        customers = conn.execute("SELECT count(*), count(DISTINCT name) FROM customers_customer")
        total, distinct = customers.fetchone()
        contacts = conn.execute("SELECT count(*) FROM customers_contact").fetchone()[0]
        job = conn.execute(
            "SELECT id, created, progress FROM dataio_importjob ORDER BY id LIMIT 1"
        ).fetchone()
    assert total == distinct
    return total, contacts, job[0], job[1], job[2]


def test_killed_import_leaves_whole_batches_and_resumes_without_duplicates(tmp_path):
    env = _env(tmp_path)
    done = _manage(env, "migrate", "-v0")
    assert done.returncode == 0, done.stderr[-2000:]
    done = _manage(
        env,
        "shell",
        "-c",
        "from crm.accounts.models import User; "
        "User.objects.create_superuser(username='admin', password='x-Passw0rd!', "
        "full_name='管理员')",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    path = tmp_path / "customers.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["名称", "行业", "电话", "联系人姓名", "联系人电话"])
        for n in range(ROWS):
            writer.writerow(
                [f"断点{n:06d}科技有限公司", "IT", f"138{n:08d}", "张三", f"139{n:08d}"]
            )
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "import",
            "customers",
            str(path),
            "--batch",
            str(BATCH),
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = 0
        # "1000/12000 行，…" (in the CLI's language) after committed batches
        for line in proc.stdout:
            if f"/{ROWS}" in line:
                seen += 1
                if seen >= 2:
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    db = tmp_path / "crm.sqlite3"
    customers, contacts, job_id, created, progress = _counts(db)
    assert 0 < customers < ROWS, "killed too late to interrupt anything"
    # Only whole batches, each with its contacts, and the job's counts committed with them.
    assert customers % BATCH == 0 and contacts == customers == created
    assert progress == customers + 1  # the last committed spreadsheet row (header = 1)
    resumed = _manage(env, "import", "customers", "--resume", str(job_id))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    customers, contacts, _job, created, progress = _counts(db)
    assert customers == contacts == created == ROWS and progress == ROWS + 1
    # Running the whole file again matches every row: nothing is created twice.
    again = _manage(env, "import", "customers", str(path))
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"0 created, 0 updated, {ROWS} skipped, 0 rejected" in again.stdout
    assert _counts(db)[0] == ROWS
