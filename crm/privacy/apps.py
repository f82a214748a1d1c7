from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Personal data (PIPL, issue 8 §6): revealing masked contact details one at a time, and
    data-subject requests (export everything held about a person, or anonymise them).

    An app above customers and leads (it reads and rewrites their records), with no tables of
    its own: reveals and requests are audit entries (crm.core.models.AuditEntry), so they are
    queried per record and per user like every other audited act and show in the audit log.
    """

    name = "crm.privacy"
    label = "privacy"
    verbose_name = _("Personal data")
