"""Forms of lead assignment and conversion (LEAD-4). They collect and re-display what the user
typed; every rule lives in assignment.py / conversion.py, whose field errors are attached back."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.core.dictionaries import dictionary_choices
from crm.core.scope import users_who_could_own
from crm.leads.models import AssignmentRule, LeadGrade
from crm.sales.forms import ServiceErrorsMixin, _mark_required


def _text(label: Any, widget: forms.Widget | None = None) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=widget)


def _rule_label(name: str) -> Any:
    return AssignmentRule._meta.get_field(name).verbose_name


def owner_choices() -> list[tuple[str, str]]:
    """The users a lead may be given to, by name (one query)."""
    return [
        (str(u.pk), u.display_name)
        for u in users_who_could_own(module="leads").order_by("full_name", "username")
    ]


class RuleForm(ServiceErrorsMixin, forms.Form):
    """Settings → Lead assignment: one rule."""

    aliases = {"user_id": "user", "department_id": "department"}

    name = _text(_rule_label("name"), forms.TextInput(attrs={"maxlength": 60}))
    match_source = _text(_("Source"), forms.Select())
    match_region = _text(_("Region"), forms.Select())
    match_grade = _text(_("Grade"), forms.Select())
    target = _text(_("Assign to"), forms.RadioSelect(choices=AssignmentRule.Target.choices))
    user = _text(_("User"), forms.Select())
    department = _text(_("Team"), forms.Select())
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args: Any, rule: AssignmentRule | None = None, **kwargs: Any) -> None:
        from crm.accounts.models import Department

        if rule is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": rule.name,
                    "match_source": rule.match_source,
                    "match_region": rule.match_region,
                    "match_grade": rule.match_grade,
                    "target": rule.target,
                    "user": str(rule.user_id or ""),
                    "department": str(rule.department_id or ""),
                    "is_active": rule.is_active,
                },
            )
        else:
            kwargs.setdefault("initial", {"target": AssignmentRule.Target.USER, "is_active": True})
        super().__init__(*args, **kwargs)
        anyone = [("", _("Any"))]
        self.fields["match_source"].widget.choices = anyone + dictionary_choices("source")
        self.fields["match_region"].widget.choices = anyone + dictionary_choices("region")
        self.fields["match_grade"].widget.choices = anyone + [(g.value, g.label) for g in LeadGrade]
        self.fields["user"].widget.choices = [("", "—"), *owner_choices()]
        self.fields["department"].widget.choices = [("", "—")] + [
            (str(d.pk), d.name) for d in Department.objects.order_by("name", "id")
        ]
        self.fields["match_source"].help_text = _("Blank: any source.")
        self.fields["user"].help_text = _(
            "Skipped while this user is deactivated: the next rule decides."
        )
        self.fields["department"].help_text = _(
            "Its active members who may own leads take turns; deactivated members are skipped."
        )
        _mark_required(self, ("name", "target"))

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["user_id"] = data.pop("user", "")
        data["department_id"] = data.pop("department", "")
        return data


class ConvertForm(ServiceErrorsMixin, forms.Form):
    """The convert page: a new customer prefilled from the lead, or an existing one; an
    optional opportunity."""

    aliases = {
        "owner_id": "owner",
        "contacts.0.name": "contact_name",
        "contacts.0.title": "contact_title",
        "contacts.0.phone": "contact_phone",
        "contacts.0.email": "contact_email",
        "contacts": "contact_name",
        "opportunity.name": "opportunity_name",
        "opportunity.amount": "opportunity_amount",
        "opportunity.expected_close_date": "opportunity_close",
    }

    mode = _text(
        _("Customer"),
        forms.RadioSelect(
            choices=[("new", _("A new customer")), ("existing", _("An existing customer"))]
        ),
    )
    customer_id = _text(_("Existing customer"), forms.RadioSelect())
    name = _text(_("Customer name"), forms.TextInput(attrs={"maxlength": 100}))
    industry = _text(_("Industry"), forms.Select())
    source = _text(_("Source"), forms.Select())
    grade = _text(_("Grade"), forms.Select(choices=[("A", "A"), ("B", "B"), ("C", "C")]))
    phone = _text(_("Phone"), forms.TextInput(attrs={"maxlength": 32, "inputmode": "tel"}))
    email = _text(_("Email"), forms.EmailInput(attrs={"maxlength": 254}))
    address = _text(_("Address"), forms.TextInput(attrs={"maxlength": 200}))
    contact_name = _text(_("Contact person"), forms.TextInput(attrs={"maxlength": 60}))
    contact_title = _text(_("Title"), forms.TextInput(attrs={"maxlength": 60}))
    contact_phone = _text(_("Contact's phone"), forms.TextInput(attrs={"maxlength": 32}))
    contact_email = _text(_("Contact's email"), forms.EmailInput(attrs={"maxlength": 254}))
    with_opportunity = forms.BooleanField(label=_("Also create an opportunity"), required=False)
    opportunity_name = _text(_("Opportunity name"), forms.TextInput(attrs={"maxlength": 120}))
    opportunity_amount = _text(_("Amount (¥)"), forms.TextInput(attrs={"inputmode": "decimal"}))
    opportunity_close = _text(_("Expected close date"), forms.DateInput(attrs={"type": "date"}))
    confirm_duplicates = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, customer_choices: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["industry"].widget.choices = [("", "—"), *dictionary_choices("industry")]
        self.fields["source"].widget.choices = [("", "—"), *dictionary_choices("source")]
        self.fields["customer_id"].widget.choices = [("", "—"), *list(customer_choices or [])]
        _mark_required(self, ("name", "industry", "contact_name"))

    def service_arguments(self) -> dict[str, Any]:
        d = self.cleaned_data
        args: dict[str, Any] = {"confirm_duplicates": bool(d.get("confirm_duplicates"))}
        if d.get("mode") == "existing":
            args["customer_id"] = d.get("customer_id") or "0"
        else:
            args["customer"] = {
                "name": d.get("name", ""),
                "industry": d.get("industry", ""),
                "source": d.get("source", ""),
                "grade": d.get("grade", "") or "C",
                "phone": d.get("phone", ""),
                "email": d.get("email", ""),
                "address": d.get("address", ""),
                "contacts": [
                    {
                        "name": d.get("contact_name", ""),
                        "title": d.get("contact_title", ""),
                        "phone": d.get("contact_phone", ""),
                        "email": d.get("contact_email", ""),
                        "is_primary": True,
                    }
                ],
            }
        if d.get("with_opportunity"):
            args["opportunity"] = {
                "name": d.get("opportunity_name", ""),
                "amount": d.get("opportunity_amount", ""),
                "expected_close_date": d.get("opportunity_close", ""),
            }
        return args
