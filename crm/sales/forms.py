"""Forms of the opportunities UI. They collect and re-display what the user typed; every rule
lives in services.py, whose field errors are attached back to these forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.customfields_forms import (
    custom_data_fold,
    custom_form_fields_add,
    custom_form_initial,
)
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.files import (
    attachment_allowed_extensions,
    attachment_allowed_text,
    attachment_max_text,
)
from crm.core.scope import users_who_can_own
from crm.customers.forms import date_input_lang
from crm.sales.models import Opportunity, Stage, StageKind

MODULE = "opportunities"


def _label(name: str) -> Any:
    return Opportunity._meta.get_field(name).verbose_name


def _text(label: Any, widget: forms.Widget | None = None) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=widget)


def _date_widget() -> forms.DateInput:
    return forms.DateInput(
        attrs={"type": "date", "lang": date_input_lang(), "placeholder": "YYYY-MM-DD"}
    )


class ServiceErrorsMixin:
    """Put the service's field errors on the form; return those that belong to no field."""

    aliases: dict[str, str] = {}

    def attach_errors(self, fields: dict[str, list[Any]]) -> list[str]:
        other: list[str] = []
        for name, messages in fields.items():
            key = self.aliases.get(name, name)
            if key in self.fields:  # type: ignore[attr-defined]
                for message in messages:
                    self.add_error(key, str(message))  # type: ignore[attr-defined]
            else:
                other.extend(str(m) for m in messages)
        return other


def _mark_required(form: forms.Form, names: tuple[str, ...]) -> None:
    for name in form.fields:
        form.fields[name].required_mark = name in names
        if name in names:
            form.fields[name].widget.attrs.setdefault("aria-required", "true")
            form.fields[name].widget.attrs.setdefault("required", True)


