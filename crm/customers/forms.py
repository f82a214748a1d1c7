"""Forms of the customer UI.

The forms only collect and re-display what the user typed; every rule (required fields,
phone/email/credit-code formats, name rules, duplicates) lives in `services.customer_clean`
and `services.contact_clean`, so the web UI, the API and imports give the same answers.
The service's `ValidationFailed.fields` are attached back to these forms as inline errors.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.core.customfields import custom_fields_active, custom_fields_all
from crm.core.customfields_forms import (
    custom_data_fold,
    custom_form_fields_add,
    custom_form_initial,
)
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.masking import mask_email, mask_phone
from crm.core.scope import users_who_can_own
from crm.customers.models import Contact, Customer, CustomerType, Grade

MODULE = "customers"
CONTACTS_MODULE = "contacts"
TEXTAREA_FIELDS = ("requirement", "background", "decision_chain", "competitors", "remarks")
# Shown with a red asterisk; the service decides what is really required.
REQUIRED_FIELDS = ("type", "name", "industry", "grade", "owner")


def date_input_lang() -> str:
    """The `lang` of date inputs: the UI's language as a BCP 47 tag browsers know."""
    return "zh-CN" if (get_language() or "zh").startswith("zh") else "en"


def _label(model: type, name: str) -> Any:
    return model._meta.get_field(name).verbose_name


def _text_field(name: str, widget: forms.Widget | None = None) -> forms.CharField:
    # required=False and no max_length: the service validates, with the same messages as the API.
    return forms.CharField(label=_label(Customer, name), required=False, widget=widget)


def _select(choices: list[tuple[Any, Any]], blank: Any = None) -> list[tuple[Any, Any]]:
    return ([("", blank)] if blank is not None else []) + list(choices)


