"""Public web forms that capture leads from the company's site (LEAD-1; issue 7 §2).

An administrator makes a form (which lead fields it asks and which of them are required, the
source and grade it gives its leads, an assignment rule, a thank-you text) and embeds its page
`/f/<key>/` on the site, or posts to `POST /api/v1/public/forms/{key}/submit`. Both come here.

Spam is kept out without a third-party service:
- a honeypot field (`website`) people never see: filled in, it is a robot;
- a signed timestamp (`_t`, django.core.signing) the form page carries: a submission sooner
  than the minimum fill time after the page was drawn is a robot, an old or forged one is
  refused; the JSON endpoint may leave `_t` out (a site's server forwarding its own form has
  none), but one it sends is checked the same way;
- rate limits per client address and per form (the shared cache, crm.core.ratelimit);
- a body size limit (the views, before the body is read).
A refused submission creates nothing and is told only that it was refused (400), or that there
were too many (429): which check failed is never said, so it cannot be probed.

A submission that matches an existing customer or lead is saved all the same (a visitor must
never be turned away) and the lead's notes say what it may duplicate.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit_record, diff, snapshot
from crm.core.config import setting_get
from crm.core.dictionaries import dictionary_is_valid
from crm.core.errors import (
    AppError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.models import AuditEntry
from crm.core.net import address_network
from crm.core.ratelimit import rate_limit_hit
from crm.core.scope import user_can
from crm.core.text import typed_text as _text
from crm.core.validators import email_normalize, phone_normalize
from crm.leads.models import AssignmentRule, Lead, LeadGrade, WebForm

# The lead fields a form may ask, in the order they are offered; company and contact person
# are always asked and required (a lead has no meaning without them).
FORM_FIELDS = ("company", "name", "title", "phone", "email", "region", "requirement", "budget")
ALWAYS_ASKED = ("company", "name")
DEFAULT_FIELDS = ["company", "name", "phone", "email", "requirement"]
DEFAULT_REQUIRED = ["company", "name", "phone"]
DEFAULT_SOURCE = "web_form"  # 官网表单 in the source list
TEXT_LIMITS = {"company": 100, "name": 60, "title": 60, "requirement": 2000}
HONEYPOT = "website"
TOKEN = "_t"
# The largest body a submission may have: a form of short fields never needs more.
MAX_BODY_BYTES = 16 * 1024
KEY_BYTES = 16  # 22 URL-safe characters: unguessable
THANK_YOU_LIMIT = 1000
_SALT = "crm.leads.webform"


class SubmissionRefused(AppError):
    """400: a submission taken for spam. Deliberately says nothing about why."""

    status = 400
    code = "refused"
    default_message = gettext_lazy("The submission could not be accepted.")


class SubmissionLimited(AppError):
    """429: over a rate limit. Says only that there were too many."""

    status = 429
    code = "rate_limited"
    default_message = gettext_lazy("Too many submissions. Please try again later.")


def field_label(name: str) -> str:
    """The field's label as a form shows it (capitalised, like Django's own form labels)."""
    return capfirst(str(Lead._meta.get_field(name).verbose_name))


# --- administration (Settings → Web forms) ----------------------------------------------------

AUDITED = [
    "name",
    "fields",
    "required",
    "source",
    "grade",
    "assignment_rule",
    "thank_you",
    "is_active",
]


def _require_configure(actor: Any) -> None:
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()


def _names(value: Any, field: str, errors: dict[str, list[str]]) -> list[str]:
    """A list of lead field names (a form's list, or text separated by commas)."""
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, list | tuple | set):
        errors[field] = [_("Choose the fields.")]
        return []
    names = [str(v) for v in value]
    unknown = [n for n in names if n not in FORM_FIELDS]
    if unknown:
        errors[field] = [_("Unknown fields: %(fields)s") % {"fields": ", ".join(unknown[:5])}]
        return []
    return [n for n in FORM_FIELDS if n in names]


