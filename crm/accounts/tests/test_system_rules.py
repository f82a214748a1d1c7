"""System rules as data (DESIGN invariant 3): duplicate checks and recycle-bin retention."""

from __future__ import annotations

import pytest

from crm.core.config import setting_get, settings_update
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_duplicate_rules_change_is_applied_at_once_and_audited(org):
    assert setting_get("duplicate_rules")["email"] == "warn"  # cached now
    settings_update(
        actor=org.admin,
        key="duplicate_rules",
        value={"name": "block", "credit_code": "block", "phone": "off", "email": "block"},
    )
    rules = setting_get("duplicate_rules")
    assert rules["phone"] == "off" and rules["email"] == "block"
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.UPDATE).latest("id")
    assert entry.actor == org.admin
    assert {c["field"] for c in entry.changes} == {"duplicate_rules.phone", "duplicate_rules.email"}


def test_unknown_duplicate_action_is_refused_per_field(org):
    with pytest.raises(ValidationFailed) as exc:
        settings_update(actor=org.admin, key="duplicate_rules", value={"phone": "maybe"})
    assert "duplicate_rules.phone" in exc.value.fields
    assert setting_get("duplicate_rules")["phone"] == "warn"


@pytest.mark.parametrize("days", [0, 3651, -1, "abc", None, True, 2.5])
def test_recycle_bin_retention_outside_1_to_3650_days_is_refused(org, days):
    with pytest.raises(ValidationFailed) as exc:
        settings_update(actor=org.admin, key="recycle_bin_days", value=days)
    assert "recycle_bin_days" in exc.value.fields
    assert setting_get("recycle_bin_days") == 30


@pytest.mark.parametrize("days", [1, 3650, "90"])
def test_recycle_bin_retention_inside_the_range_is_kept(org, days):
    assert settings_update(actor=org.admin, key="recycle_bin_days", value=days) == int(days)
    assert setting_get("recycle_bin_days") == int(days)


def test_unchanged_rules_leave_no_audit_entry(org):
    before = AuditEntry.objects.count()
    settings_update(actor=org.admin, key="recycle_bin_days", value=30)
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("who", ["rep1", "manager", "exec"])
def test_only_administrators_change_rules(org, who):
    with pytest.raises(PermissionDeniedError):
        settings_update(actor=getattr(org, who), key="recycle_bin_days", value=7)
    assert setting_get("recycle_bin_days") == 30


def test_unknown_setting_is_refused(org):
    with pytest.raises(ValidationFailed):
        settings_update(actor=org.admin, key="anything", value=1)
