from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "crm.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from crm.core import signals  # noqa: F401  (audit of logins hooks into auth signals)
        from crm.core.configstate import config_models_register
        from crm.core.models import DictionaryItem, SystemSetting

        # Writes through the ORM outside the services (admin, shell, tests) bump the
        # configuration stamp too, so no process keeps serving what they replaced.
        config_models_register(DictionaryItem, SystemSetting)
