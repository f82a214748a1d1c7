"""`crm restore ARCHIVE [--force]`: restore a backup into an empty database, then verify."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crm.dataio.backups import BackupError, archive_restore


class Command(BaseCommand):
    help = (
        "Restore a backup archive (database and attachment files) into an empty database, "
        "then check the row counts and checksums against its manifest."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("archive", help="the .tar.gz made by `crm backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore even when the database holds data (it is replaced)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            result = archive_restore(Path(options["archive"]), force=options["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = result.manifest
        self.stdout.write(
            f"restored the backup of {manifest['created_at']} "
            f"({manifest['database']['vendor']}, version {manifest['app_version']}): "
            f"{len(manifest['tables'])} tables, {result.rows} rows, {result.files} files; "
            f"verified against the manifest in {time.monotonic() - started:.1f} s"
        )
