"""Merging duplicate leads (issue 8 §4): the service, the API, the redirects and the pages."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from crm.activities.models import FollowUp
from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.leads.merge import MOVES, lead_merge
from crm.leads.models import Lead, LeadStatus
from crm.leads.services import lead_restore
from crm.tests_support.activities import followup_make
from crm.tests_support.api import api_as
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_interface(settings):
    settings.LANGUAGE_CODE = "en"


def test_every_relation_to_lead_is_handled_by_the_merge():
    names = {rel.name for rel in Lead._meta.related_objects}
    assert names - set(MOVES) == set(), f"handle these in crm.leads.merge: {names - set(MOVES)}"


def _pair(org, owner=None):
    owner = owner or org.rep1
    survivor = lead_make(owner=owner, company="苏州启明光电有限公司", phone="13812340000", notes="")
    other = lead_make(
        owner=owner, company="苏州启明光电有限公司", phone="138 1234 0000", notes="展会名片"
    )
    return survivor, other


def _merge(org, survivor, other, keep=None, actor=None, version=None):
    survivor.refresh_from_db()
    return lead_merge(
        actor=actor or org.manager,
        lead=survivor,
        from_id=other.pk,
        keep=keep or {},
        version=survivor.version if version is None else version,
    )


def test_merge_moves_followups_and_history_and_applies_field_choices(org, client):
    survivor, other = _pair(org)
    followup = followup_make(lead=other)
    other.refresh_from_db()
    assert other.status == LeadStatus.CONTACTED

    merged = _merge(org, survivor, other, keep={"notes": "other", "title": "self"})

    assert merged.notes == "展会名片"
    assert FollowUp.objects.get(pk=followup.pk).lead_id == survivor.pk
    # Reached through its duplicate: contacted, its first contact met.
    assert merged.status == LeadStatus.CONTACTED and merged.first_contacted_at is not None
    other.refresh_from_db()
    assert other.merged_into_id == survivor.pk and other.merged_at and other.deleted_at
    ct = ContentType.objects.get_for_model(Lead)
    assert AuditEntry.objects.filter(content_type=ct, object_id=other.pk).latest("id").changes == [
        {"field": "merged_into", "before": "", "after": survivor.number}
    ]
    entry = AuditEntry.objects.filter(content_type=ct, object_id=survivor.pk).latest("id")
    assert {"field": "merged_from", "before": "", "after": other.number} in entry.changes
    # The survivor's page shows the merged lead's history, and its follow-up.
    client.force_login(org.manager)
    html = client.get(reverse("leads:detail", args=[survivor.pk])).content.decode()
    assert "展会名片" in html
    assert f"of merged lead {other.number}" in html
    # Out of the list and the recycle bin; never restored.
    api = api_as(org.manager)
    assert other.pk not in [row["id"] for row in api.get("leads").json()["items"]]
    assert api.get("recycle-bin/leads").json()["items"] == []
    with pytest.raises(ConflictError):
        lead_restore(actor=org.manager, lead=other)


def test_the_merged_leads_page_and_api_redirect_to_the_survivor(org, client):
    survivor, other = _pair(org)
    _merge(org, survivor, other)
    client.force_login(org.rep1)
    page = client.get(reverse("leads:detail", args=[other.pk]))
    assert page.status_code == 302
    assert page["Location"] == reverse("leads:detail", args=[survivor.pk])
    answer = api_as(org.rep1).get(f"leads/{other.pk}")
    assert answer.status_code == 308 and answer["Location"] == f"/api/v1/leads/{survivor.pk}"
    # Outside the scope, the tombstone stays unknown.
    client.force_login(org.rep3)
    assert client.get(reverse("leads:detail", args=[other.pk])).status_code == 404
    assert api_as(org.rep3).get(f"leads/{other.pk}").status_code == 404


def test_service_refusals(org):
    survivor, other = _pair(org)
    outsider = lead_make(owner=org.rep3)
    with pytest.raises(ValidationFailed) as itself:
        lead_merge(
            actor=org.rep1, lead=survivor, from_id=survivor.pk, keep={}, version=survivor.version
        )
    assert "from_id" in itself.value.fields
    with pytest.raises(NotFoundError):
        _merge(org, survivor, outsider, actor=org.rep1)
    with pytest.raises(ConflictError):
        _merge(org, survivor, other, version=survivor.version - 1)
    with pytest.raises(ValidationFailed) as unknown:
        _merge(org, survivor, other, keep={"owner": "other"})
    assert "keep" in unknown.value.fields
    with pytest.raises(ValidationFailed):
        _merge(org, survivor, other, keep={"notes": "mine"})
    _merge(org, survivor, other)
    third = lead_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as again:
        _merge(org, survivor, other)
    assert "from_id" in again.value.fields
    # Merging into the tombstone: it is no longer a live lead.
    with pytest.raises(ConflictError):
        lead_merge(actor=org.manager, lead=other, from_id=third.pk, keep={}, version=99)
    # Service role: no leads at all.
    with pytest.raises(PermissionDeniedError):
        _merge(org, survivor, third, actor=org.service)


def test_api_merge_and_every_error(org):
    survivor, other = _pair(org)
    outsider = lead_make(owner=org.rep3)
    api = api_as(org.rep1)
    url = f"leads/{survivor.pk}/merge"
    v = survivor.version
    itself = api.post(url, {"from_id": survivor.pk, "version": v})
    assert itself.status_code == 422 and "from_id" in itself.json()["fields"]
    unknown = api.post(url, {"from_id": other.pk, "keep": {"nope": "other"}, "version": v})
    assert unknown.status_code == 422 and "keep" in unknown.json()["fields"]
    assert (
        api.post(url, {"from_id": other.pk, "keep": {"notes": "x"}, "version": v}).status_code
        == 422
    )
    assert api.post(url, {"from_id": outsider.pk, "version": v}).status_code == 404
    assert (
        api.post(f"leads/{outsider.pk}/merge", {"from_id": other.pk, "version": 1}).status_code
        == 404
    )
    stale = api.post(url, {"from_id": other.pk, "version": v - 1})
    assert stale.status_code == 409 and stale.json()["error"] == "conflict"
    assert api.post(url, {"from_id": other.pk, "version": "1"}).status_code == 422  # strict
    done = api.post(url, {"from_id": other.pk, "keep": {"notes": "other"}, "version": v})
    assert done.status_code == 200, done.content
    assert done.json()["id"] == survivor.pk and done.json()["notes"] == "展会名片"
    again = api.post(url, {"from_id": other.pk, "version": done.json()["version"]})
    assert again.status_code == 422 and "from_id" in again.json()["fields"]
    assert api_as(org.service).post(url, {"from_id": other.pk, "version": v}).status_code == 403


def test_a_converted_lead_is_not_merged(org):
    survivor, other = _pair(org)
    Lead.objects.filter(pk=other.pk).update(status=LeadStatus.CONVERTED)
    with pytest.raises(ValidationFailed):
        _merge(org, survivor, other)
    with pytest.raises(ConflictError):
        lead_merge(
            actor=org.manager, lead=other, from_id=survivor.pk, keep={}, version=other.version
        )


def test_duplicates_page_groups_leads_within_scope_and_merges_through_the_compare_page(org, client):
    survivor, other = _pair(org)
    lead_make(owner=org.rep3, company="苏州启明光电有限公司")
    client.force_login(org.rep1)
    html = client.get(reverse("leads:duplicates")).content.decode()
    assert html.count('data-testid="dup-group"') == 1
    assert html.count('data-testid="dup-row"') == 2
    assert survivor.number in html and other.number in html
    assert 'data-testid="dup-compare"' in html
    assert reverse("leads:duplicates") in client.get(reverse("leads:list")).content.decode()

    url = reverse("leads:compare", args=[survivor.pk]) + f"?with={other.pk}"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="keep_notes" value="other" checked' in page.content.decode()
    stale = client.post(url, {"version": survivor.version - 1, "keep_notes": "other"})
    assert stale.status_code == 409
    done = client.post(url, {"version": survivor.version, "keep_notes": "other"})
    assert done.status_code == 302
    assert done["Location"] == reverse("leads:detail", args=[survivor.pk])
    survivor.refresh_from_db()
    assert survivor.notes == "展会名片"
    assert Lead.objects.get(pk=other.pk).merged_into_id == survivor.pk


def test_a_merged_leads_number_still_finds_the_survivor(org, client):
    survivor, other = _pair(org)
    _merge(org, survivor, other)
    client.force_login(org.rep1)
    found = client.get(reverse("search") + f"?q={other.number}")
    target = reverse("leads:detail", args=[survivor.pk])
    assert (found.status_code == 302 and found["Location"] == target) or (
        target in found.content.decode()
    )


def test_lead_duplicates_page_queries_do_not_grow_with_groups(org, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(org.manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("leads:duplicates") + "?kind=phone").status_code == 200
        return len(ctx.captured_queries)

    for n in range(2):
        lead_make(owner=org.rep1, phone=f"1360000{n:04d}")
        lead_make(owner=org.rep2, phone=f"1360000{n:04d}")
    queries()  # the session and the settings caches
    few = queries()
    for n in range(2, 12):
        lead_make(owner=org.rep1, phone=f"1360000{n:04d}")
        lead_make(owner=org.rep2, phone=f"1360000{n:04d}")
    assert queries() == few


def test_each_mergeable_field_is_offered_once():
    from crm.leads.merge import MERGE_FIELDS

    assert len(MERGE_FIELDS) == len(set(MERGE_FIELDS)) and "owner" not in MERGE_FIELDS
    assert "custom" in MERGE_FIELDS
