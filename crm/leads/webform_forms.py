"""Forms of Settings → Web forms. They collect what the administrator typed; the rules live in
crm.leads.webforms and crm.core.config, whose field errors are attached back here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.core.config import WEB_FORM_LIMITS_RANGES, setting_get
from crm.core.dictionaries import dictionary_choices
from crm.leads.models import AssignmentRule, LeadGrade, WebForm
from crm.leads.webforms import ALWAYS_ASKED, DEFAULT_FIELDS, DEFAULT_REQUIRED, FORM_FIELDS
from crm.leads.webforms import field_label as lead_field_label


def _label(name: str) -> Any:
    return WebForm._meta.get_field(name).verbose_name


class ErrorsMixin:
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


class WebFormForm(ErrorsMixin, forms.Form):
    name = forms.CharField(
        label=_label("name"), required=False, widget=forms.TextInput(attrs={"maxlength": 60})
    )
    fields_asked = forms.MultipleChoiceField(label=_("Fields the form asks"), required=False)
    fields_required = forms.MultipleChoiceField(label=_("Required fields"), required=False)
    source = forms.ChoiceField(label=_label("source"), required=False)
    grade = forms.ChoiceField(label=_label("grade"), required=False)
    assignment_rule = forms.ChoiceField(label=_label("assignment_rule"), required=False)
    thank_you = forms.CharField(
        label=_label("thank_you"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 1000}),
    )
    is_active = forms.BooleanField(label=_label("is_active"), required=False)
    aliases = {"fields": "fields_asked", "required": "fields_required"}

    def __init__(self, *args: Any, web_form: WebForm | None = None, **kwargs: Any) -> None:
        if web_form is not None:
            initial = {
                "name": web_form.name,
                "fields_asked": web_form.fields,
                "fields_required": web_form.required,
                "source": web_form.source,
                "grade": web_form.grade,
                "assignment_rule": web_form.assignment_rule_id or "",
                "thank_you": web_form.thank_you,
                "is_active": web_form.is_active,
            }
        else:
            initial = {
                "fields_asked": DEFAULT_FIELDS,
                "fields_required": DEFAULT_REQUIRED,
                "source": "web_form",
                "is_active": True,
            }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        choices = [(name, lead_field_label(name)) for name in FORM_FIELDS]
        self.fields["fields_asked"].choices = choices
        self.fields["fields_required"].choices = choices
        self.fields["source"].choices = [("", _("— none —")), *dictionary_choices("source")]
        self.fields["grade"].choices = [("", _("— the default —")), *LeadGrade.choices]
        rules = AssignmentRule.objects.filter(is_active=True).order_by("position", "id")
        self.fields["assignment_rule"].choices = [
            ("", _("— the ordered assignment rules —")),
            *[(str(r.pk), r.name) for r in rules],
        ]
        self.fields["assignment_rule"].help_text = _(
            "Leads from this form are assigned by this rule; empty: by the rules in their order."
        )
        self.fields["thank_you"].help_text = _("Shown to the visitor after sending the form.")

    def rows(self) -> list[dict[str, Any]]:
        """One row per lead field: asked? required? (company and name always both)."""
        source = self.data if self.is_bound else None
        asked = (
            source.getlist("fields_asked") if source is not None else self.initial["fields_asked"]
        )
        required = (
            source.getlist("fields_required")
            if source is not None
            else self.initial["fields_required"]
        )
        return [
            {
                "name": name,
                "label": lead_field_label(name),
                "asked": name in asked or name in ALWAYS_ASKED,
                "required": name in required or name in ALWAYS_ASKED,
                "fixed": name in ALWAYS_ASKED,
            }
            for name in FORM_FIELDS
        ]

    def service_data(self) -> dict[str, Any]:
        data = self.data
        return {
            "name": data.get("name", ""),
            "fields": data.getlist("fields_asked"),
            "required": data.getlist("fields_required"),
            "source": data.get("source", ""),
            "grade": data.get("grade", ""),
            "assignment_rule": data.get("assignment_rule", ""),
            "thank_you": data.get("thank_you", ""),
            "is_active": data.get("is_active") in ("on", "true", "1"),
        }


class WebFormLimitsForm(ErrorsMixin, forms.Form):
    per_ip = forms.CharField(label=_("Submissions per client address"), required=False)
    per_ip_minutes = forms.CharField(label=_("… within (minutes)"), required=False)
    per_form = forms.CharField(label=_("Submissions per form"), required=False)
    per_form_minutes = forms.CharField(label=_("… within (minutes)"), required=False)
    min_fill_seconds = forms.CharField(
        label=_("Least time to fill a form in (seconds)"), required=False
    )
    max_age_hours = forms.CharField(label=_("A form page stays valid (hours)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", setting_get("web_form_limits"))
        super().__init__(*args, **kwargs)
        for name, (low, high, _unit) in WEB_FORM_LIMITS_RANGES.items():
            self.fields[name].widget = forms.NumberInput(attrs={"min": low, "max": high})
        self.fields["min_fill_seconds"].help_text = _(
            "A submission sooner than this after the page was opened is taken for a robot."
        )
        self.aliases = {f"web_form_limits.{name}": name for name in WEB_FORM_LIMITS_RANGES}

    def service_data(self) -> dict[str, Any]:
        return {name: self.data.get(name, "") for name in WEB_FORM_LIMITS_RANGES}
