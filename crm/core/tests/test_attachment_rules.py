"""Settings → System rules for attachments (issue 6 §3): the size limit (1–100 MB) and the
kinds of file accepted, validated and audited like every rule."""

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


@pytest.mark.parametrize("value", [0, 101, "abc", "", True, None])
def test_the_size_limit_must_be_1_to_100_mb(org, value):
    with pytest.raises(ValidationFailed) as exc:
        settings_update(actor=org.admin, key="attachment_max_mb", value=value)
    assert "attachment_max_mb" in exc.value.fields
    assert setting_get("attachment_max_mb") == 20


def test_kinds_must_be_known_and_at_least_one(org):
    for value in ([], ["exe"], "pdf", None):
        with pytest.raises(ValidationFailed):
            settings_update(actor=org.admin, key="attachment_types", value=value)
    assert settings_update(actor=org.admin, key="attachment_types", value=["zip", "pdf"]) == [
        "pdf",
        "zip",
    ]


def test_only_administrators_change_them(org):
    with pytest.raises(PermissionDeniedError):
        settings_update(actor=org.manager, key="attachment_max_mb", value=5)


def test_the_rules_page_saves_the_attachment_rules(client, org):
    client.force_login(org.admin)
    page = client.get(reverse("settings:rules")).content.decode()
    assert 'name="attachment_max_mb"' in page and 'value="image"' in page
    response = client.post(
        reverse("settings:rules"),
        {
            **RULES,
            "attachment_rules": "1",
            "attachment_max_mb": "50",
            "attachment_types": ["pdf", "image"],
        },
    )
    assert response.status_code == 302
    assert setting_get("attachment_max_mb") == 50
    assert setting_get("attachment_types") == ["pdf", "image"]
    changed = {c["field"] for e in AuditEntry.objects.filter(actor=org.admin) for c in e.changes}
    assert {"attachment_max_mb", "attachment_types"} <= changed


def test_the_rules_page_refuses_no_kinds_and_saves_nothing(client, org):
    client.force_login(org.admin)
    response = client.post(
        reverse("settings:rules"),
        {**RULES, "recycle_bin_days": "40", "attachment_rules": "1", "attachment_max_mb": "50"},
    )
    assert response.status_code == 422
    assert "attachment_types" in response.context["form"].errors
    assert setting_get("attachment_max_mb") == 20 and setting_get("recycle_bin_days") == 30
