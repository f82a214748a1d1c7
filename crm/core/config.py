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
    # Issue 7 (seed 002, seed 004). First-contact deadline of a new lead by grade, in hours
    # (None: no deadline), and how long before the deadline it counts as "due soon" and its
    # owner is reminded (LEAD-3).
    "lead_sla_hours": {"A": 24, "B": 48, "C": None},
    "lead_sla_due_soon_hours": 4,
    # Follow-up cadence by grade, in days: overdue when the last follow-up is older (FUP-3
    # for customers: A twice a week, B weekly, C every two weeks; LEAD-3 for leads: A 1-2 a
    # week, B every two weeks, C monthly).
    "customer_cadence_days": {"A": 3.5, "B": 7, "C": 14},
    "lead_cadence_days": {"A": 7, "B": 14, "C": 30},
    # The public pool (公海, issue 7 §4): a customer returns when its owner logged no
    # follow-up for `followup_days` or it had no won opportunity for `won_days` (per grade;
    # None: that rule is off for the grade), with a notice `notice_days` before; customers in
    # `protected_statuses` never return.
    "pool_rules": {
        "enabled": True,
        "followup_days": {"A": 30, "B": 30, "C": 30},
        "won_days": {"A": 90, "B": 90, "C": 90},
        "notice_days": 3,
        "protected_statuses": ["deal", "loyal"],
    },
    # The most customers a user may own to claim another, and how long a user cannot reclaim
    # a customer they released or lost to the pool.
    "pool_claim_limit": 200,
    "pool_reclaim_days": 7,
    # Lifecycle transitions (CUS-8) that wait for the team leader's approval, "from:to".
    "lifecycle_approval": ["deal:lost", "loyal:lost"],
    # No follow-up, opportunity change or order for this many days: dormant (CUS-10).
    "dormant_days": 90,
    # Public web forms (LEAD-1, issue 7 §2): submissions per client address and per form in
    # their windows, the least time a person takes to fill a form in (faster: a robot), and
    # how long a form page's signed token stays valid.
    "web_form_limits": {
        "per_ip": 5,
        "per_ip_minutes": 10,
        "per_form": 200,
        "per_form_minutes": 60,
        "min_fill_seconds": 3,
        "max_age_hours": 24,
    },
    # Personal data (PIPL, issue 8 §6): with `on_demand` on, phone numbers and emails are
    # masked even for users with customers/view_contact, who reveal one value with a click
    # (logged); `per_hour` caps one user's reveals so a script cannot reveal a whole list.
    # Off by default: pages stay as they were until an administrator turns it on.
    "contact_reveal": {"on_demand": False, "per_hour": 100},
    # Backups (SYS-3, crm.dataio): the local hour (Asia/Shanghai) the worker takes the daily
    # backup at, and how many of the newest successful archives are kept.
    "backup_hour": 2,
    "backup_keep": 14,
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


# --- issue 7's clocks and rules ----------------------------------------------------------------

GRADES = ("A", "B", "C")
LIFECYCLE_STATUSES = ("potential", "intent", "deal", "loyal", "lost")