class OpportunityForm(ServiceErrorsMixin, forms.Form):
    """OPP-1: the fields of an opportunity (the customer is chosen before the form)."""

    aliases = {"owner_id": "owner", "contact_id": "contact", "customer_id": "name"}

    name = _text(_label("name"), forms.TextInput(attrs={"maxlength": 120}))
    amount = _text(_label("amount"), forms.TextInput(attrs={"inputmode": "decimal"}))
    expected_close_date = _text(_label("expected_close_date"))
    probability = _text(
        _label("probability"),
        forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1, "inputmode": "numeric"}),
    )
    contact = _text(_label("contact"), forms.Select())
    owner = _text(_label("owner"), forms.Select())
    source = _text(_label("source"), forms.Select())
    competitors = _text(_label("competitors"), forms.Textarea(attrs={"rows": 3}))
    description = _text(_label("description"), forms.Textarea(attrs={"rows": 4}))

    def __init__(
        self,
        *args: Any,
        actor: Any,
        customer: Any,
        opportunity: Opportunity | None = None,
        can_transfer: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        f = self.fields
        f["expected_close_date"].widget = _date_widget()
        f["contact"].widget.choices = [("", _("— none —"))] + [
            (c.pk, f"{c.name}{' · ' + c.title if c.title else ''}") for c in customer.contacts.all()
        ]
        owners = [
            (u.pk, u.display_name)
            for u in users_who_can_own(actor=actor, module=MODULE).only(
                "id", "full_name", "username", "first_name", "last_name"
            )
        ]
        if opportunity is not None and opportunity.owner_id not in {pk for pk, _n in owners}:
            owners.insert(0, (opportunity.owner_id, opportunity.owner.display_name))
        f["owner"].widget.choices = owners
        sources = [("", _("— not known —")), *dictionary_choices("source")]
        current = opportunity.source if opportunity is not None else ""
        if current and current not in {c for c, _l in sources}:
            sources.append((current, dictionary_label("source", current)))
        f["source"].widget.choices = sources
        f["name"].help_text = _("e.g. A公司2024年Q1办公设备采购")
        f["amount"].widget.attrs["placeholder"] = _("e.g. 120000")
        f["probability"].help_text = _("Leave empty to follow the stage's win probability.")
        if opportunity is not None and not can_transfer:
            f["owner"].disabled = True
            f["owner"].help_text = _("Only users with the transfer permission change the owner.")
        _mark_required(self, ("name",))
        custom_form_fields_add(
            self, module=MODULE, current=opportunity.custom if opportunity else None
        )

    @classmethod
    def initial_from(cls, opportunity: Opportunity) -> dict[str, Any]:
        return {
            **custom_form_initial(MODULE, opportunity.custom),
            "name": opportunity.name,
            "amount": f"{opportunity.amount:.2f}",
            "expected_close_date": (
                opportunity.expected_close_date.isoformat()
                if opportunity.expected_close_date
                else ""
            ),
            "probability": opportunity.probability if opportunity.probability_manual else "",
            "contact": opportunity.contact_id or "",
            "owner": opportunity.owner_id,
            "source": opportunity.source,
            "competitors": opportunity.competitors,
            "description": opportunity.description,
        }

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["contact_id"] = data.pop("contact", "")
        owner = data.pop("owner", "")
        if not self.fields["owner"].disabled:
            data["owner_id"] = owner
        return custom_data_fold(data)


class WinForm(ServiceErrorsMixin, forms.Form):
    contract_no = _text(_label("contract_no"), forms.TextInput(attrs={"maxlength": 60}))
    actual_amount = _text(_label("actual_amount"), forms.TextInput(attrs={"inputmode": "decimal"}))
    closed_on = _text(_label("closed_on"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["closed_on"].widget = _date_widget()
        self.fields["closed_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        # The signed contract (OPP-3), stored on the opportunity with its other files.
        self.fields["file"] = forms.FileField(
            label=_("Contract file"),
            required=False,
            widget=forms.ClearableFileInput(
                attrs={"accept": ",".join(f".{e}" for e in attachment_allowed_extensions())}
            ),
            help_text=_("Optional, up to %(limit)s: %(kinds)s.")
            % {"limit": attachment_max_text(), "kinds": attachment_allowed_text()},
        )
        _mark_required(self, ("contract_no", "actual_amount"))


class LoseForm(ServiceErrorsMixin, forms.Form):
    lost_reason = _text(_label("lost_reason"), forms.Select())
    lost_note = _text(_label("lost_note"), forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lost_reason"].widget.choices = [
            ("", _("— choose the reason —")),
            *dictionary_choices("opportunity_lost_reason"),
        ]
        _mark_required(self, ("lost_reason",))


class MilestoneForm(ServiceErrorsMixin, forms.Form):
    kind = _text(_("Milestone"), forms.Select())
    occurred_on = _text(_("Date"))
    note = _text(_("Note"), forms.TextInput(attrs={"maxlength": 2000}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.choices = [
            ("", _("— choose —")),
            *dictionary_choices("milestone"),
        ]
        self.fields["occurred_on"].widget = _date_widget()
        self.fields["occurred_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.fields["occurred_on"].initial = timezone.localdate().isoformat()
        _mark_required(self, ("kind", "occurred_on"))


class StageForm(ServiceErrorsMixin, forms.Form):
    """Settings → Stages: one stage."""

    name = _text(
        Stage._meta.get_field("name").verbose_name, forms.TextInput(attrs={"maxlength": 40})
    )
    name_en = _text(
        Stage._meta.get_field("name_en").verbose_name, forms.TextInput(attrs={"maxlength": 40})
    )
    probability = _text(
        Stage._meta.get_field("probability").verbose_name,
        forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}),
    )
    kind = _text(
        Stage._meta.get_field("kind").verbose_name, forms.Select(choices=StageKind.choices)
    )
    entry_criteria = _text(
        Stage._meta.get_field("entry_criteria").verbose_name, forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, stage: Stage | None = None, **kwargs: Any) -> None:
        if stage is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": stage.name,
                    "name_en": stage.name_en,
                    "probability": stage.probability,
                    "kind": stage.kind,
                    "entry_criteria": stage.entry_criteria,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["kind"].help_text = _(
            "Open stages make the pipeline; closing as won lands on the first won stage, "
            "closing as lost on the lost stage."
        )
        self.fields["entry_criteria"].help_text = _(
            "What must be true before an opportunity enters this stage."
        )
        _mark_required(self, ("name", "probability", "kind"))
