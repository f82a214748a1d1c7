"""The reminders' lead time in Settings → System rules (FUP-2): 0–1440 minutes, audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.core.config import setting_get, settings_update
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry

pytestmark = pytest.mark.django_db
RULES = {
    "duplicate_name": "block",
    "duplicate_credit_code": "block",
    "duplicate_phone": "warn",
    "duplicate_email": "warn",
    "recycle_bin_days": "30",
}


@pytest.mark.parametrize("minutes", ["-1", "1441", "abc", "", None, True, 2.5])
def test_the_lead_time_outside_0_to_1440_minutes_is_refused(org, minutes):
    with pytest.raises(ValidationFailed) as exc:
        settings_update(actor=org.admin, key="followup_reminder_minutes", value=minutes)
    assert "followup_reminder_minutes" in exc.value.fields
    assert setting_get("followup_reminder_minutes") == 30


@pytest.mark.parametrize("minutes", ["0", 1440, " 45 "])
def test_the_lead_time_within_range_is_stored(org, minutes):
    stored = settings_update(actor=org.admin, key="followup_reminder_minutes", value=minutes)
    assert stored == int(str(minutes).strip()) == setting_get("followup_reminder_minutes")


def test_only_configurers_change_it(org):
    with pytest.raises(PermissionDeniedError):
        settings_update(actor=org.manager, key="followup_reminder_minutes", value=10)


def test_the_rules_page_shows_and_saves_the_lead_time(org, client, settings):
    settings.LANGUAGE_CODE = "en"
    client.force_login(org.admin)
    page = client.get(reverse("settings:rules"))
    assert 'name="followup_reminder_minutes"' in page.content.decode()
    response = client.post(reverse("settings:rules"), {**RULES, "followup_reminder_minutes": "15"})
    assert response.status_code == 302
    assert setting_get("followup_reminder_minutes") == 15
    assert any(
        c["field"] == "followup_reminder_minutes"
        for e in AuditEntry.objects.filter(action="update")
        for c in e.changes
    )


def test_the_rules_page_names_a_bad_lead_time(org, client, settings):
    settings.LANGUAGE_CODE = "en"
    client.force_login(org.admin)
    response = client.post(
        reverse("settings:rules"), {**RULES, "followup_reminder_minutes": "5000"}
    )
    assert response.status_code == 422
    assert "followup_reminder_minutes" in response.context["form"].errors
    assert setting_get("followup_reminder_minutes") == 30
