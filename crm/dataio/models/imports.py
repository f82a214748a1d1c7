"""Imports (SYS-4, issue 8 §2): one row per uploaded file, and the saved column mappings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    """One import of one file: its options, its progress and its result (kept as history).

    `progress` is the last spreadsheet row whose batch committed, written in the same
    transaction as the batch's records: a killed run leaves no half batch, and a resume
    continues after it. `errors` keeps the first 100 rejections {row, column, message}; all
    of them are in the error file (the rejected rows with an error column)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class OnMatch(models.TextChoices):
        SKIP = "skip", _("Skip")
        UPDATE_EMPTY = "update_empty", _("Update empty fields only")
        OVERWRITE = "overwrite", _("Overwrite")

    module = models.CharField(_("module"), max_length=40)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default="queued")
    dry_run = models.BooleanField(_("dry run"), default=False)
    match = models.JSONField(_("match by"), default=list, blank=True)
    on_match = models.CharField(
        _("on match"), max_length=12, choices=OnMatch.choices, default=OnMatch.SKIP
    )
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    file = models.FileField(_("file"), upload_to="imports/", max_length=200, blank=True)
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    total = models.PositiveIntegerField(_("rows"), default=0)
    done = models.PositiveIntegerField(_("rows done"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_file = models.FileField(_("error file"), upload_to="imports/", max_length=200, blank=True)
    message = models.TextField(_("message"), blank=True)
    progress = models.PositiveIntegerField(_("last committed row"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("imported by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="dataio_import_by_idx"),
            models.Index(fields=["module", "-created_at"], name="dataio_import_module_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.file_name} #{self.pk}"


class ImportMapping(models.Model):
    """A saved column mapping {header: column key or ""} for a module, named by its user."""

    module = models.CharField(_("module"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    mapping = models.JSONField(_("column mapping"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("saved by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("import mapping")
        verbose_name_plural = _("import mappings")
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "module", "name"], name="dataio_import_mapping_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImportRejection(models.Model):
    """A rejected row of an import: its cells as read and every reason, written with its
    batch (so a resumed import still has the rejections of the batches before the kill);
    the error file is made from these rows."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    row = models.PositiveIntegerField(_("row"))
    cells = models.JSONField(_("cells"), default=list)
    messages = models.JSONField(_("reasons"), default=list)  # [{column, message}]

    class Meta:
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        indexes = [models.Index(fields=["job", "row"], name="dataio_import_reject_idx")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row}"
