"""Settings → Clocks (issue 7 §3, §6): the first-contact SLA of leads, the follow-up cadence
of customers and leads by grade, and the dormancy period. Values are checked by the cleaners
of crm.core.config (settings_update), all or nothing, audited; an empty grade means "no
clock" for that grade."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.accounts.forms import errors_apply
from crm.accounts.settings_views import configure_required
from crm.core.config import setting_get, settings_update
from crm.core.errors import ValidationFailed

GRADES = ("A", "B", "C")
BY_GRADE = {
    "lead_sla_hours": gettext_lazy("First contact within (hours)"),
    "customer_cadence_days": gettext_lazy("Customers: follow up every (days)"),
    "lead_cadence_days": gettext_lazy("Leads: follow up every (days)"),
}
SINGLE = ("lead_sla_due_soon_hours", "dormant_days")


def _number_input(step: str) -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "step": step, "size": 6})


class ClocksForm(forms.Form):
    lead_sla_due_soon_hours = forms.CharField(
        label=gettext_lazy("“Due soon” before the deadline (hours)"),
        help_text=gettext_lazy(
            "The owner is reminded this long before the first-contact deadline."
        ),
        widget=_number_input("1"),
    )
    dormant_days = forms.CharField(
        label=gettext_lazy("Dormant after (days)"),
        help_text=gettext_lazy(
            "A customer with no follow-up, opportunity change or order for this many days is "
            "flagged dormant and listed for reactivation."
        ),
        widget=_number_input("1"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key in BY_GRADE:
            for grade in GRADES:
                self.fields[f"{key}_{grade}"] = forms.CharField(
                    label=_("Grade %(grade)s") % {"grade": grade},
                    required=False,
                    widget=_number_input("any"),
                )

    def grade_fields(self, key: str) -> list[Any]:
        return [self[f"{key}_{grade}"] for grade in GRADES]

    @staticmethod
    def error_aliases() -> dict[str, str]:
        aliases = {f"{key}.{g}": f"{key}_{g}" for key in BY_GRADE for g in GRADES}
        aliases.update({key: key for key in SINGLE})
        return aliases


def _initial() -> dict[str, Any]:
    initial: dict[str, Any] = {key: setting_get(key) for key in SINGLE}
    for key in BY_GRADE:
        rule = setting_get(key)
        for grade in GRADES:
            value = rule.get(grade)
            initial[f"{key}_{grade}"] = "" if value is None else f"{value:g}"
    return initial


@configure_required
def clocks_view(request: HttpRequest) -> HttpResponse:
    form = ClocksForm(request.POST if request.method == "POST" else None, initial=_initial())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    for key in BY_GRADE:
                        settings_update(
                            actor=request.user,
                            key=key,
                            value={g: data[f"{key}_{g}"].strip() or None for g in GRADES},
                        )
                    for key in SINGLE:
                        settings_update(actor=request.user, key=key, value=data[key])
            except ValidationFailed as exc:
                errors_apply(form, exc.fields, aliases=ClocksForm.error_aliases())
            else:
                messages.success(
                    request,
                    _("Clocks saved. The next sweep applies them to every lead and customer."),
                )
                return redirect("settings:clocks")
        status = 422
    groups = [
        {"key": key, "label": label, "fields": form.grade_fields(key)}
        for key, label in BY_GRADE.items()
    ]
    return render(
        request,
        "accounts/settings/clocks.html",
        {"form": form, "groups": groups, "section": "clocks"},
        status=status,
    )
