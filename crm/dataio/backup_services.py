"""Backup runs (SYS-3): the Backup rows, "back up now", the daily sweep, retention, alerts.

The archive itself is made by crm.dataio.backups.archive_write; this module decides when,
records each run, keeps the newest N archives and tells the administrators when one fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record
from crm.core.config import setting_get
from crm.core.errors import NotFoundError, PermissionDeniedError
from crm.core.models import AuditEntry
from crm.core.scope import user_can
from crm.dataio.backups import archive_write, backup_dir
from crm.dataio.models import Backup, BackupStatus, BackupTrigger

logger = logging.getLogger(__name__)
# How far a sweep's `now` may be from the clock for the daily backup to be taken (a round
# runs every few minutes; a late one is still the present).
SWEEP_TOLERANCE = dt.timedelta(hours=1)


def backups_allowed(user: Any) -> bool:
    """Backups are the administrators' (Settings): an archive holds every record unmasked."""
    return bool(user and user.is_authenticated and user_can(user, "settings", "configure"))


def backup_path(backup: Backup) -> Path | None:
    """The archive of a run, when it is a file inside the backup folder (a `--to` elsewhere
    is recorded by its absolute path and never served)."""
    if not backup.file_name:
        return None
    root = backup_dir().resolve()
    path = (root / backup.file_name).resolve()
    if path.parent != root or not path.is_file():
        return None
    return path


def backup_start(
    *, trigger: str, actor: Any = None, scheduled_for: dt.date | None = None
) -> Backup | None:
    """Record a run about to start; None when the day's scheduled run exists already (the
    unique `scheduled_for` decides, so two workers never take two)."""
    try:
        with transaction.atomic():
            return Backup.objects.create(
                started_at=timezone.now(),
                trigger=trigger,
                scheduled_for=scheduled_for,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        if scheduled_for is not None:
            return None
        raise


def backup_execute(
    backup: Backup, *, directory: Path | None = None, now: dt.datetime | None = None
) -> Backup:
    """Take the archive for a recorded run and store the outcome on its row.

    Never raises on a failed backup: the row says failed with the reason and the
    administrators are told (a worker task that raised would only leave a log line).
    """
    target = Path(directory) if directory else backup_dir()
    try:
        result = archive_write(directory=target, now=now)
    except Exception as exc:
        logger.exception("backup %s failed", backup.pk)
        backup.status = BackupStatus.FAILED
        backup.message = f"{type(exc).__name__}: {exc}"[:2000]
        backup.finished_at = timezone.now()
        backup.save(update_fields=["status", "message", "finished_at"])
        backup_failure_notify(backup)
        return backup
    inside = result.path.resolve().parent == backup_dir().resolve()
    backup.status = BackupStatus.OK
    backup.file_name = result.path.name if inside else str(result.path.resolve())
    backup.size = result.size
    backup.sha256 = result.sha256
    backup.finished_at = timezone.now()
    tables = result.manifest["tables"]
    backup.message = _("%(tables)d tables, %(rows)d rows, %(files)d files") % {
        "tables": len(tables),
        "rows": sum(tables.values()),
        "files": len(result.manifest["files"]["items"]),
    }
    if result.manifest["files"]["skipped"]:
        backup.message += ". " + _("Attachments in S3 storage are not in the archive.")
    backup.save(update_fields=["status", "file_name", "size", "sha256", "finished_at", "message"])
    backups_prune()
    return backup


def backup_failure_notify(backup: Backup) -> int:
    """Tell every administrator, in the CRM and by email (like the login lockout alert)."""
    from crm.accounts.services import configurers
    from crm.dataio.backup_tasks import backup_failure_email
    from crm.notify.services import notification_send

    admins = list(configurers())
    text = _("Backup failed: %(message)s") % {"message": backup.message[:300]}
    for admin in admins:
        notification_send(
            recipient=admin,
            kind="backup_failed",
            text=text,
            link="/settings/backups/",
            dedup_key=f"backup_failed:{backup.pk}",
        )
    transaction.on_commit(lambda: backup_failure_email.enqueue(backup_id=backup.pk))
    return len(admins)


def backups_prune(*, keep: int | None = None) -> int:
    """Keep the newest `keep` successful archives (Settings, default 14); delete the older
    archives and their rows, and the failed rows older than the oldest one kept."""
    keep = keep if keep is not None else int(setting_get("backup_keep"))
    ok = list(Backup.objects.filter(status=BackupStatus.OK).order_by("-started_at", "-id"))
    old = ok[keep:]
    removed = 0
    for backup in old:
        path = backup_path(backup)
        if path is not None:
            path.unlink(missing_ok=True)
        backup.delete()
        removed += 1
    if old and len(ok) >= keep:
        oldest_kept = ok[keep - 1].started_at
        Backup.objects.filter(status=BackupStatus.FAILED, started_at__lt=oldest_kept).delete()
    return removed


def backup_request(*, actor: Any) -> Backup:
    """ "Back up now" (Settings → Backups): record the run, take it in the worker after the
    commit (an archive of a large database takes minutes; no request should wait for it)."""
    from crm.dataio.backup_tasks import backup_take

    if not backups_allowed(actor):
        raise PermissionDeniedError()
    with transaction.atomic():
        backup = backup_start(trigger=BackupTrigger.MANUAL, actor=actor)
        assert backup is not None
        audit_record(actor=actor, action=AuditEntry.Action.CREATE, instance=backup)
        transaction.on_commit(lambda: backup_take.enqueue(backup_id=backup.pk))
    return backup


def backup_for_download(*, actor: Any, pk: int) -> tuple[Backup, Path]:
    """The archive to stream to an administrator, audited (an archive is the whole CRM)."""
    if not backups_allowed(actor):
        raise PermissionDeniedError()
    backup = Backup.objects.filter(pk=pk, status=BackupStatus.OK).first()
    path = backup_path(backup) if backup else None
    if backup is None or path is None:
        raise NotFoundError()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.EXPORT,
        instance=backup,
        changes=[{"field": "download", "before": None, "after": backup.file_name}],
    )
    return backup, path


def backup_sweep(*, now: dt.datetime) -> int:
    """The daily backup (registered with crm.core.sweeps): from the configured local hour
    on, once per local day, as of `now`. Returns 1 when it took one, else 0.

    A round as of another time (`crm sweep --now`, the demo's replay of past weeks) takes
    none: an archive is of the database as it is now, it cannot be that day's backup.
    """
    if not settings.CRM_BACKUP_SWEEP or abs(timezone.now() - now) > SWEEP_TOLERANCE:
        return 0
    local = timezone.localtime(now)
    if local.hour < int(setting_get("backup_hour")):
        return 0
    backup = backup_start(trigger=BackupTrigger.SCHEDULED, scheduled_for=local.date())
    if backup is None:
        return 0
    backup_execute(backup, now=now)
    return 1


def backups_list() -> list[Backup]:
    return list(Backup.objects.select_related("created_by")[:200])
