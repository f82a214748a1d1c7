"""System settings with seeded defaults (DESIGN invariant 3: business rules are data)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm.core.audit import audit_record
from crm.core.configstate import config_changed, config_section, config_section_register
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry, SystemSetting
from crm.core.scope import user_can

DEFAULTS: dict[str, Any] = {
    # CUS-6: what each kind of match does: "block", "warn" or "off".
    "duplicate_rules": {
        "name": "block",
        "credit_code": "block",
        "phone": "warn",
        "email": "warn",
    },
    # Deleted customers stay restorable this many days, then the sweep purges them.
    "recycle_bin_days": 30,
    # Attachments (issue 6 §3): the largest file accepted, and the kinds of file allowed
    # (crm.core.files' families: office, pdf, image, text, zip).
    "attachment_max_mb": 20,
    "attachment_types": ["office", "pdf", "image", "text", "zip"],
    # Reminders (FUP-2): how many minutes before a planned follow-up its owner is reminded.
    "followup_reminder_minutes": 30,
}


def _load() -> dict[str, Any]:
    return dict(SystemSetting.objects.values_list("key", "value"))


config_section_register("settings", _load)


def setting_get(key: str) -> Any:
    """The stored value (dict settings merged over their defaults), as of this request."""
    stored = config_section("settings")
    if key not in stored:
        value = DEFAULTS[key]
    else:
        value = stored[key]
        if isinstance(DEFAULTS.get(key), dict) and isinstance(value, dict):
            value = {**DEFAULTS[key], **value}
    # The section is shared by the whole process: callers get their own copy to change.
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def setting_set(*, key: str, value: Any) -> None:
    """Store a value with no validation or audit (seeding, tests); see settings_update."""
    with transaction.atomic():
        SystemSetting.objects.update_or_create(key=key, defaults={"value": value})
        config_changed()


# --- writes (Settings → System rules) ---------------------------------------------------------

DUPLICATE_FIELDS = ("name", "credit_code", "phone", "email")
DUPLICATE_ACTIONS = ("block", "warn", "off")
RECYCLE_BIN_DAYS_RANGE = (1, 3650)


def _clean_duplicate_rules(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationFailed(fields={"duplicate_rules": [_("Give a rule for each field.")]})
    errors: dict[str, list[str]] = {}
    unknown = set(value) - set(DUPLICATE_FIELDS)
    if unknown:
        errors["duplicate_rules"] = [
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(map(str, unknown)))}
        ]
    cleaned = dict(setting_get("duplicate_rules"))
    for name in DUPLICATE_FIELDS:
        if name not in value:
            continue
        if value[name] not in DUPLICATE_ACTIONS:
            errors[f"duplicate_rules.{name}"] = [_("Choose block, warn or off.")]
        else:
            cleaned[name] = value[name]
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _clean_recycle_bin_days(value: Any) -> int:
    low, high = RECYCLE_BIN_DAYS_RANGE
    try:
        if isinstance(value, bool):
            raise ValueError
        days = int(str(value).strip())
    except (TypeError, ValueError):
        days = None
    if days is None or not low <= days <= high:
        raise ValidationFailed(
            fields={
                "recycle_bin_days": [
                    _("Enter a whole number of days from %(low)d to %(high)d.")
                    % {"low": low, "high": high}
                ]
            }
        )
    return days


FOLLOWUP_REMINDER_MINUTES_RANGE = (0, 1440)


def _clean_followup_reminder_minutes(value: Any) -> int:
    low, high = FOLLOWUP_REMINDER_MINUTES_RANGE
    try:
        if isinstance(value, bool):
            raise ValueError
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        minutes = None
    if minutes is None or not low <= minutes <= high:
        raise ValidationFailed(
            fields={
                "followup_reminder_minutes": [
                    _("Enter a whole number of minutes from %(low)d to %(high)d.")
                    % {"low": low, "high": high}
                ]
            }
        )
    return minutes


ATTACHMENT_MAX_MB_RANGE = (1, 100)
# The families crm.core.files knows (kept here too: config must not import the files module).
ATTACHMENT_FAMILIES = ("office", "pdf", "image", "text", "zip")


def _clean_attachment_max_mb(value: Any) -> int:
    low, high = ATTACHMENT_MAX_MB_RANGE
    try:
        if isinstance(value, bool):
            raise ValueError
        mb = int(str(value).strip())
    except (TypeError, ValueError):
        mb = None
    if mb is None or not low <= mb <= high:
        raise ValidationFailed(
            fields={
                "attachment_max_mb": [
                    _("Enter a whole number of megabytes from %(low)d to %(high)d.")
                    % {"low": low, "high": high}
                ]
            }
        )
    return mb


def _clean_attachment_types(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set):
        raise ValidationFailed(fields={"attachment_types": [_("Choose the kinds of file.")]})
    chosen = {str(v) for v in value}
    unknown = chosen - set(ATTACHMENT_FAMILIES)
    if unknown:
        raise ValidationFailed(
            fields={
                "attachment_types": [
                    _("Unknown kinds: %(kinds)s") % {"kinds": ", ".join(sorted(unknown))}
                ]
            }
        )
    if not chosen:
        raise ValidationFailed(fields={"attachment_types": [_("Allow at least one kind of file.")]})
    return [f for f in ATTACHMENT_FAMILIES if f in chosen]


CLEANERS: dict[str, Callable[[Any], Any]] = {
    "duplicate_rules": _clean_duplicate_rules,
    "recycle_bin_days": _clean_recycle_bin_days,
    "followup_reminder_minutes": _clean_followup_reminder_minutes,
    "attachment_max_mb": _clean_attachment_max_mb,
    "attachment_types": _clean_attachment_types,
}


def _changes(key: str, before: Any, after: Any) -> list[dict[str, Any]]:
    if isinstance(after, dict):
        return [
            {"field": f"{key}.{name}", "before": (before or {}).get(name), "after": value}
            for name, value in after.items()
            if (before or {}).get(name) != value
        ]
    return [] if before == after else [{"field": key, "before": before, "after": after}]


@transaction.atomic
def settings_update(*, actor: Any, key: str, value: Any) -> Any:
    """Change one business rule (DESIGN invariant 3) after validating it; audited.

    Returns the stored value. Every process sees it at its next request: the write bumps
    the configuration stamp in this transaction (crm.core.configstate).
    """
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()
    if key not in CLEANERS:
        raise ValidationFailed(fields={"key": [_("Unknown setting.")]})
    before = setting_get(key)
    cleaned = CLEANERS[key](value)
    changes = _changes(key, before, cleaned)
    if not changes:
        return cleaned
    setting_set(key=key, value=cleaned)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=SystemSetting.objects.get(key=key),
        changes=changes,
    )
    return cleaned
