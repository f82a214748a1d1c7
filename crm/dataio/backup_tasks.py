"""Background work of backups (run by `crm worker`)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.utils import translation
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


@task()
def backup_take(*, backup_id: int) -> str:
    """ "Back up now": take the archive of a run recorded by the request."""
    from crm.dataio.backup_services import backup_execute
    from crm.dataio.models import Backup, BackupStatus

    backup = Backup.objects.filter(pk=backup_id, status=BackupStatus.RUNNING).first()
    if backup is None:
        return ""
    return backup_execute(backup).status


@task()
def backup_failure_email(*, backup_id: int) -> int:
    """Email the administrators that a backup failed; in the worker, so a slow mail server
    never holds up the sweep. Returns how many were written to."""
    from crm.accounts.services import configurers
    from crm.dataio.models import Backup

    backup = Backup.objects.filter(pk=backup_id).first()
    if backup is None:
        return 0
    recipients = sorted(set(configurers().exclude(email="").values_list("email", flat=True)))
    if not recipients:
        log.warning("Backup %s failed, but no administrator has an email address.", backup_id)
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("CRM backup failed")
        # One msgid a line: translations take no newlines (notes/COMMON.md).
        body = "\n\n".join(
            [
                _("The backup started at %(time)s failed:")
                % {"time": backup.started_at.isoformat(timespec="minutes")},
                backup.message,
                _(
                    "Until a backup succeeds, the newest good archive is older than planned. "
                    "Settings → Backups lists them and can take one now."
                ),
            ]
        )
    send_mail(subject, body, None, recipients)
    return len(recipients)
