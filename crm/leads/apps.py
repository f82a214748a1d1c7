from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "crm.leads"
    label = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from crm.core.customfields import custom_fields_register
        from crm.leads.models import Lead as _Lead

        # Custom fields (SYS-1, issue 8 §1): Settings, forms, lists, API and exports.
        custom_fields_register("leads", _Lead)
        # Imports and exports (issue 8 §2 §3): the module's columns and list rows.
        from crm.leads.dataio import register as dataio_register

        dataio_register()

        from crm.activities.signals import followup_logged
        from crm.core.sweeps import sweep_register
        from crm.core.timeline import timeline_kind_register
        from crm.leads import conversion, receivers_assign
        from crm.leads.receivers import on_followup_logged
        from crm.leads.search import lead_search_provider_register
        from crm.leads.services import leads_purge_expired

        # The first follow-up on a lead marks it contacted (LEAD-3).
        followup_logged.connect(on_followup_logged, dispatch_uid="leads.first_contact")
        receivers_assign.connect()
        # The customer's timeline says which lead it came from (read with the customer).
        timeline_kind_register(
            "lead_converted",
            module="customers",
            label=_("Converted from a lead"),
            render=conversion.lead_converted_timeline_text,
            icon="target",
        )
        from crm.leads.sweeps import lead_sla_sweep

        # LEAD-3: SLA states as of the run, due-soon and breach notices once each.
        sweep_register("lead_sla", lead_sla_sweep)
        lead_search_provider_register()
        sweep_register("lead_recycle_bin_purge", leads_purge_expired)
