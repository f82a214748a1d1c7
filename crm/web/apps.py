from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "crm.web"
    label = "web"
    verbose_name = _("Web")

    def ready(self) -> None:
        from crm.core.scope import user_can
        from crm.web.attachments import files_customer_tab, files_opportunity_tab
        from crm.web.tabs import record_tab_register

        # The files tab of the customer page (its own files and its records') and of the
        # opportunity page (issue 6 §3, §4); crm/web/attachments.py renders both.
        record_tab_register(
            host="customer",
            code="files",
            label=_("Files"),
            position=60,
            render=files_customer_tab,
            visible=lambda user: user_can(user, "customers", "view"),
        )
        record_tab_register(
            host="opportunity",
            code="files",
            label=_("Files"),
            position=60,
            render=files_opportunity_tab,
            visible=lambda user: user_can(user, "opportunities", "view"),
        )
