"""The lead form. Like the customer forms it only collects and re-displays what the user
typed; every rule lives in services.lead_clean, so the UI and the API answer alike."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.core.customfields_forms import (
    custom_data_fold,
    custom_form_fields_add,
    custom_form_initial,
)
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.scope import user_can, users_who_can_own
from crm.leads.models import Lead, LeadGrade

MODULE = "leads"
REQUIRED_FIELDS = ("company", "name", "grade")
TEXTAREA_FIELDS = ("requirement", "notes")


def grade_hints() -> list[tuple[str, Any]]:
    """The seed's meaning of each grade (seed 004 §二(一)), shown beside the choice."""
    return [
        ("A", _("A clear need, a budget and the authority to decide.")),
        ("B", _("A potential need.")),
        ("C", _("No clear need yet.")),
    ]


def _label(name: str) -> Any:
    return Lead._meta.get_field(name).verbose_name


def _field(name: str, widget: forms.Widget | None = None) -> forms.CharField:
    # required=False, no max_length: the service judges, with the API's messages.
    return forms.CharField(label=_label(name), required=False, widget=widget)


class LeadForm(forms.Form):
    company = _field(
        "company", forms.TextInput(attrs={"autocomplete": "organization", "maxlength": 100})
    )
    name = _field("name", forms.TextInput(attrs={"autocomplete": "name", "maxlength": 60}))
    title = _field("title", forms.TextInput(attrs={"maxlength": 60}))
    phone = _field(
        "phone", forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"})
    )
    email = _field("email", forms.EmailInput(attrs={"autocomplete": "email"}))
    source = _field("source", forms.Select())
    grade = _field("grade", forms.RadioSelect(choices=LeadGrade.choices))
    owner = _field("owner", forms.Select())
    region = _field("region", forms.Select())
    budget = _field("budget", forms.TextInput(attrs={"inputmode": "decimal"}))
    requirement = _field("requirement", forms.Textarea(attrs={"rows": 3, "maxlength": 5000}))
    notes = _field("notes", forms.Textarea(attrs={"rows": 3, "maxlength": 5000}))

    def __init__(self, *args: Any, actor: Any, lead: Lead | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lead = lead
        f = self.fields
        for name, kind, blank in (
            ("source", "source", _("— not known —")),
            ("region", "region", _("— not known —")),
        ):
            choices = [("", blank), *dictionary_choices(kind)]
            code = getattr(lead, name, "") if lead is not None else ""
            if code and code not in {c for c, _l in choices}:
                # A value retired from the list stays selectable on this record.
                choices.append((code, dictionary_label(kind, code)))
            f[name].widget.choices = choices
        self.may_assign = user_can(actor, MODULE, "assign")
        owners = [
            (u.pk, u.display_name)
            for u in users_who_can_own(actor=actor, module=MODULE).only(
                "id", "full_name", "username", "first_name", "last_name"
            )
        ]
        if not self.may_assign:
            owners = [(pk, n) for pk, n in owners if pk == actor.pk] or [
                (actor.pk, actor.display_name)
            ]
        if lead is not None and lead.owner_id and lead.owner_id not in {pk for pk, _n in owners}:
            owners.insert(0, (lead.owner_id, lead.owner.display_name))
        blank = [("", _("— unassigned —"))] if self.may_assign else []
        f["owner"].widget.choices = [*blank, *owners]
        if lead is not None and not self.may_assign:
            f["owner"].disabled = True
            f["owner"].help_text = _("Only users who assign leads change the owner.")
        elif self.may_assign:
            f["owner"].help_text = _("Leave unassigned to let the assignment rules choose.")
        f["phone"].help_text = _("Mobile, landline with area code, or +country code.")
        f["email"].help_text = _("A phone number or an email address is required.")
        f["budget"].widget.attrs["placeholder"] = _("e.g. 150000")
        f["grade"].help_text = _("Sets the first-contact deadline.")
        for name in REQUIRED_FIELDS:
            f[name].widget.attrs.setdefault("aria-required", "true")
            f[name].widget.attrs.setdefault("required", True)
        for name in f:
            f[name].required_mark = name in REQUIRED_FIELDS
        custom_form_fields_add(self, module=MODULE, current=lead.custom if lead else None)

    @classmethod
    def initial_from(cls, lead: Lead) -> dict[str, Any]:
        return {
            **custom_form_initial(MODULE, lead.custom),
            "company": lead.company,
            "name": lead.name,
            "title": lead.title,
            "phone": lead.phone,
            "email": lead.email,
            "source": lead.source,
            "grade": lead.grade,
            "owner": lead.owner_id or "",
            "region": lead.region,
            "budget": f"{lead.budget:.2f}" if lead.budget is not None else "",
            "requirement": lead.requirement,
            "notes": lead.notes,
        }

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if self.fields["owner"].disabled:
            data.pop("owner", None)
        return custom_data_fold(data)

    def attach_errors(self, fields: dict[str, list[Any]]) -> list[str]:
        """Put the service's field errors on the form; return those that belong to no field."""
        other: list[str] = []
        for name, messages in fields.items():
            key = "owner" if name == "owner_id" else name
            if key in self.fields:
                for message in messages:
                    self.add_error(key, str(message))
            else:
                other.extend(str(m) for m in messages)
        return other