def _number(value: Any, *, low: float, high: float, whole: bool) -> float | int | None:
    """The value as a number inside [low, high], or None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if number != number or not low <= number <= high:  # NaN, or out of range
        return None
    if whole:
        return int(number) if number == int(number) else None
    return int(number) if number == int(number) else number


def _range_error(field: str, low: float, high: float, unit: str) -> ValidationFailed:
    return ValidationFailed(
        fields={
            field: [
                _("Enter a number of %(unit)s from %(low)s to %(high)s.")
                % {"unit": unit, "low": low, "high": high}
            ]
        }
    )


def _by_grade(
    key: str, value: Any, *, low: float, high: float, whole: bool, unit: str, off: bool
) -> dict[str, Any]:
    """A {grade: number} rule; `off` allows an empty value (None) meaning "no rule"."""
    if not isinstance(value, dict):
        raise ValidationFailed(fields={key: [_("Give a value for each grade.")]})
    cleaned = dict(DEFAULTS[key]) if key in DEFAULTS else {}
    errors: dict[str, list[str]] = {}
    for grade in GRADES:
        if grade not in value:
            continue
        raw = value[grade]
        if off and (raw is None or str(raw).strip() == ""):
            cleaned[grade] = None
            continue
        number = _number(raw, low=low, high=high, whole=whole)
        if number is None:
            errors[f"{key}.{grade}"] = _range_error(key, low, high, unit).fields[key]
        else:
            cleaned[grade] = number
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _clean_lead_sla_hours(value: Any) -> dict[str, Any]:
    return _by_grade(
        "lead_sla_hours", value, low=1, high=720, whole=True, unit=_("hours"), off=True
    )


def _clean_whole(key: str, low: int, high: int, unit: Callable[[], str]) -> Callable[[Any], int]:
    def clean(value: Any) -> int:
        number = _number(value, low=low, high=high, whole=True)
        if number is None:
            raise _range_error(key, low, high, unit())
        return int(number)

    return clean


def _clean_customer_cadence_days(value: Any) -> dict[str, Any]:
    return _by_grade(
        "customer_cadence_days", value, low=0.5, high=365, whole=False, unit=_("days"), off=True
    )


def _clean_lead_cadence_days(value: Any) -> dict[str, Any]:
    return _by_grade(
        "lead_cadence_days", value, low=0.5, high=365, whole=False, unit=_("days"), off=True
    )


def _clean_pool_rules(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(fields={"pool_rules": [_("Give the pool's rules.")]})
    current = setting_get("pool_rules")
    cleaned = dict(current)
    errors: dict[str, list[str]] = {}
    if "enabled" in value:
        cleaned["enabled"] = value["enabled"] in (True, "true", "on", "1", 1)
    for name in ("followup_days", "won_days"):
        if name in value:
            try:
                cleaned[name] = {
                    **current[name],
                    **_by_grade(
                        name, value[name], low=1, high=3650, whole=True, unit=_("days"), off=True
                    ),
                }
            except ValidationFailed as exc:
                for field, messages in exc.fields.items():
                    errors[f"pool_rules.{field}"] = messages
    if "notice_days" in value:
        number = _number(value["notice_days"], low=0, high=60, whole=True)
        if number is None:
            errors["pool_rules.notice_days"] = _range_error("n", 0, 60, _("days")).fields["n"]
        else:
            cleaned["notice_days"] = int(number)
    if "protected_statuses" in value:
        statuses = value["protected_statuses"]
        if isinstance(statuses, str) or not isinstance(statuses, list | tuple | set):
            errors["pool_rules.protected_statuses"] = [_("Choose the statuses.")]
        elif set(map(str, statuses)) - set(LIFECYCLE_STATUSES):
            errors["pool_rules.protected_statuses"] = [_("Unknown status.")]
        else:
            cleaned["protected_statuses"] = [s for s in LIFECYCLE_STATUSES if s in statuses]
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _clean_lifecycle_approval(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple | set):
        raise ValidationFailed(fields={"lifecycle_approval": [_("Choose the transitions.")]})
    cleaned: list[str] = []
    for item in value:
        parts = str(item).split(":")
        if (
            len(parts) != 2
            or parts[0] not in LIFECYCLE_STATUSES
            or parts[1] not in LIFECYCLE_STATUSES
            or parts[0] == parts[1]
        ):
            raise ValidationFailed(
                fields={"lifecycle_approval": [_("Unknown transition: %(t)s") % {"t": item}]}
            )
        if str(item) not in cleaned:
            cleaned.append(str(item))
    return cleaned


# (lowest, highest, unit) of each of the web forms' limits.
WEB_FORM_LIMITS_RANGES: dict[str, tuple[int, int, Callable[[], str]]] = {
    "per_ip": (1, 10000, lambda: _("submissions")),
    "per_ip_minutes": (1, 1440, lambda: _("minutes")),
    "per_form": (1, 1000000, lambda: _("submissions")),
    "per_form_minutes": (1, 1440, lambda: _("minutes")),
    "min_fill_seconds": (0, 600, lambda: _("seconds")),
    "max_age_hours": (1, 720, lambda: _("hours")),
}


def _clean_web_form_limits(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValidationFailed(fields={"web_form_limits": [_("Give the web forms' limits.")]})
    unknown = set(value) - set(WEB_FORM_LIMITS_RANGES)
    if unknown:
        raise ValidationFailed(
            fields={
                "web_form_limits": [
                    _("Unknown fields: %(fields)s")
                    % {"fields": ", ".join(sorted(map(str, unknown)))}
                ]
            }
        )
    cleaned = dict(setting_get("web_form_limits"))
    errors: dict[str, list[str]] = {}
    for name, (low, high, unit) in WEB_FORM_LIMITS_RANGES.items():
        if name not in value:
            continue
        number = _number(value[name], low=low, high=high, whole=True)
        if number is None:
            errors[f"web_form_limits.{name}"] = _range_error(name, low, high, unit()).fields[name]
        else:
            cleaned[name] = int(number)
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


CONTACT_REVEAL_PER_HOUR_RANGE = (1, 10000)


def _clean_contact_reveal(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(fields={"contact_reveal": [_("Give the reveal rules.")]})
    unknown = set(value) - {"on_demand", "per_hour"}
    if unknown:
        raise ValidationFailed(
            fields={
                "contact_reveal": [
                    _("Unknown fields: %(fields)s")
                    % {"fields": ", ".join(sorted(map(str, unknown)))}
                ]
            }
        )
    cleaned = dict(setting_get("contact_reveal"))
    if "on_demand" in value:
        if value["on_demand"] not in (True, False):
            raise ValidationFailed(fields={"contact_reveal.on_demand": [_("Enter true or false.")]})
        cleaned["on_demand"] = value["on_demand"]
    if "per_hour" in value:
        low, high = CONTACT_REVEAL_PER_HOUR_RANGE
        number = _number(value["per_hour"], low=low, high=high, whole=True)
        if number is None:
            raise ValidationFailed(
                fields={
                    "contact_reveal.per_hour": _range_error("n", low, high, _("reveals")).fields[
                        "n"
                    ]
                }
            )
        cleaned["per_hour"] = int(number)
    return cleaned


CLEANERS: dict[str, Callable[[Any], Any]] = {
    "contact_reveal": _clean_contact_reveal,
    "web_form_limits": _clean_web_form_limits,
    "lead_sla_hours": _clean_lead_sla_hours,
    "lead_sla_due_soon_hours": _clean_whole("lead_sla_due_soon_hours", 0, 168, lambda: _("hours")),
    "customer_cadence_days": _clean_customer_cadence_days,
    "lead_cadence_days": _clean_lead_cadence_days,
    "pool_rules": _clean_pool_rules,
    "pool_claim_limit": _clean_whole("pool_claim_limit", 1, 100000, lambda: _("customers")),
    "pool_reclaim_days": _clean_whole("pool_reclaim_days", 0, 365, lambda: _("days")),
    "lifecycle_approval": _clean_lifecycle_approval,
    "dormant_days": _clean_whole("dormant_days", 1, 3650, lambda: _("days")),
    "duplicate_rules": _clean_duplicate_rules,
    "recycle_bin_days": _clean_recycle_bin_days,
    "followup_reminder_minutes": _clean_followup_reminder_minutes,
    "attachment_max_mb": _clean_attachment_max_mb,
    "attachment_types": _clean_attachment_types,
    "backup_hour": _clean_whole("backup_hour", 0, 23, lambda: _("hours")),
    "backup_keep": _clean_whole("backup_keep", 1, 365, lambda: _("backups")),
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
