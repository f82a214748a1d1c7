"""Forms of the Settings area.

They only collect and type the input; the rules (unique username, supervisor cycles, valid
scopes ...) live in the services, whose field errors `errors_apply` puts back on the form.
So most fields are `required=False` here: the service says what is missing, in one voice
for the UI and the API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from crm.accounts.models import Department, Role, User
from crm.accounts.transfer import transfer_recipients
from crm.core.api import MAX_ID
from crm.core.config import (
    ATTACHMENT_MAX_MB_RANGE,
    DUPLICATE_ACTIONS,
    DUPLICATE_FIELDS,
    FOLLOWUP_REMINDER_MINUTES_RANGE,
    RECYCLE_BIN_DAYS_RANGE,
)
from crm.core.models import AuditEntry


def errors_apply(form: forms.Form, fields: dict[str, list[Any]], *, aliases=None) -> None:
    """Put a service's field errors on the form; unknown names become form-wide errors."""
    aliases = aliases or {}
    for name, messages in fields.items():
        target = aliases.get(name, name)
        for message in messages:
            form.add_error(target if target in form.fields else None, str(message))


class DepartmentChoiceField(forms.ModelChoiceField):
    """Departments in tree order, indented, so the select reads like the org chart."""

    def label_from_instance(self, obj: Department) -> str:
        return "\u3000" * getattr(obj, "depth", 0) + obj.name


def departments_tree(queryset=None) -> list[Department]:
    """Departments ordered parent-before-children, each with a `depth` (one query)."""
    rows = list(queryset if queryset is not None else Department.objects.all())
    children: dict[int | None, list[Department]] = {}
    ids = {d.pk for d in rows}
    for dept in rows:
        parent = dept.parent_id if dept.parent_id in ids else None
        children.setdefault(parent, []).append(dept)
    ordered: list[Department] = []

    def walk(parent: int | None, depth: int) -> None:
        for dept in children.get(parent, []):
            dept.depth = depth
            ordered.append(dept)
            walk(dept.pk, depth + 1)

    walk(None, 0)
    return ordered


