"""Backup runs: the daily sweep, retention, failure alerts, Settings → Backups."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.core.config import setting_set
from crm.core.models import AuditEntry
from crm.dataio import backup_services
from crm.dataio.backup_services import backup_sweep, backups_prune
from crm.dataio.backups import backup_dir
from crm.dataio.models import Backup
from crm.notify.models import Notification

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock(monkeypatch, settings):
    """Sweeps as of a chosen local time, the clock agreeing (the sweep takes none as of a
    time far from the present)."""
    settings.CRM_BACKUP_SWEEP = True

    def at(text: str) -> dt.datetime:
        moment = dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return at


def test_the_sweep_takes_one_a_day_from_the_configured_hour(org, clock):
    assert backup_sweep(now=clock("2026-12-04T01:55")) == 0
    assert backup_sweep(now=clock("2026-12-04T02:05")) == 1
    assert backup_sweep(now=clock("2026-12-04T02:10")) == 0
    assert backup_sweep(now=clock("2026-12-04T23:00")) == 0
    setting_set(key="backup_hour", value=4)
    assert backup_sweep(now=clock("2026-12-05T03:00")) == 0
    assert backup_sweep(now=clock("2026-12-05T04:00")) == 1
    runs = list(Backup.objects.order_by("started_at"))
    assert [(b.trigger, b.status, str(b.scheduled_for)) for b in runs] == [
        ("scheduled", "ok", "2026-12-04"),
        ("scheduled", "ok", "2026-12-05"),
    ]
    assert all((backup_dir() / b.file_name).is_file() and b.size and b.sha256 for b in runs)


def test_the_sweep_takes_none_as_of_another_day(org, clock, settings):
    clock("2026-12-04T03:00")
    assert backup_sweep(now=dt.datetime(2026, 11, 1, 3, tzinfo=SHANGHAI)) == 0
    settings.CRM_BACKUP_SWEEP = False
    assert backup_sweep(now=timezone.now()) == 0
    assert not Backup.objects.exists()


def test_retention_keeps_the_newest_n(org, settings, tmp_path):
    settings.CRM_BACKUP_DIR = tmp_path
    start = dt.datetime(2026, 12, 1, 2, tzinfo=SHANGHAI)
    for day in range(5):
        name = f"crm-backup-{day}.tar.gz"
        (tmp_path / name).write_bytes(b"x")
        Backup.objects.create(
            started_at=start + dt.timedelta(days=day),
            trigger="scheduled",
            status="ok",
            file_name=name,
        )
    Backup.objects.create(
        started_at=start - dt.timedelta(days=1), trigger="manual", status="failed"
    )
    assert backups_prune(keep=2) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "crm-backup-3.tar.gz",
        "crm-backup-4.tar.gz",
    ]
    assert list(Backup.objects.values_list("file_name", flat=True)) == [
        "crm-backup-4.tar.gz",
        "crm-backup-3.tar.gz",
    ]


def test_a_failed_backup_notifies_every_administrator(
    org, clock, monkeypatch, django_capture_on_commit_callbacks
):
    org.admin.email = "admin@example.com"
    org.admin.save()

    def broken(**_kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(backup_services, "archive_write", broken)
    with django_capture_on_commit_callbacks(execute=True):
        assert backup_sweep(now=clock("2026-12-04T02:00")) == 1
    backup = Backup.objects.get()
    assert backup.status == "failed" and "No space left" in backup.message
    notes = Notification.objects.filter(kind="backup_failed")
    assert list(notes.values_list("recipient__username", flat=True)) == ["admin"]
    assert [m.to for m in mail.outbox] == [["admin@example.com"]]
    assert "No space left" in mail.outbox[0].body


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_settings_page_backs_up_now_lists_and_downloads_with_audit(
    org, django_capture_on_commit_callbacks
):
    client = _admin_client(org.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("backups:now"))
    assert response.status_code == 302
    backup = Backup.objects.get()
    assert backup.status == "ok" and backup.trigger == "manual" and backup.created_by == org.admin
    page = client.get(reverse("backups:list"))
    assert page.status_code == 200 and backup.file_name in page.content.decode()
    download = client.get(reverse("backups:download", args=[backup.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content)[:2] == b"\x1f\x8b"  # gzip
    entry = AuditEntry.objects.filter(action="export").latest("id")
    assert entry.actor == org.admin and entry.changes[0]["after"] == backup.file_name


def test_settings_page_saves_the_hour_and_the_number_kept(org):
    client = _admin_client(org.admin)
    response = client.post(reverse("backups:list"), {"backup_hour": "3", "backup_keep": "7"})
    assert response.status_code == 302
    from crm.core.config import setting_get

    assert (setting_get("backup_hour"), setting_get("backup_keep")) == (3, 7)
    bad = client.post(reverse("backups:list"), {"backup_hour": "24", "backup_keep": "0"})
    assert bad.status_code == 422
    assert "from 0 to 23" in bad.content.decode()


def test_backups_are_for_administrators_only(org):
    for user in (org.manager, org.rep1, org.exec):
        client = _admin_client(user)
        assert client.get(reverse("backups:list")).status_code == 403
        assert client.post(reverse("backups:now")).status_code == 403
    assert not Backup.objects.exists()
