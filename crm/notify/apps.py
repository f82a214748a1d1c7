from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "crm.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from crm.core.approvals import approval_notifier_register
        from crm.notify.services import notification_send

        # Approvers are told of a request, requesters of the decision (issue 7 §5).
        approval_notifier_register(notification_send)
