import datetime as dt
from typing import Any

from django.apps import AppConfig
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


def _stage_name(value: Any) -> str:
    """A stage named in a timeline line, in the reader's language: the stage's current name
    when it still exists, else the name it had when the line was written."""
    from crm.sales.stages import stage_info

    if not isinstance(value, dict):
        return str(value or "")
    info = stage_info(value.get("id"))
    if info is not None:
        return info.display_name
    from django.utils.translation import get_language

    english = (get_language() or "").lower().startswith("en")
    return str((value.get("name_en") if english else "") or value.get("name") or "")


def _subject(data: dict[str, Any]) -> str:
    return _("opportunity %(number)s “%(name)s”") % {
        "number": data.get("number", ""),
        "name": data.get("opportunity", ""),
    }


def _render_created(data: dict[str, Any]) -> str:
    return _("Created %(subject)s at stage %(to)s, amount ¥%(amount)s.") % {
        "subject": _subject(data),
        "to": _stage_name(data.get("to")),
        "amount": data.get("amount", "0.00"),
    }


def _render_stage_change(data: dict[str, Any]) -> str:
    return _("Moved %(subject)s from %(from)s to %(to)s.") % {
        "subject": _subject(data),
        "from": _stage_name(data.get("from")),
        "to": _stage_name(data.get("to")),
    }


def _render_won(data: dict[str, Any]) -> str:
    return _("Won %(subject)s: contract %(contract)s, ¥%(amount)s.") % {
        "subject": _subject(data),
        "contract": data.get("contract_no", ""),
        "amount": data.get("amount", ""),
    }


def _render_lost(data: dict[str, Any]) -> str:
    from crm.core.dictionaries import dictionary_label

    return _("Lost %(subject)s: %(reason)s.") % {
        "subject": _subject(data),
        "reason": dictionary_label("opportunity_lost_reason", data.get("reason", "")),
    }


def _render_reopened(data: dict[str, Any]) -> str:
    return _("Reopened %(subject)s at stage %(to)s.") % {
        "subject": _subject(data),
        "to": _stage_name(data.get("to")),
    }


def _render_milestone(data: dict[str, Any]) -> str:
    from crm.core.dictionaries import dictionary_label

    text = _("Milestone of %(subject)s: %(milestone)s on %(day)s.") % {
        "subject": _subject(data),
        "milestone": dictionary_label("milestone", data.get("milestone", "")),
        "day": data.get("occurred_on", ""),
    }
    note = data.get("note")
    return f"{text} {note}" if note else text


class SalesConfig(AppConfig):
    name = "crm.sales"
    label = "sales"
    verbose_name = gettext_lazy("Opportunities")

    def ready(self) -> None:
        from crm.core.customfields import custom_fields_register
        from crm.sales.models import Opportunity as _Opportunity

        # Custom fields (SYS-1, issue 8 §1): Settings, forms, lists, API and exports.
        custom_fields_register("opportunities", _Opportunity)
        # Imports and exports (issue 8 §2 §3): the module's columns and list rows.
        from crm.sales.dataio import register as dataio_register

        dataio_register()

        from crm.accounts.transfer import transfer_handler_register
        from crm.core.attachments import attachment_target_register
        from crm.core.configstate import config_models_register
        from crm.core.scope import user_can
        from crm.core.sweeps import sweep_register
        from crm.core.timeline import timeline_kind_register
        from crm.sales import stages  # noqa: F401  (registers the "stages" config section)
        from crm.sales.models import Opportunity, Stage
        from crm.sales.services import (
            opportunities_purge_expired,
            opportunities_transfer_all,
            pipeline_totals_rebuild,
        )

        # Stage writes outside the services (admin, shell, factories) bump the stamp too.
        config_models_register(Stage)
        transfer_handler_register("opportunities", opportunities_transfer_all)
        sweep_register("opportunities_recycle_bin_purge", opportunities_purge_expired)
        # Corrects the totals for what no service saw (opportunities purged with their
        # customer); cheap (one grouped query over the open opportunities).
        sweep_register(
            "pipeline_totals_rebuild", pipeline_totals_rebuild, every=dt.timedelta(hours=1)
        )

        for code, label, render in (
            ("opportunity_created", gettext_lazy("Opportunity created"), _render_created),
            ("stage_change", gettext_lazy("Stage change"), _render_stage_change),
            ("won", gettext_lazy("Won"), _render_won),
            ("lost", gettext_lazy("Lost"), _render_lost),
            ("reopened", gettext_lazy("Reopened"), _render_reopened),
            ("milestone", gettext_lazy("Milestone"), _render_milestone),
        ):
            timeline_kind_register(code, module="opportunities", label=label, render=render)

        def _get(*, user: Any, object_id: Any) -> Any:
            from crm.sales.selectors import opportunity_get

            return opportunity_get(user=user, opportunity_id=object_id)

        def _visible(user: Any) -> Any:
            from crm.sales.selectors import opportunities_visible_to

            return opportunities_visible_to(user)

        attachment_target_register(
            "opportunity",
            model=Opportunity,
            get=_get,
            # `get` already proved the opportunity is visible to the user.
            can_attach=lambda *, user, instance: user_can(user, "opportunities", "edit"),
            customer_id=lambda instance: instance.customer_id,
            owner_id=lambda instance: instance.owner_id,
            module="opportunities",
            visible=_visible,
            label=gettext_lazy("Opportunity"),
            url=lambda instance: reverse("sales:detail", args=[instance.pk]) + "?tab=files",
        )

        from crm.web.search import search_provider_register
        from crm.web.tabs import record_tab_register

        def _customer_tab(request: Any, customer: Any) -> str:
            from crm.sales.views import customer_opportunities_tab

            return customer_opportunities_tab(request, customer)

        def _search(*, user: Any, q: str, limit: int) -> list[Any]:
            from crm.sales.views import opportunities_search

            return opportunities_search(user=user, q=q, limit=limit)

        def _more(q: str) -> str:
            from crm.sales.views import opportunities_search_more

            return opportunities_search_more(q)

        def _can_view(user: Any) -> bool:
            return user_can(user, "opportunities", "view")

        record_tab_register(
            host="customer",
            code="opportunities",
            label=gettext_lazy("Opportunities"),
            position=20,
            render=_customer_tab,
            visible=_can_view,
        )
        search_provider_register(
            code="opportunities",
            label=gettext_lazy("Opportunities"),
            position=20,
            search=_search,
            more_url=_more,
            visible=_can_view,
        )
