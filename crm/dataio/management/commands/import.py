"""`crm import MODULE FILE [--dry-run] [--match name,phone] [--on-match update] [--user NAME]`.

Runs the import in this process (not the worker), printing progress: rows done / total, the
rate and the time left, then the result. The job is kept like one from the UI (history,
audit, error file). `--resume ID` continues an import that was interrupted (killed) after its
last committed batch; running the same file again instead matches the rows already imported
(by the match keys), so nothing is created twice either way.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crm.core.errors import AppError


class Command(BaseCommand):
    help = "Import an xlsx or csv file into a module (customers, ...)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("module", help="customers (the modules that declare an importer)")
        parser.add_argument("file", nargs="?", help="the xlsx or csv file")
        parser.add_argument("--dry-run", action="store_true", help="validate and count only")
        parser.add_argument("--match", default="", help="match keys in order, e.g. name,phone")
        parser.add_argument(
            "--on-match",
            default="skip",
            help="skip | update (= update_empty) | update_empty | overwrite",
        )
        parser.add_argument("--user", default="", help="import as this user (default: admin)")
        parser.add_argument("--resume", type=int, default=None, help="continue import job ID")
        parser.add_argument("--batch", type=int, default=None, help="rows per batch (500)")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.files import File

        from crm.dataio import imports
        from crm.dataio.models import ImportJob

        if options["batch"]:
            imports.BATCH = options["batch"]
        started = time.monotonic()
        last = [0.0]

        def progress(job: ImportJob) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.5 or job.done >= job.total:
                last[0] = now
                self.stdout.write(imports.rate_text(job, started))
                self.stdout.flush()

        if options["resume"]:
            job = ImportJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"no import job {options['resume']}")
            if job.state in (ImportJob.State.DONE, ImportJob.State.FAILED):
                raise CommandError(f"import job {job.pk} is already {job.state}")
        else:
            if not options["file"]:
                raise CommandError("give the file to import")
            path = Path(options["file"])
            if not path.is_file():
                raise CommandError(f"no such file: {path}")
            user = self._user(options["user"])
            try:
                with path.open("rb") as handle:
                    upload = File(handle, name=path.name)
                    job = imports.import_job_start(
                        actor=user,
                        module_key=options["module"],
                        upload=upload,
                        dry_run=options["dry_run"],
                        match=options["match"] or None,
                        on_match=options["on_match"],
                        run=False,
                    )
            except KeyError:
                raise CommandError(f"no importer for module {options['module']!r}") from None
            except AppError as exc:
                raise CommandError(_describe(exc)) from None
            self.stdout.write(f"import job {job.pk}: {path.name}")
        job = imports.import_job_run_now(job.pk, progress=progress)
        elapsed = time.monotonic() - started
        if job.state != ImportJob.State.DONE:
            raise CommandError(f"import {job.pk} failed: {job.message}")
        rate = job.done / elapsed if elapsed else 0
        self.stdout.write(
            f"{'dry run' if job.dry_run else 'done'}: {job.done} rows in {elapsed:.1f} s "
            f"({rate:.0f} rows/s): {job.created} created, {job.updated} updated, "
            f"{job.skipped} skipped, {job.rejected} rejected"
        )
        for error in job.errors[:20]:
            self.stdout.write(f"  row {error['row']} {error['column']}: {error['message']}")
        if job.error_file:
            self.stdout.write(f"error file: {job.error_file.path}")

    @staticmethod
    def _user(username: str) -> Any:
        from crm.accounts.models import User

        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {username!r}")
            return user
        user = (
            User.objects.filter(username="admin", is_active=True).first()
            or User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError("give --user USERNAME")
        return user


def _describe(exc: AppError) -> str:
    if exc.fields:
        return "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in exc.fields.items())
    return str(exc.message)
