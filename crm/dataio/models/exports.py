"""Background exports (issue 8 §3): one row per export too large to answer at once."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ExportJob(models.Model):
    """Who exported what (module, format, the list's query string), how far it got, and the
    file it left in storage (private: downloaded through a view that checks the owner)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    class Format(models.TextChoices):
        XLSX = "xlsx", "xlsx"
        CSV = "csv", "csv"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("exported by"),
    )
    module = models.CharField(_("module"), max_length=40)
    recycle_bin = models.BooleanField(_("recycle bin"), default=False)
    format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    # The list's query string as {name: [values]} (a QueryDict's lists), re-read by the task.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default="queued")
    rows = models.PositiveIntegerField(_("rows"), default=0)
    file = models.FileField(_("file"), upload_to="exports/", max_length=200, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        indexes = [models.Index(fields=["created_at"], name="dataio_export_created_idx")]

    def __str__(self) -> str:
        return f"{self.module}.{self.format} #{self.pk}"
