"""Notifications (issue 6 §5): one row per message to one person, in the app first.

Channels (in-app now; email and team-chat robots later) deliver the same row; `dedup_key`
makes a sweep that runs twice send nothing twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.SlugField(_("kind"), max_length=40)
    text = models.CharField(_("text"), max_length=500)
    link = models.CharField(_("link"), max_length=300, blank=True)
    is_read = models.BooleanField(_("read"), default=False)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Same key, same recipient: the same message (a reminder for one plan at one time).
    dedup_key = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notify_recipient_idx"),
            models.Index(
                fields=["recipient", "-created_at", "-id"],
                condition=models.Q(is_read=False),
                name="notify_unread_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedup_key"],
                condition=~models.Q(dedup_key=""),
                name="notify_dedup_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.text[:40]}"
