"""Background work for accounts: telling the administrators about attacks on logins."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.utils import translation
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


@task()
def login_lockout_alert(*, user_id: int, failures: int, addresses: int, link: str) -> int:
    """Email every administrator that an account was locked for everybody (issue 5 §3).

    Runs in the worker, so that a slow or absent mail server never delays or breaks a login
    request. Returns the number of administrators written to.
    """
    from crm.accounts.models import User
    from crm.accounts.services import configurers

    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    recipients = sorted(
        {email for email in configurers().exclude(email="").values_list("email", flat=True)}
    )
    if not recipients:
        log.warning(
            "Account %s was locked after failed logins, but no administrator has an email "
            "address to be told at.",
            user.username,
        )
        return 0
    minutes = int(settings.CRM_LOGIN_ACCOUNT_WINDOW.total_seconds() // 60)
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Login locked for %(name)s (%(username)s)") % {
            "name": user.display_name,
            "username": user.username,
        }
        body = _(
            "The account %(name)s (%(username)s) has been locked for everybody after "
            "%(failures)d failed logins from %(addresses)d addresses within %(minutes)d "
            "minutes. Someone may be guessing its password.\n\n"
            "The lock lifts by itself at the latest %(minutes)d minutes after the failed logins "
            "stop. If its owner needs the account sooner, unlock it here after checking with "
            "them:\n"
            "%(link)s\n\n"
            "The failed logins, with their addresses, are in the audit log."
        ) % {
            "name": user.display_name,
            "username": user.username,
            "failures": failures,
            "addresses": addresses,
            "minutes": minutes,
            "link": link,
        }
    send_mail(subject, body, None, recipients)
    return len(recipients)
