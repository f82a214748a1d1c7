from django.apps import AppConfig
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class ActivitiesConfig(AppConfig):
    name = "crm.activities"
    label = "activities"
    verbose_name = _("Follow-ups")

    def ready(self) -> None:
        from crm.activities.models import FollowUp as _FollowUp
        from crm.core.customfields import custom_fields_register

        # Custom fields (SYS-1, issue 8 §1): Settings, forms, lists, API and exports.
        custom_fields_register("followups", _FollowUp)
        # Imports and exports (issue 8 §2 §3): the module's columns and list rows.
        from crm.activities.dataio import register as dataio_register

        dataio_register()

        from crm.accounts.transfer import transfer_handler_register
        from crm.activities import services, views
        from crm.activities.models import FollowUp
        from crm.activities.selectors import followup_get, followups_visible_to
        from crm.core.attachments import attachment_target_register
        from crm.core.scope import user_can
        from crm.core.sweeps import sweep_register
        from crm.core.timeline import timeline_kind_register
        from crm.web.tabs import record_tab_register

        timeline_kind_register(
            "followup",
            module="followups",
            label=_("Follow-ups"),
            render=services.followup_timeline_text,
        )
        attachment_target_register(
            "followup",
            model=FollowUp,
            get=lambda *, user, object_id: followup_get(user=user, followup_id=object_id),
            can_attach=lambda *, user, instance: (
                user.pk == instance.author_id or user_can(user, "followups", "edit")
            ),
            customer_id=lambda instance: instance.customer_id,
            owner_id=lambda instance: instance.author_id,
            module="followups",
            visible=followups_visible_to,
            label=_("Follow-up"),
            url=lambda instance: reverse("activities:detail", args=[instance.pk]),
        )
        sweep_register("followup_reminders", services.followup_reminders_send)
        sweep_register("followup_recycle_bin_purge", services.followups_purge_expired)
        # FUP-3 / LEAD-3: customers' and leads' cadence, owners told once a day.
        from crm.activities.clocks import followup_cadence_sweep

        sweep_register("followup_cadence", followup_cadence_sweep)
        # ORG-3: a leaving user's follow-ups keep their author (history); their open plans
        # move to the new owner.
        transfer_handler_register("followups", services.followups_plans_transfer_all)
        record_tab_register(
            host="customer",
            code="followups",
            label=_("Follow-ups"),
            position=30,
            render=views.followups_customer_tab,
            visible=lambda user: user_can(user, "followups", "view"),
        )
        record_tab_register(
            host="opportunity",
            code="followups",
            label=_("Follow-ups"),
            position=30,
            render=views.followups_opportunity_tab,
            visible=lambda user: user_can(user, "followups", "view"),
        )