def _clean(data: dict[str, Any], current: WebForm | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    partial = current is not None

    def wanted(name: str) -> bool:
        return name in data or not partial

    if wanted("name"):
        name = _text(data.get("name"))
        if not name:
            errors["name"] = [_("Enter the form's name.")]
        elif len(name) > 60:
            errors["name"] = [_("At most %(limit)d characters.") % {"limit": 60}]
        cleaned["name"] = name
    if wanted("fields") or wanted("required"):
        raw_fields = data.get("fields", current.fields if partial else DEFAULT_FIELDS)
        raw_required = data.get("required", current.required if partial else DEFAULT_REQUIRED)
        fields = _names(raw_fields or [], "fields", errors)
        required = _names(raw_required or [], "required", errors)
        fields = [f for f in FORM_FIELDS if f in fields or f in ALWAYS_ASKED]
        if "fields" not in errors and "required" not in errors:
            not_asked = [r for r in required if r not in fields]
            if not_asked:
                errors["required"] = [
                    _("Only a field the form asks can be required: %(fields)s")
                    % {"fields": ", ".join(field_label(n) for n in not_asked)}
                ]
        cleaned["fields"] = fields
        cleaned["required"] = [f for f in fields if f in required or f in ALWAYS_ASKED]
    if wanted("source"):
        source = _text(data.get("source")) if "source" in data else DEFAULT_SOURCE
        if source and not dictionary_is_valid("source", source):
            errors["source"] = [_("Choose a source from the list.")]
        cleaned["source"] = source
    if wanted("grade"):
        grade = _text(data.get("grade"))
        if grade and grade not in LeadGrade.values:
            errors["grade"] = [_("Choose grade A, B or C.")]
        cleaned["grade"] = grade
    if wanted("assignment_rule"):
        raw = data.get("assignment_rule", data.get("assignment_rule_id"))
        raw = getattr(raw, "pk", raw)
        rule = None
        if raw not in (None, ""):
            text = str(raw).strip()
            if text.isascii() and text.isdigit() and len(text) < 19:
                rule = AssignmentRule.objects.filter(pk=int(text)).first()
            if rule is None:
                errors["assignment_rule"] = [_("Choose an assignment rule from the list.")]
        cleaned["assignment_rule"] = rule
    if wanted("thank_you"):
        thank_you = _text(data.get("thank_you"))
        if len(thank_you) > THANK_YOU_LIMIT:
            errors["thank_you"] = [_("At most %(limit)d characters.") % {"limit": THANK_YOU_LIMIT}]
        cleaned["thank_you"] = thank_you
    if "is_active" in data:
        cleaned["is_active"] = data["is_active"] in (True, "true", "on", "1", 1)
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _snapshot(form: WebForm) -> dict[str, Any]:
    return snapshot(form, AUDITED)


def _audit(actor: Any, form: WebForm, action: str, before: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=action,
        instance=form,
        object_repr=f"{_('web form')}: {form.name}",
        changes=diff(before, _snapshot(form)) if action != AuditEntry.Action.DELETE else [],
    )


def _locked(form: WebForm | int) -> WebForm:
    locked = WebForm.objects.select_for_update().filter(pk=getattr(form, "pk", form)).first()
    if locked is None:
        raise NotFoundError()
    return locked


def web_form_key_new() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


@transaction.atomic
def web_form_create(*, actor: Any, data: dict[str, Any]) -> WebForm:
    """A new public form with a random, unguessable key (Settings → Web forms)."""
    _require_configure(actor)
    values = _clean(data, None)
    form = WebForm.objects.create(
        key=web_form_key_new(),
        created_by=actor if getattr(actor, "pk", None) else None,
        **values,
    )
    _audit(actor, form, AuditEntry.Action.CREATE, {})
    return form


@transaction.atomic
def web_form_update(*, actor: Any, form: WebForm, data: dict[str, Any]) -> WebForm:
    """Change what a form asks and gives; `is_active` false stops its page and endpoint."""
    _require_configure(actor)
    locked = _locked(form)
    values = _clean(data, locked)
    before = _snapshot(locked)
    for name, value in values.items():
        setattr(locked, name, value)
    if _snapshot(locked) == before:
        return locked
    locked.save()
    _audit(actor, locked, AuditEntry.Action.UPDATE, before)
    return locked


@transaction.atomic
def web_form_delete(*, actor: Any, form: WebForm) -> None:
    """Remove a form for good; the leads it captured stay (their link to it is cleared)."""
    _require_configure(actor)
    locked = _locked(form)
    _audit(actor, locked, AuditEntry.Action.DELETE, {})
    locked.delete()


# --- the public side ---------------------------------------------------------------------------


def web_form_public_get(key: Any) -> WebForm:
    """The active form with this key; any other key (unknown, inactive, malformed) is 404."""
    text = str(key or "")
    if not 8 <= len(text) <= 40 or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in text
    ):
        raise NotFoundError()
    form = WebForm.objects.filter(key=text, is_active=True).first()
    if form is None:
        raise NotFoundError()
    return form


def web_form_token(*, form: WebForm, at: dt.datetime) -> str:
    """The signed timestamp the form page carries in its `_t` field."""
    return signing.Signer(salt=_SALT).sign_object({"k": form.key, "t": int(at.timestamp())})


