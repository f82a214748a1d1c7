"""Settings → Backups through the browser (SYS-3): an administrator backs up now, sees the
archive listed with its size and status, downloads it and sets the daily hour."""

from __future__ import annotations

import tarfile

import pytest

from crm.core.models import AuditEntry
from crm.dataio.models import Backup
from crm.tests_support.factories import customer_make, org_build
from tests.e2e.conftest import shot
from tests.e2e.test_customer_flow import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_an_administrator_backs_up_now_and_downloads_the_archive(page, live_server, tmp_path):
    org = org_build()
    customer_make(owner=org.rep1)
    base = live_server.url
    login(page, base, "admin", org.password)
    page.goto(f"{base}/settings/backups/")
    page.click("[data-testid=backup-now]")
    page.wait_for_url(f"{base}/settings/backups/")
    row = page.locator("[data-testid=backup-row]").first
    row.wait_for()
    backup = Backup.objects.get()
    assert backup.status == "ok" and backup.trigger == "manual"
    assert backup.file_name in row.inner_text()
    shot(page, "backups-list")
    with page.expect_download() as info:
        row.locator("[data-testid=backup-download]").click()
    saved = tmp_path / "archive.tar.gz"
    info.value.save_as(saved)
    with tarfile.open(saved, "r:gz") as tar:
        assert "manifest.json" in tar.getnames()
    assert AuditEntry.objects.filter(action="export", actor=org.admin).exists()
    page.fill("#backup_hour", "3")
    page.fill("#backup_keep", "10")
    page.click("[data-testid=backup-settings-form] button[type=submit]")
    page.wait_for_url(f"{base}/settings/backups/")
    assert page.input_value("#backup_hour") == "3"
    shot(page, "backups-settings-saved")