def _tree_choices(field: DepartmentChoiceField, queryset) -> None:
    """Give a department select its queryset (for validation) and tree-ordered choices."""
    field.queryset = queryset
    ordered = departments_tree(queryset)
    field.choices = [("", field.empty_label or "---------")] + [
        (d.pk, field.label_from_instance(d)) for d in ordered
    ]


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """A multiple choice of records whose ids beyond BIGINT are invalid choices: Django looks
    them up with `pk__in`, which SQLite's driver answers with OverflowError (a 500)."""

    def _check_values(self, value: Any) -> Any:
        for pk in value or []:
            try:
                too_big = abs(int(str(pk))) > MAX_ID
            except (TypeError, ValueError):
                continue  # not a number at all: Django's own check names it
            if too_big:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class LoginForm(AuthenticationForm):
    """Django's login form with a plain-spoken failure message: Django's own reads "请输入一个
    正确的用户名和密码。注意，两者都区分大小写。" in Chinese."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("The username or password is incorrect. Please try again."),
    }


class OwnPasswordChangeForm(PasswordChangeForm):
    """The user's own password change; the new password must differ from the current one, or
    re-typing the initial password an administrator handed over would end the forced change
    at first login (ORG-1) with that same password still in use."""

    @sensitive_variables("old", "new")
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        old, new = data.get("old_password"), data.get("new_password2")
        if old and new and old == new:
            self.add_error(
                "new_password2",
                ValidationError(
                    _("Choose a password different from your current one."),
                    code="password_unchanged",
                ),
            )
        return data


class UserForm(forms.Form):
    username = forms.CharField(label=_("Username"), required=False, max_length=150)
    full_name = forms.CharField(label=_("Full name"), required=False, max_length=80)
    email = forms.CharField(label=_("Email"), required=False, max_length=254)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=32)
    department = DepartmentChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("No department"),
    )
    supervisor = forms.ModelChoiceField(
        label=_("Supervisor"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("No supervisor"),
        help_text=_("Managers see their subordinates' records when their scope allows it."),
    )
    roles = IdsChoiceField(
        label=_("Roles"),
        queryset=Role.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    password = forms.CharField(
        label=_("Initial password"),
        required=False,
        max_length=128,
        widget=forms.TextInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate one. The user must choose their own at first login."),
    )

    def __init__(self, *args: Any, instance: User | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "username": instance.username,
                    "full_name": instance.full_name,
                    "email": instance.email,
                    "phone": instance.phone,
                    "department": instance.department_id,
                    "supervisor": instance.supervisor_id,
                    "roles": [r.pk for r in instance.roles.all()],
                },
            )
        super().__init__(*args, **kwargs)
        # An inactive current value stays selectable, so editing other fields keeps it.
        current_dept = getattr(instance, "department_id", None) or 0
        _tree_choices(
            self.fields["department"],
            Department.objects.filter(Q(is_active=True) | Q(pk=current_dept)),
        )
        supervisors = User.objects.filter(is_active=True)
        if instance is not None:
            supervisors = User.objects.filter(
                Q(is_active=True) | Q(pk=instance.supervisor_id or 0)
            ).exclude(pk=instance.pk)
        self.fields["supervisor"].queryset = supervisors.only(
            "id", "username", "full_name", "first_name", "last_name"
        ).order_by("full_name", "username")
        self.fields["supervisor"].label_from_instance = lambda u: f"{u.display_name} ({u.username})"
        self.fields["roles"].queryset = Role.objects.order_by("id")
        if instance is not None:
            del self.fields["password"]

    def service_data(self) -> dict[str, Any]:
        """What to hand the service: everything on create, only what changed on edit."""
        names = list(self.fields) if self.instance is None else self.changed_data
        return {name: self.cleaned_data[name] for name in names}


USER_STATUS_CHOICES = [
    ("active", _("Active")),
    ("inactive", _("Deactivated")),
    ("all", _("All")),
]


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    department = DepartmentChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("All departments"),
    )
    role = forms.ModelChoiceField(
        label=_("Role"), queryset=Role.objects.none(), required=False, empty_label=_("All roles")
    )
    status = forms.ChoiceField(label=_("Status"), choices=USER_STATUS_CHOICES, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tree_choices(self.fields["department"], Department.objects.all())
        self.fields["role"].queryset = Role.objects.order_by("id")

    def filters(self) -> dict[str, Any]:
        """The valid filters; a tampered value is ignored rather than failing the page."""
        self.is_valid()
        data = dict(getattr(self, "cleaned_data", {}))
        data["status"] = data.get("status") or "active"
        return data


class PasswordResetForm(forms.Form):
    password = forms.CharField(
        label=_("New initial password"),
        required=False,
        max_length=128,
        widget=forms.TextInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate one."),
    )


class DeactivateForm(forms.Form):
    transfer_to = forms.ModelChoiceField(
        label=_("Transfer all their records to"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Nobody (keep them with the deactivated account)"),
        help_text=_("Customers and every other record they own move to this user, audited."),
    )

    def __init__(self, *args: Any, user: User, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["transfer_to"]
        # Only users who could own the records (issue 5 §4); the service refuses the others.
        field.queryset = (
            transfer_recipients(actor=actor, exclude=user)
            .only("id", "username", "full_name", "first_name", "last_name")
            .order_by("full_name", "username")
        )
        field.label_from_instance = lambda u: f"{u.display_name} ({u.username})"


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), required=False, max_length=80)
    parent = DepartmentChoiceField(
        label=_("Parent department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("(top level)"),
    )
    position = forms.IntegerField(
        label=_("Position"),
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text=_("Lower numbers come first among siblings."),
    )

    def __init__(self, *args: Any, instance: Department | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "parent": instance.parent_id,
                    "position": instance.position,
                },
            )
        super().__init__(*args, **kwargs)
        parents = Department.objects.filter(is_active=True)
        if instance is not None:
            parents = Department.objects.filter(
                Q(is_active=True) | Q(pk=instance.parent_id or 0)
            ).exclude(pk=instance.pk)
        _tree_choices(self.fields["parent"], parents)


class RoleForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        required=False,
        max_length=40,
        help_text=_("Lower-case letters, digits and underscores; fixed once created."),
    )
    name = forms.CharField(label=_("Name (Chinese)"), required=False, max_length=80)
    name_en = forms.CharField(label=_("Name (English)"), required=False, max_length=80)
    description = forms.CharField(label=_("Description (Chinese)"), required=False, max_length=200)
    description_en = forms.CharField(
        label=_("Description (English)"), required=False, max_length=200
    )

    def __init__(self, *args: Any, instance: Role | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "name_en": instance.name_en,
                    "description": instance.description,
                    "description_en": instance.description_en,
                },
            )
        super().__init__(*args, **kwargs)
        if instance is not None:
            del self.fields["code"]


class DictionaryItemForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        required=False,
        max_length=40,
        help_text=_("Stored on records and used by the API; cannot be changed later."),
    )
    label = forms.CharField(label=_("Label (Chinese)"), required=False, max_length=80)
    label_en = forms.CharField(label=_("Label (English)"), required=False, max_length=80)
    position = forms.IntegerField(
        label=_("Position"),
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text=_("Lower numbers come first in lists. Empty: at the end."),
    )

    def __init__(self, *args: Any, instance=None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "label": instance.label,
                    "label_en": instance.label_en,
                    "position": instance.position,
                },
            )
        super().__init__(*args, **kwargs)
        if instance is not None:
            del self.fields["code"]


DUPLICATE_LABELS = {
    "name": _("Same company name"),
    "credit_code": _("Same unified social credit code"),
    "phone": _("Same phone number"),
    "email": _("Same email address"),
}
DUPLICATE_ACTION_LABELS = {
    "block": _("Block: refuse to save"),
    "warn": _("Warn: ask the user to confirm"),
    "off": _("Off: do not check"),
}


class SystemRulesForm(forms.Form):
    recycle_bin_days = forms.IntegerField(
        label=_("Recycle bin retention (days)"),
        required=False,
        help_text=_("Deleted customers can be restored for this many days, then are purged."),
        widget=forms.NumberInput(
            attrs={"min": RECYCLE_BIN_DAYS_RANGE[0], "max": RECYCLE_BIN_DAYS_RANGE[1]}
        ),
    )
    followup_reminder_minutes = forms.IntegerField(
        label=_("Remind before a planned follow-up (minutes)"),
        required=False,
        help_text=_(
            "The author of a planned follow-up is reminded this long before it is due, and "
            "again once it is overdue. 0: only the overdue reminder."
        ),
        widget=forms.NumberInput(
            attrs={
                "min": FOLLOWUP_REMINDER_MINUTES_RANGE[0],
                "max": FOLLOWUP_REMINDER_MINUTES_RANGE[1],
            }
        ),
    )

    # Attachments (issue 6 §3). The form marks itself with `attachment_rules` so that a post
    # without it (an older page) leaves these rules alone instead of reading "no kinds".
    attachment_rules = forms.CharField(required=False, widget=forms.HiddenInput, initial="1")
    attachment_max_mb = forms.IntegerField(
        label=_("Largest file (MB)"),
        required=False,
        help_text=_("Each uploaded file may be at most this large (1 to 100 MB)."),
        widget=forms.NumberInput(
            attrs={"min": ATTACHMENT_MAX_MB_RANGE[0], "max": ATTACHMENT_MAX_MB_RANGE[1]}
        ),
    )
    attachment_types = forms.MultipleChoiceField(
        label=_("Kinds of file accepted"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each file's real type is read from its content and must match its name."),
    )

    # Personal data (issue 8 §6): reveal on demand. Marked like the attachment rules, so an
    # older page's post (without these fields) does not turn the setting off.
    reveal_rules = forms.CharField(required=False, widget=forms.HiddenInput, initial="1")
    reveal_on_demand = forms.BooleanField(
        label=_("Mask phone numbers and emails; reveal one with a click"),
        required=False,
        help_text=_(
            "Even users allowed to see contact details see them masked in lists and record "
            "pages, and reveal one value at a time. Every reveal is recorded in the audit log."
        ),
    )
    reveal_per_hour = forms.IntegerField(
        label=_("Reveals per user per hour"),
        required=False,
        help_text=_(
            "Beyond this, reveals are refused for the rest of the hour and administrators "
            "are notified."
        ),
        widget=forms.NumberInput(attrs={"min": 1, "max": 10000}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from crm.core.files import FAMILY_LABELS

        self.fields["attachment_types"].choices = list(FAMILY_LABELS.items())
        choices = [(a, DUPLICATE_ACTION_LABELS[a]) for a in DUPLICATE_ACTIONS]
        for name in DUPLICATE_FIELDS:
            self.fields[f"duplicate_{name}"] = forms.ChoiceField(
                label=DUPLICATE_LABELS[name], choices=choices
            )

    @property
    def duplicate_fields(self) -> list[forms.BoundField]:
        return [self[f"duplicate_{name}"] for name in DUPLICATE_FIELDS]

    @staticmethod
    def error_aliases() -> dict[str, str]:
        return {
            **{f"duplicate_rules.{name}": f"duplicate_{name}" for name in DUPLICATE_FIELDS},
            "contact_reveal.on_demand": "reveal_on_demand",
            "contact_reveal.per_hour": "reveal_per_hour",
        }


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("All actions")), *AuditEntry.Action.choices],
    )
    actor = forms.ModelChoiceField(
        label=_("Who"),
        required=False,
        queryset=User.objects.none(),
        empty_label=_("Everyone"),
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, actors=None, **kwargs: Any) -> None:
        """`actors`: the users a scoped viewer may filter by (everyone when None)."""
        super().__init__(*args, **kwargs)
        field = self.fields["actor"]
        field.queryset = (
            (User.objects.all() if actors is None else actors)
            .only("id", "username", "full_name", "first_name", "last_name")
            .order_by("username")
        )
        field.label_from_instance = lambda u: f"{u.display_name} ({u.username})"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
