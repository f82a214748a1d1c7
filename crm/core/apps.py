from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "crm.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from crm.core import signals  # noqa: F401  (audit of logins hooks into auth signals)
        from crm.core.approvals import APPROVAL_LINE_LABEL, approval_line_render
        from crm.core.configstate import config_models_register
        from crm.core.files import FILE_LINE_LABEL, attachments_purge_expired, file_line_render
        from crm.core.models import CustomField, DictionaryItem, SystemSetting
        from crm.core.sweeps import sweep_register
        from crm.core.timeline import timeline_kind_register

        # Writes through the ORM outside the services (admin, shell, tests) bump the
        # configuration stamp too, so no process keeps serving what they replaced.
        config_models_register(DictionaryItem, SystemSetting, CustomField)

        # Attachments (issue 6 §3). A "file" line is governed by the module of the record the
        # file is on: crm.core.files passes it to timeline_record; "customers" is the default.
        timeline_kind_register(
            "file", module="customers", label=FILE_LINE_LABEL, render=file_line_render
        )
        sweep_register("attachments_purge", attachments_purge_expired)
        # Approval requests and decisions on a customer's timeline (issue 7 §5), governed by
        # the customers scope of the customer's owner.
        timeline_kind_register(
            "approval",
            module="customers",
            label=APPROVAL_LINE_LABEL,
            render=approval_line_render,
            icon="check",
        )
