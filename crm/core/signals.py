"""Logins, failed logins and logouts go to the audit trail (SYS-2, ORG-4)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from crm.core.audit import audit_record
from crm.core.models import AuditEntry


@receiver(user_logged_in)
def _audit_login(sender, request, user, **kwargs) -> None:
    audit_record(actor=user, action=AuditEntry.Action.LOGIN, instance=user)


@receiver(user_logged_out)
def _audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(actor=user, action=AuditEntry.Action.LOGOUT, instance=user)


@receiver(user_login_failed)
def _audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str(credentials.get("username", ""))[:150]
    audit_record(actor=username, action=AuditEntry.Action.LOGIN_FAILED, object_repr=username)
