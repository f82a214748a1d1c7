"""One row per backup run (SYS-3): what Settings → Backups lists and the retention prunes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BackupStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    OK = "ok", _("OK")
    FAILED = "failed", _("Failed")


class BackupTrigger(models.TextChoices):
    MANUAL = "manual", _("Manual")
    SCHEDULED = "scheduled", _("Scheduled")


class Backup(models.Model):
    """A backup run and its archive (a file under CRM_BACKUP_DIR, named by `file_name`).

    `scheduled_for` is the local day a scheduled run is for: unique, so the daily sweep takes
    one per day even when two workers run it at once (a failed one counts too, else a broken
    backup would retry and alert every five minutes; "back up now" is there for a retry).
    """

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=BackupStatus.choices, default=BackupStatus.RUNNING
    )
    trigger = models.CharField(_("trigger"), max_length=10, choices=BackupTrigger.choices)
    scheduled_for = models.DateField(_("scheduled for"), null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    size = models.BigIntegerField(_("size"), null=True, blank=True)
    sha256 = models.CharField(_("sha256"), max_length=64, blank=True)
    message = models.TextField(_("message"), blank=True)
    deleted_at = models.DateTimeField(_("archive removed at"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("backup")
        verbose_name_plural = _("backups")

    def __str__(self) -> str:
        return self.file_name or f"backup {self.pk}"
