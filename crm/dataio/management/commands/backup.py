"""`crm backup [--to DIR]`: take an archive of the database and the attachments now."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crm.dataio.backup_services import backup_execute, backup_start
from crm.dataio.backups import backup_dir
from crm.dataio.models import BackupStatus, BackupTrigger


class Command(BaseCommand):
    help = "Back up the database and the attachment files into one archive (tar.gz)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--to",
            metavar="DIR",
            default=None,
            help=f"folder to write the archive to (default: CRM_BACKUP_DIR, {backup_dir()})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        backup = backup_start(trigger=BackupTrigger.MANUAL)
        assert backup is not None
        directory = Path(options["to"]) if options["to"] else None
        backup = backup_execute(backup, directory=directory)
        if backup.status != BackupStatus.OK:
            raise CommandError(f"backup failed: {backup.message}")
        path = Path(backup.file_name)
        if not path.is_absolute():
            path = backup_dir() / path
        self.stdout.write(
            f"{path}\n{backup.size} bytes, sha256 {backup.sha256}, "
            f"{time.monotonic() - started:.1f} s; {backup.message}"
        )