class CustomerForm(forms.Form):
    """All CUS-1 fields of a customer (contacts are handled by ContactRows)."""

    type = _text_field("type", forms.RadioSelect(choices=CustomerType.choices))
    name = _text_field(
        "name", forms.TextInput(attrs={"autocomplete": "organization", "maxlength": 100})
    )
    industry = _text_field("industry", forms.Select())
    source = _text_field("source", forms.Select())
    grade = _text_field("grade", forms.Select(choices=Grade.choices))
    status = _text_field("status", forms.Select())
    owner = _text_field("owner", forms.Select())
    phone = _text_field(
        "phone", forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"})
    )
    email = _text_field("email", forms.EmailInput(attrs={"autocomplete": "email"}))
    credit_code = _text_field(
        "credit_code",
        forms.TextInput(
            attrs={"maxlength": 18, "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    address = _text_field("address", forms.TextInput(attrs={"maxlength": 200}))
    first_contact_date = _text_field("first_contact_date", forms.DateInput(attrs={"type": "date"}))
    budget = _text_field("budget", forms.TextInput(attrs={"inputmode": "decimal"}))
    requirement = _text_field("requirement", forms.Textarea(attrs={"rows": 3}))
    background = _text_field("background", forms.Textarea(attrs={"rows": 3}))
    decision_chain = _text_field("decision_chain", forms.Textarea(attrs={"rows": 3}))
    competitors = _text_field("competitors", forms.Textarea(attrs={"rows": 3}))
    remarks = _text_field("remarks", forms.Textarea(attrs={"rows": 3}))

    def __init__(
        self,
        *args: Any,
        actor: Any,
        customer: Customer | None = None,
        can_transfer: bool = True,
        can_view_contact: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.masked_fields: set[str] = set()
        f = self.fields
        f["industry"].widget.choices = _select(
            dictionary_choices("industry"), _("— choose an industry —")
        )
        f["source"].widget.choices = _select(dictionary_choices("source"), _("— not known —"))
        f["status"].widget.choices = dictionary_choices("customer_status")
        if customer is not None:
            # A value an administrator has since retired from the list stays selectable on
            # this record, so opening and saving the form does not silently clear it.
            for name, kind in (
                ("industry", "industry"),
                ("source", "source"),
                ("status", "customer_status"),
            ):
                code = getattr(customer, name)
                widget = f[name].widget
                if code and code not in {str(c) for c, _label in widget.choices}:
                    widget.choices = [*widget.choices, (code, dictionary_label(kind, code))]
        owners = [
            (u.pk, u.display_name)
            for u in users_who_can_own(actor=actor, module=MODULE).only(
                "id", "full_name", "username"
            )
        ]
        if customer is not None and customer.owner_id is None:
            # A pool customer (an administrator edits it): left blank, it stays in the pool.
            owners.insert(0, ("", _("(public pool)")))
        elif customer is not None and customer.owner_id not in {pk for pk, _n in owners}:
            owners.insert(0, (customer.owner_id, customer.owner.display_name))
        self.owner_choices = owners
        f["owner"].widget.choices = owners
        f["phone"].help_text = _("Mobile, landline with area code, or +country code.")
        f["email"].help_text = _("A phone number or an email address is required.")
        f["credit_code"].help_text = _("18 characters; enterprises only. Checked for typos.")
        f["name"].help_text = _("The full legal name, e.g. 北京华科信息技术有限公司.")
        f["budget"].widget.attrs["placeholder"] = _("e.g. 150000")
        f["first_contact_date"].widget.attrs.update(
            {"lang": date_input_lang(), "placeholder": "YYYY-MM-DD"}
        )
        f["first_contact_date"].help_text = _("Format: YYYY-MM-DD, e.g. 2026-03-15.")
        if customer is not None:
            # The lifecycle status changes through its own action (CUS-8: some changes need
            # approval, a loss needs a reason); the edit form shows it without sending it.
            f["status"].disabled = True
            f["status"].help_text = _("Change it with “Change status” on the customer page.")
        if customer is not None and not can_transfer:
            # Changing the owner is a transfer; without that permission the field is shown
            # but not submitted (Django keeps the initial value for disabled fields).
            f["owner"].disabled = True
            f["owner"].help_text = _("Only users with the transfer permission change the owner.")
        if customer is not None and not can_view_contact:
            # Never put the real phone/email into the page of someone who may not see them.
            for name, mask in (("phone", mask_phone), ("email", mask_email)):
                current = getattr(customer, name)
                if current:
                    self.masked_fields.add(name)
                    f[name].widget.attrs["placeholder"] = mask(current)
                    f[name].help_text = _("Hidden for your role; leave empty to keep it.")
        for name in REQUIRED_FIELDS:
            # `required` for assistive technology and the :required style; the form has
            # `novalidate`, so the server's messages (the same as the API's) stay the ones shown.
            f[name].widget.attrs.setdefault("aria-required", "true")
            f[name].widget.attrs.setdefault("required", True)
        for name in f:
            f[name].required_mark = name in REQUIRED_FIELDS
        # The administrator's custom fields (crm.core.customfields_forms), named custom.<key>.
        custom_form_fields_add(self, module=MODULE, current=customer.custom if customer else None)

    @classmethod
    def initial_from(cls, customer: Customer, *, can_view_contact: bool) -> dict[str, Any]:
        """The form's starting values for an edit."""
        data = {
            "type": customer.type,
            "name": customer.name,
            "industry": customer.industry,
            "source": customer.source,
            "grade": customer.grade,
            "status": customer.status,
            "owner": customer.owner_id,
            "phone": customer.phone if can_view_contact else "",
            "email": customer.email if can_view_contact else "",
            "credit_code": customer.credit_code,
            "address": customer.address,
            "first_contact_date": (
                customer.first_contact_date.isoformat() if customer.first_contact_date else ""
            ),
            "budget": f"{customer.budget:.2f}" if customer.budget is not None else "",
        }
        for name in TEXTAREA_FIELDS:
            data[name] = getattr(customer, name)
        data.update(custom_form_initial(MODULE, customer.custom))
        return data

    def service_data(self) -> dict[str, Any]:
        """What the service receives: every field the user could change."""
        data = {name: value for name, value in self.cleaned_data.items()}
        if self.fields["owner"].disabled:
            data.pop("owner", None)
        for name in self.masked_fields:
            if not data.get(name):
                data.pop(name, None)  # left empty: keep the hidden value
        return data

    def attach_errors(self, fields: dict[str, list[Any]]) -> list[str]:
        """Put the service's field errors on the form; return those that belong to no field."""
        other: list[str] = []
        for name, messages in fields.items():
            key = "owner" if name == "owner_id" else name
            if key in self.fields:
                for message in messages:
                    self.add_error(key, str(message))
            elif not name.startswith("contacts"):
                other.extend(str(m) for m in messages)
        return other

    def display_value(self, name: str, value: Any) -> str:
        """A value of this form's field as a person reads it (choices shown by their label)."""
        if value in (None, ""):
            return ""
        widget = self.fields[name].widget
        choices = getattr(widget, "choices", None)
        if choices:
            for code, label in choices:
                if str(code) == str(value):
                    return str(label)
        return str(value)


CONTACT_FIELDS = ("name", "title", "phone", "email", "notes")
_ROW_KEY = re.compile(r"^contacts-(\d+)-(name|title|phone|email|notes)$")
_ROW_CUSTOM_KEY = re.compile(r"^contacts-(\d+)-custom\.([a-z][a-z0-9_]{0,19})$")


class ContactRows:
    """The contacts section of the create form: several rows, one chosen as primary (CUS-3).

    Rows are named ``contacts-<n>-<field>`` and the primary contact is the radio
    ``contacts-primary=<n>``; rows the user left completely empty are dropped.
    """

    labels = {name: _label(Contact, name) for name in (*CONTACT_FIELDS, "is_primary")}

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.errors: list[str] = []

    @classmethod
    def blank(cls, count: int = 1) -> ContactRows:
        rows = [cls._row(i, {}) for i in range(count)]
        if rows:
            rows[0]["is_primary"] = True
        return cls(rows)

    @staticmethod
    def _row(index: int, values: dict[str, str]) -> dict[str, Any]:
        row: dict[str, Any] = {name: values.get(name, "") for name in CONTACT_FIELDS}
        row.update(index=index, is_primary=False, errors={}, custom=values.get("custom", {}))
        return row

    @classmethod
    def from_post(cls, data: Any) -> ContactRows:
        found: dict[int, dict[str, Any]] = {}
        multi = {f.key for f in custom_fields_active(CONTACTS_MODULE) if f.type == "multichoice"}
        for key in data:
            match = _ROW_KEY.match(key)
            if match:
                found.setdefault(int(match.group(1)), {})[match.group(2)] = str(
                    data.get(key) or ""
                ).strip()
                continue
            match = _ROW_CUSTOM_KEY.match(key)
            if match:  # the contacts' custom fields (crm.core.customfields)
                row = found.setdefault(int(match.group(1)), {})
                name = match.group(2)
                if name in multi and hasattr(data, "getlist"):
                    value: Any = [str(v).strip() for v in data.getlist(key) if str(v).strip()]
                else:
                    value = str(data.get(key) or "").strip()
                row.setdefault("custom", {})[name] = value
        primary = str(data.get("contacts-primary") or "")
        rows = []
        for old_index in sorted(found):
            values = found[old_index]
            if not any(v for k, v in values.items() if k != "custom") and not any(
                (values.get("custom") or {}).values()
            ):
                continue
            row = cls._row(len(rows), values)
            row["is_primary"] = primary == str(old_index)
            rows.append(row)
        return cls(rows)

    def add_blank(self) -> None:
        self.rows.append(self._row(len(self.rows), {}))
        if not any(r["is_primary"] for r in self.rows):
            self.rows[0]["is_primary"] = True

    def remove(self, index: Any) -> None:
        self.rows = [r for r in self.rows if str(r["index"]) != str(index)]
        for i, row in enumerate(self.rows):
            row["index"] = i

    def service_data(self) -> list[dict[str, Any]]:
        has_custom = bool(custom_fields_active(CONTACTS_MODULE))
        return [
            {
                **{name: row[name] for name in CONTACT_FIELDS},
                "is_primary": row["is_primary"],
                **({"custom": dict(row.get("custom") or {})} if has_custom else {}),
            }
            for row in self.rows
        ]

    def attach_errors(self, fields: dict[str, list[Any]]) -> None:
        """Errors named ``contacts.<i>.<field>`` go on their row, ``contacts`` on the section."""
        for name, messages in fields.items():
            if name == "contacts":
                self.errors.extend(str(m) for m in messages)
                continue
            parts = name.split(".")
            if len(parts) == 4 and parts[0] == "contacts" and parts[2] == "custom":
                # a contact's custom field, on its row
                if parts[1].isdigit() and int(parts[1]) < len(self.rows):
                    self.rows[int(parts[1])]["errors"].setdefault(f"custom.{parts[3]}", []).extend(
                        str(m) for m in messages
                    )
                else:
                    self.errors.extend(str(m) for m in messages)
                continue
            if len(parts) == 3 and parts[0] == "contacts" and parts[1].isdigit():
                index = int(parts[1])
                if index < len(self.rows):
                    self.rows[index]["errors"].setdefault(parts[2], []).extend(
                        str(m) for m in messages
                    )

    @property
    def error_links(self) -> list[dict[str, str]]:
        """Each row error for the summary banner: the field's id (a link to it) and a line
        naming the contact row, the field and the problem."""
        links = []
        labels = {f"custom.{f.key}": f.display_label for f in custom_fields_all(CONTACTS_MODULE)}
        for row in self.rows:
            for name in [*CONTACT_FIELDS, *(n for n in row["errors"] if n in labels)]:
                for message in row["errors"].get(name, []):
                    links.append(
                        {
                            "id": f"contacts-{row['index']}-{name}",
                            "text": _("Contact %(number)s · %(field)s: %(message)s")
                            % {
                                "number": row["index"] + 1,
                                "field": self.labels.get(name) or labels.get(name, name),
                                "message": message,
                            },
                        }
                    )
        return links

    @property
    def has_errors(self) -> bool:
        """Any error in the section or in one of its rows (the form's summary banner shows
        for both: a row error alone sat far down the page with nothing said at the top)."""
        return bool(self.errors) or any(row["errors"] for row in self.rows)

    @property
    def next_index(self) -> int:
        return len(self.rows)


class ContactForm(forms.Form):
    """One contact, added or edited inline on the customer page (HTMX)."""

    name = forms.CharField(
        label=_label(Contact, "name"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 60}),
    )
    title = forms.CharField(
        label=_label(Contact, "title"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": 60}),
    )
    phone = forms.CharField(
        label=_label(Contact, "phone"),
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    email = forms.CharField(
        label=_label(Contact, "email"), required=False, widget=forms.EmailInput()
    )
    notes = forms.CharField(
        label=_label(Contact, "notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    is_primary = forms.BooleanField(label=_label(Contact, "is_primary"), required=False)

    def __init__(
        self,
        *args: Any,
        contact: Contact | None = None,
        can_view_contact: bool = True,
        **kwargs: Any,
    ) -> None:
        if contact is not None:
            kwargs.setdefault("prefix", f"c{contact.pk}")
            kwargs.setdefault(
                "initial",
                {
                    "name": contact.name,
                    "title": contact.title,
                    "phone": contact.phone if can_view_contact else "",
                    "email": contact.email if can_view_contact else "",
                    "notes": contact.notes,
                    "is_primary": contact.is_primary,
                },
            )
        else:
            kwargs.setdefault("prefix", "new")
        super().__init__(*args, **kwargs)
        self.contact = contact
        self.masked_fields: set[str] = set()
        self.fields["name"].required_mark = True
        self.fields["name"].widget.attrs.update({"required": True, "aria-required": "true"})
        for name in self.fields:
            if not hasattr(self.fields[name], "required_mark"):
                self.fields[name].required_mark = False
        if contact is not None and not can_view_contact:
            for name, mask in (("phone", mask_phone), ("email", mask_email)):
                current = getattr(contact, name)
                if current:
                    self.masked_fields.add(name)
                    self.fields[name].widget.attrs["placeholder"] = mask(current)
                    self.fields[name].help_text = _("Hidden for your role; leave empty to keep it.")
        custom_form_fields_add(
            self, module="contacts", current=contact.custom if contact is not None else None
        )
        if contact is not None and contact.is_primary:
            # One contact stays primary: choose another one to change it.
            self.fields["is_primary"].disabled = True
            self.fields["is_primary"].help_text = _(
                "To change the primary contact, mark another contact as primary."
            )

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if self.fields["is_primary"].disabled:
            data.pop("is_primary", None)
        for name in self.masked_fields:
            if not data.get(name):
                data.pop(name, None)
        return custom_data_fold(data)

    def attach_errors(self, fields: dict[str, list[Any]]) -> list[str]:
        other: list[str] = []
        for name, messages in fields.items():
            if name in self.fields:
                for message in messages:
                    self.add_error(name, str(message))
            else:
                other.extend(str(m) for m in messages)
        return other


class TransferForm(forms.Form):
    """Choose the new owner of one customer: nobody pre-selected, the current owner not
    offered, only users who could own it (`users_who_can_own`, the service's own rule)."""

    to_user = forms.TypedChoiceField(label=_("New owner"), coerce=int, empty_value=None)

    def __init__(self, *args: Any, actor: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner_choices = [
            (u.pk, u.display_name)
            for u in users_who_can_own(actor=actor, module=MODULE)
            .exclude(pk=customer.owner_id)
            .only("id", "full_name", "username")
        ]
        self.fields["to_user"].choices = [("", _("— choose the new owner —")), *self.owner_choices]
        self.fields["to_user"].widget.attrs.update({"required": True, "aria-required": "true"})
