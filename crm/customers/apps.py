from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "crm.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from crm.accounts.transfer import transfer_handler_register
        from crm.core.sweeps import sweep_register
        from crm.customers.search import customer_search_provider_register
        from crm.customers.services import customers_purge_expired, customers_transfer_all
        from crm.customers.timeline import customer_timeline_kinds_register

        transfer_handler_register("customers", customers_transfer_all)
        sweep_register("recycle_bin_purge", customers_purge_expired)
        customer_timeline_kinds_register()
        customer_search_provider_register()
