"""The follow-up form (FUP-1, FUP-2).

Like the customer forms, it only collects and re-displays what the user typed; every rule lives
in services.followup_clean, so the UI and the API give the same answers, and the service's
field errors are attached back to these fields.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.activities.models import FollowUp
from crm.activities.selectors import opportunities_of_customer
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

MODULE = "followups"
REQUIRED_FIELDS = ("method", "occurred_at", "author", "summary")
PLAN_FIELDS = ("next_at", "next_method", "next_goal")
# Service field name -> form field name, where they differ.
ALIASES = {
    "customer_id": "customer",
    "lead_id": "lead",
    "opportunity_id": "opportunity",
    "contact_id": "contact",
    "author_id": "author",
}


def _label(name: str) -> Any:
    return FollowUp._meta.get_field(name).verbose_name


def _field(name: str, widget: forms.Widget | None = None) -> forms.CharField:
    # required=False, no max_length: the service judges, with the API's messages.
    return forms.CharField(label=_label(name), required=False, widget=widget)


def local_input(value: Any) -> str:
    """A stored moment as a datetime-local input's value, in the company's time zone."""
    if not value:
        return ""
    return timezone.localtime(value, timezone.get_default_timezone()).strftime("%Y-%m-%dT%H:%M")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FollowUpForm(forms.Form):
    opportunity = _field("opportunity", forms.Select())
    contact = _field("contact", forms.Select())
    method = _field("method", forms.Select())
    occurred_at = _field("occurred_at", forms.DateTimeInput(attrs={"type": "datetime-local"}))
    author = _field("author", forms.Select())
    summary = _field("summary", forms.Textarea(attrs={"rows": 4, "maxlength": 5000}))
    feedback = _field("feedback", forms.Textarea(attrs={"rows": 3, "maxlength": 5000}))
    next_action = _field("next_action", forms.Textarea(attrs={"rows": 2, "maxlength": 2000}))
    due_on = _field("due_on", forms.DateInput(attrs={"type": "date"}))
    next_at = _field("next_at", forms.DateTimeInput(attrs={"type": "datetime-local"}))
    next_method = _field("next_method", forms.Select())
    next_goal = _field("next_goal", forms.TextInput(attrs={"maxlength": 500}))

    def __init__(
        self,
        *args: Any,
        actor: Any,
        customer: Any = None,
        followup: FollowUp | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.followup = followup
        f = self.fields
        if followup is None:
            # Attachments go with a new entry (proposal, quote ...); an existing entry's files
            # are managed on its page (crm.core.files' panel).
            f["file"] = forms.FileField(
                label=_("Attachments"),
                required=False,
                widget=MultipleFileInput(
                    attrs={"accept": ",".join(f".{e}" for e in attachment_allowed_extensions())}
                ),
                help_text=_("Up to %(limit)s each: %(kinds)s.")
                % {"limit": attachment_max_text(), "kinds": attachment_allowed_text()},
            )
        methods = dictionary_choices("followup_method")
        if followup is not None:
            for name in ("method", "next_method"):
                code = getattr(followup, name)
                if code and code not in {c for c, _l in methods}:
                    methods = [*methods, (code, dictionary_label("followup_method", code))]
        f["method"].widget.choices = [("", _("— choose how —")), *methods]
        f["next_method"].widget.choices = [("", _("— not planned —")), *methods]
        if customer is None:
            # A follow-up on a lead (issue 7 §1): no contacts or opportunities to choose yet.
            del f["contact"], f["opportunity"]
        else:
            self._customer_choices(actor, customer, followup)
        authors = [
            (u.pk, u.display_name)
            for u in users_who_can_own(actor=actor, module=MODULE).only(
                "id", "full_name", "username", "first_name", "last_name"
            )
        ]
        if followup is not None and followup.author_id not in {pk for pk, _n in authors}:
            authors.insert(0, (followup.author_id, followup.author.display_name))
        if actor.pk not in {pk for pk, _n in authors} and followup is None:
            authors.insert(0, (actor.pk, actor.display_name))
        f["author"].widget.choices = authors
        f["author"].help_text = _("A manager may log a follow-up for a member of the team.")
        f["occurred_at"].help_text = _("When it happened; not in the future.")
        f["next_at"].help_text = _("You are reminded before it is due.")
        f["due_on"].widget.attrs.update({"lang": date_input_lang(), "placeholder": "YYYY-MM-DD"})
        for name in ("occurred_at", "next_at"):
            f[name].widget.attrs.update({"lang": date_input_lang(), "step": 60})
        for name in REQUIRED_FIELDS:
            f[name].widget.attrs.setdefault("aria-required", "true")
            f[name].widget.attrs.setdefault("required", True)
        for name in f:
            f[name].required_mark = name in REQUIRED_FIELDS
        custom_form_fields_add(self, module=MODULE, current=followup.custom if followup else None)

    def _customer_choices(self, actor: Any, customer: Any, followup: FollowUp | None) -> None:
        f = self.fields
        contacts = [(c.pk, f"{c.name} {c.title}".strip()) for c in customer.contacts.all()]
        f["contact"].widget.choices = [("", _("— none —")), *contacts]
        opportunities = [
            (o.pk, f"{o.number} {o.name}")
            for o in opportunities_of_customer(user=actor, customer_id=customer.pk)
        ]
        if (
            followup is not None
            and followup.opportunity_id
            and followup.opportunity_id not in {pk for pk, _n in opportunities}
        ):
            opportunities.insert(0, (followup.opportunity_id, str(followup.opportunity)))
        f["opportunity"].widget.choices = [("", _("— none —")), *opportunities]

    @property
    def record_fields(self) -> list[forms.BoundField]:
        return [
            self[n] for n in self.fields if n not in PLAN_FIELDS and not n.startswith("custom.")
        ]

    @property
    def plan_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in PLAN_FIELDS]

    @classmethod
    def initial_from(cls, followup: FollowUp) -> dict[str, Any]:
        return {
            **custom_form_initial(MODULE, followup.custom),
            "opportunity": followup.opportunity_id or "",
            "contact": followup.contact_id or "",
            "method": followup.method,
            "occurred_at": local_input(followup.occurred_at),
            "author": followup.author_id,
            "summary": followup.summary,
            "feedback": followup.feedback,
            "next_action": followup.next_action,
            "due_on": followup.due_on.isoformat() if followup.due_on else "",
            "next_at": local_input(followup.next_at),
            "next_method": followup.next_method,
            "next_goal": followup.next_goal,
        }

    def service_data(self) -> dict[str, Any]:
        return custom_data_fold(
            {name: self.cleaned_data.get(name, "") for name in self.fields if name != "file"}
        )

    def uploads(self) -> list[Any]:
        """The files chosen in the attachments field (none on an edit)."""
        return self.files.getlist("file") if "file" in self.fields else []

    def attach_errors(self, fields: dict[str, list[Any]]) -> list[str]:
        """Put the service's field errors on the form; return those that belong to no field."""
        other: list[str] = []
        for name, messages in fields.items():
            key = ALIASES.get(name, name)
            if key in self.fields:
                for message in messages:
                    self.add_error(key, str(message))
            else:
                other.extend(str(m) for m in messages)
        return other
