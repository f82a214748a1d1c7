import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "crm.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from crm.core.customfields import custom_fields_register
        from crm.customers.models import Contact as _Contact
        from crm.customers.models import Customer as _Customer

        # Custom fields (SYS-1, issue 8 §1): Settings, forms, lists, API and exports.
        custom_fields_register("customers", _Customer)
        custom_fields_register("contacts", _Contact)
        # Imports and exports (issue 8 §2 §3): the module's columns and list rows.
        from crm.customers.dataio import register as dataio_register

        dataio_register()

        from django.urls import reverse

        from crm.accounts.transfer import transfer_handler_register
        from crm.core.attachments import attachment_target_register
        from crm.core.scope import user_can
        from crm.core.sweeps import sweep_register
        from crm.customers.lifecycle import lifecycle_kind_register
        from crm.customers.models import Customer
        from crm.customers.pool import pool_return_sweep, pool_timeline_kinds_register
        from crm.customers.search import customer_search_provider_register
        from crm.customers.selectors import customer_get, customers_visible_to
        from crm.customers.services import customers_purge_expired, customers_transfer_all
        from crm.customers.timeline import customer_timeline_kinds_register

        transfer_handler_register("customers", customers_transfer_all)
        sweep_register("recycle_bin_purge", customers_purge_expired)
        # CUS-10: dormancy moves by days; hourly is often enough (crm sweep runs it anyway).
        from crm.customers.clocks import customers_dormant_sweep
        from crm.customers.receivers_clocks import connect as clocks_receivers_connect

        sweep_register("customers_dormant", customers_dormant_sweep, every=dt.timedelta(hours=1))
        clocks_receivers_connect()
        customer_timeline_kinds_register()
        pool_timeline_kinds_register()
        sweep_register("pool_return", pool_return_sweep)
        from crm.activities.signals import followup_logged
        from crm.customers.pool import pool_followup_logged

        followup_logged.connect(pool_followup_logged, dispatch_uid="customers.pool_followup")
        customer_search_provider_register()
        # Lifecycle changes that wait for approval (CUS-8, issue 7 §5).
        lifecycle_kind_register()
        # Files on customers (issue 6 §3): the customer's own selector decides who sees them.
        attachment_target_register(
            "customer",
            model=Customer,
            get=lambda *, user, object_id: customer_get(user=user, customer_id=object_id),
            can_attach=lambda *, user, instance: user_can(user, "customers", "edit"),
            customer_id=lambda instance: instance.pk,
            owner_id=lambda instance: instance.owner_id,
            module="customers",
            visible=customers_visible_to,
            label=_("Customer"),
            url=lambda instance: reverse("customers:detail", args=[instance.pk]) + "?tab=files",
        )
