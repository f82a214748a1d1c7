from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "crm.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from crm.accounts.models import Department, Role, RolePermission, User
        from crm.core.configstate import config_models_register

        # Roles, departments and the user fields that grants and data scopes depend on are
        # configuration (crm.core.configstate): writing them bumps the stamp, so every
        # process re-reads them at its next request. A login's last_login save does not.
        config_models_register(Role, RolePermission, Department)
        config_models_register(
            User, fields={"is_active", "is_superuser", "supervisor", "department", "roles"}
        )