def _token_ok(form: WebForm, token: Any, at: dt.datetime, limits: dict[str, Any]) -> bool:
    if not isinstance(token, str) or len(token) > 200:
        return False
    try:
        value = signing.Signer(salt=_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return False
    if not isinstance(value, dict) or value.get("k") != form.key:
        return False
    issued = value.get("t")
    if not isinstance(issued, int) or isinstance(issued, bool):
        return False
    age = at.timestamp() - issued
    return limits["min_fill_seconds"] <= age <= limits["max_age_hours"] * 3600


def _spam_check(*, form: WebForm, data: dict[str, Any], at: dt.datetime, token_required: bool):
    limits = setting_get("web_form_limits")
    if _text(data.get(HONEYPOT)):
        raise SubmissionRefused()
    token = data.get(TOKEN)
    if token in (None, "") and not token_required:
        return
    if not _token_ok(form, token, at, limits):
        raise SubmissionRefused()


def _limits_check(*, form: WebForm, ip: str | None, at: dt.datetime) -> None:
    """One more submission from `ip` and to `form`: refused past either limit. An address
    over its own limit does not use up the form's (one client cannot close a form)."""
    limits = setting_get("web_form_limits")
    network = address_network(ip) or "unknown"
    if rate_limit_hit(
        key=f"webform:ip:{network}",
        limit=limits["per_ip"],
        window_seconds=limits["per_ip_minutes"] * 60,
        at=at,
    ):
        raise SubmissionLimited()
    if rate_limit_hit(
        key=f"webform:form:{form.pk}",
        limit=limits["per_form"],
        window_seconds=limits["per_form_minutes"] * 60,
        at=at,
    ):
        raise SubmissionLimited()


def retry_after_seconds() -> int:
    """What a 429 tells the client to wait: the per-address window (the form's is longer, but
    one address rarely fills a form's quota alone)."""
    return int(setting_get("web_form_limits")["per_ip_minutes"]) * 60


def _field_value(name: str, raw: Any, required: bool, errors: dict[str, list[str]]) -> Any:
    if isinstance(raw, list | tuple) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, dict | list | tuple | bool):
        errors[name] = [_("Enter text.")]
        return None
    value = _text(raw)
    if not value:
        if required:
            errors[name] = [_("This field is required.")]
        return None if name == "budget" else ""
    limit = TEXT_LIMITS.get(name)
    if limit and len(value) > limit:
        errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
        return None
    try:
        if name == "phone":
            return phone_normalize(value)
        if name == "email":
            return email_normalize(value)
    except ValidationError as exc:
        errors[name] = list(exc.messages)
        return None
    if name == "region" and not dictionary_is_valid("region", value):
        errors[name] = [_("Choose a region from the list.")]
        return None
    if name == "budget":
        try:
            amount = Decimal(value.replace(",", "").replace("，", ""))
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal(10**12):
            errors[name] = [_("Enter an amount in yuan, e.g. 150000.")]
            return None
        return str(amount.quantize(Decimal("0.01")))
    return value


def web_form_values(*, form: WebForm, data: dict[str, Any]) -> dict[str, Any]:
    """The form's own fields from a submission, checked; anything else sent is ignored."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in form.fields:
        if name in FORM_FIELDS:
            values[name] = _field_value(name, data.get(name), name in form.required, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return values


def _duplicate_note(form: WebForm, exc: ConflictError) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        matches = "; ".join(str(m) for msgs in exc.fields.values() for m in msgs)
        return _(
            "Possible duplicate: submitted through the web form “%(form)s”, this lead matches "
            "existing records. %(matches)s"
        ) % {"form": form.name, "matches": matches}


def web_form_submit(
    *,
    form: WebForm,
    data: dict[str, Any],
    ip: str | None,
    at: dt.datetime | None = None,
    token_required: bool = True,
) -> Lead:
    """A visitor's submission: spam checks, limits, the form's fields, then a new lead.

    `token_required` is false only for the JSON endpoint (see the module's docstring). The
    checks run before anything is written; the lead is saved with the form's source and grade
    by `lead_create`, which also assigns it (the form's rule, else the ordered rules).
    """
    at = at or timezone.now()
    # The form as it is now: deactivated or changed since the caller read it counts.
    form = WebForm.objects.filter(pk=form.pk, is_active=True).first()  # type: ignore[assignment]
    if form is None:
        raise NotFoundError()
    _spam_check(form=form, data=data, at=at, token_required=token_required)
    _limits_check(form=form, ip=ip, at=at)
    values = web_form_values(form=form, data=data)
    from crm.leads.services import lead_create  # leads import web forms' models, not this

    if form.source:
        values["source"] = form.source
    if form.grade:
        values["grade"] = form.grade
    with transaction.atomic():
        try:
            with transaction.atomic():
                lead = lead_create(actor=None, data=values, web_form=form)
        except ConflictError as exc:
            # A visitor is never turned away for a duplicate: saved, and its notes say so.
            note = _duplicate_note(form, exc)
            values["notes"] = f"{values['notes']}\n{note}" if values.get("notes") else note
            lead = lead_create(actor=None, data=values, web_form=form, confirm_duplicates=True)
        WebForm.objects.filter(pk=form.pk).update(
            submissions=F("submissions") + 1, last_submitted_at=at
        )
    return lead


def web_form_thank_you(form: WebForm) -> str:
    return form.thank_you or _(
        "Thank you! We have received your message and will contact you soon."
    )
