"""Merging duplicate customers (CUS-6, issue 8 §4): the service and the API."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from crm.activities.models import FollowUp
from crm.core.models import Approval, Attachment, AuditEntry, TimelineEntry
from crm.customers.merge import MOVES, customer_merge
from crm.customers.models import Contact, Customer, PoolMove
from crm.customers.services import customer_search_fields_refresh
from crm.sales.models import Opportunity
from crm.tests_support.activities import followup_make, opportunity_row_make
from crm.tests_support.api import api_as
from crm.tests_support.factories import customer_make
from crm.tests_support.files import attachment_make

pytestmark = pytest.mark.django_db


def test_every_relation_to_customer_is_handled_by_the_merge():
    """A new ForeignKey to Customer must be moved (or named) in crm.customers.merge.MOVES."""
    names = {rel.name for rel in Customer._meta.related_objects}
    assert names - set(MOVES) == set(), f"handle these in crm.customers.merge: {names - set(MOVES)}"


def _pair(org):
    survivor = customer_make(owner=org.rep1, name="杭州云帆信息技术有限公司", address="文三路 1 号")
    # Entered twice: the service refuses the same name key, so the second one is renamed
    # behind its back, the way an import from before the duplicate rules would have left it.
    other = customer_make(owner=org.rep1, name="云帆临时名", address="文三路 90 号")
    Customer.objects.filter(pk=other.pk).update(name="杭州云帆信息技术公司")
    other.refresh_from_db()
    customer_search_fields_refresh(other)
    return survivor, other


def _merge(org, survivor, other, keep=None, actor=None):
    survivor.refresh_from_db()
    return customer_merge(
        actor=actor or org.manager,
        customer=survivor,
        from_id=other.pk,
        keep=keep or {},
        version=survivor.version,
    )


def test_merge_moves_every_related_row_and_applies_field_choices(org):
    survivor, other = _pair(org)
    opportunity = opportunity_row_make(customer=other)
    followup = followup_make(customer=other)
    attachment = attachment_make(actor=org.rep1, record=other)
    PoolMove.objects.create(customer=other, kind="claim", user=org.rep1, at=other.created_at)
    approval = Approval.objects.create(
        kind="lifecycle",
        object_type="customer",
        object_id=other.pk,
        customer_id=other.pk,
        requested_by=org.rep1,
        payload={},
    )
    other_lines = TimelineEntry.objects.filter(customer_id=other.pk).count()
    assert other_lines
    survivor_lines = TimelineEntry.objects.filter(customer_id=survivor.pk).count()

    merged = _merge(org, survivor, other, keep={"address": "other"})

    assert merged.address == "文三路 90 号"
    assert merged.name == "杭州云帆信息技术有限公司"
    assert Contact.objects.filter(customer=other).count() == 0
    assert Contact.objects.filter(customer=survivor, is_primary=True).count() == 1
    assert Contact.objects.filter(customer=survivor).count() == 2
    assert Opportunity.objects.get(pk=opportunity.pk).customer_id == survivor.pk
    assert Opportunity.objects.get(pk=opportunity.pk).owner_id == opportunity.owner_id
    assert FollowUp.objects.get(pk=followup.pk).customer_id == survivor.pk
    assert Attachment.objects.get(pk=attachment.pk).object_id == survivor.pk
    assert PoolMove.objects.filter(customer=survivor).count() == 1
    approval.refresh_from_db()
    assert (approval.customer_id, approval.object_id) == (survivor.pk, survivor.pk)
    assert TimelineEntry.objects.filter(customer_id=other.pk).count() == 0
    assert TimelineEntry.objects.filter(customer_id=survivor.pk).count() > (
        survivor_lines + other_lines - 1
    )
    merged.refresh_from_db()
    assert merged.last_followup_at == FollowUp.objects.get(pk=followup.pk).occurred_at
    other.refresh_from_db()
    assert other.merged_into_id == survivor.pk and other.merged_at and other.deleted_at
    ct = ContentType.objects.get_for_model(Customer)
    for pk in (survivor.pk, other.pk):
        assert AuditEntry.objects.filter(
            content_type=ct, object_id=pk, changes__icontains="merged"
        ).exists()
    keep_entry = AuditEntry.objects.filter(content_type=ct, object_id=survivor.pk).latest("id")
    assert {"field": "keep", "before": "", "after": {"address": "other"}} in keep_entry.changes


def test_tombstone_is_out_of_lists_and_recycle_bin_and_redirects(org, client):
    survivor, other = _pair(org)
    _merge(org, survivor, other)
    api = api_as(org.manager)
    ids = [row["id"] for row in api.get("customers").json()["items"]]
    assert other.pk not in ids and survivor.pk in ids
    assert api.get("recycle-bin/customers").json()["items"] == []
    answer = api.get(f"customers/{other.pk}")
    assert answer.status_code == 308
    assert answer["Location"] == f"/api/v1/customers/{survivor.pk}"
    client.force_login(org.manager)
    page = client.get(f"/customers/{other.pk}/")
    assert page.status_code == 302 and page["Location"] == f"/customers/{survivor.pk}/"


def test_api_merge_and_its_refusals(org):
    survivor, other = _pair(org)
    outsider = customer_make(owner=org.rep3)
    api = api_as(org.manager)
    url = f"customers/{survivor.pk}/merge"
    v = survivor.version
    assert api.post(url, {"from_id": survivor.pk, "version": v}).status_code == 422
    assert (
        api.post(url, {"from_id": other.pk, "keep": {"nope": "other"}, "version": v}).status_code
        == 422
    )
    assert (
        api.post(url, {"from_id": other.pk, "keep": {"name": "mine"}, "version": v}).status_code
        == 422
    )
    assert api.post(url, {"from_id": outsider.pk, "version": v}).status_code == 404
    assert (
        api.post(f"customers/{outsider.pk}/merge", {"from_id": other.pk, "version": 1}).status_code
        == 404
    )
    assert api.post(url, {"from_id": other.pk, "version": v - 1}).status_code == 409
    done = api.post(url, {"from_id": other.pk, "keep": {"name": "other"}, "version": v})
    assert done.status_code == 200, done.content
    assert done.json()["name"] == "杭州云帆信息技术公司"
    again = api.post(url, {"from_id": other.pk, "version": done.json()["version"]})
    assert again.status_code == 422


def test_a_rep_without_scope_on_the_other_cannot_merge(org):
    survivor = customer_make(owner=org.rep1)
    other = customer_make(owner=org.rep2)
    answer = api_as(org.rep1).post(
        f"customers/{survivor.pk}/merge", {"from_id": other.pk, "version": survivor.version}
    )
    assert answer.status_code == 404
    assert Customer.objects.get(pk=other.pk).merged_into_id is None
