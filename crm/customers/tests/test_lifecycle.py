"""The customer lifecycle with approvals (CUS-8, issue 7 §5): every rule of the service and
of the shared approvals mechanism it uses first."""

from __future__ import annotations

import pytest

from crm.core.approvals import (
    approval_approve,
    approval_reject,
    approval_withdraw,
    approvals_pending_count,
    approvals_visible_to,
    approvers_by_rule,
)
from crm.core.config import setting_set
from crm.core.errors import ConflictError, PermissionDeniedError, ValidationFailed
from crm.core.models import Approval, AuditEntry, TimelineEntry
from crm.customers.lifecycle import customer_lifecycle_change
from crm.customers.models import Customer
from crm.customers.services import customer_mark_deal, customer_update
from crm.notify.models import Notification
from crm.tests_support.factories import customer_make

pytestmark = pytest.mark.django_db


def deal_customer(org, owner=None):
    return customer_make(owner=owner or org.rep1, status="deal")


def change(actor, customer, status, **kw):
    customer = Customer.objects.get(pk=customer.pk)
    return customer_lifecycle_change(
        actor=actor, customer=customer, status=status, version=customer.version, **kw
    )


def customer_audit(customer):
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(Customer)
    return AuditEntry.objects.filter(content_type=ct, object_id=customer.pk, action="update")


def fresh(customer):
    return Customer.objects.get(pk=customer.pk)


# --- transitions applied at once ---------------------------------------------------------


def test_a_forward_transition_applies_at_once_and_is_audited_and_on_the_timeline(org):
    customer = customer_make(owner=org.rep1)
    updated, approval = change(org.rep1, customer, "intent")
    assert approval is None
    assert updated.status == "intent" and updated.status_changed_at is not None
    assert updated.version == customer.version + 1
    entry = customer_audit(customer).latest("id")
    assert entry.actor_id == org.rep1.pk
    assert {"field": "status", "before": "潜在", "after": "意向"} in entry.changes
    line = TimelineEntry.objects.get(customer_id=customer.pk, kind="field_change")
    # the list's label, as the history shows it
    assert {"field": "status", "before": "潜在", "after": "意向"} in line.data["changes"]
    assert not Approval.objects.exists()


def test_lost_needs_a_reason_from_the_list(org):
    customer = customer_make(owner=org.rep1, status="intent")
    with pytest.raises(ValidationFailed) as exc:
        change(org.rep1, customer, "lost")
    assert "reason" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        change(org.rep1, customer, "lost", reason="bored")
    assert "reason" in exc.value.fields
    updated, approval = change(org.rep1, customer, "lost", reason="price_high", note="太贵")
    assert approval is None  # intent → lost needs no approval by default
    assert (updated.status, updated.lost_reason, updated.lost_note) == (
        "lost",
        "price_high",
        "太贵",
    )


def test_bad_status_same_status_and_stale_version_are_refused(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed):
        change(org.rep1, customer, "sleeping")
    with pytest.raises(ValidationFailed):
        change(org.rep1, customer, "potential")
    with pytest.raises(ConflictError):
        customer_lifecycle_change(
            actor=org.rep1, customer=customer, status="intent", version=customer.version - 1
        )
    assert fresh(customer).status == "potential"


def test_scope_and_permission(org):
    customer = customer_make(owner=org.rep3)
    from crm.core.errors import NotFoundError

    with pytest.raises(NotFoundError):
        change(org.rep1, customer, "intent")
    with pytest.raises(PermissionDeniedError):
        change(org.service, customer, "intent")


def test_customer_update_refuses_a_status_change_and_points_to_the_lifecycle_action(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        customer_update(actor=org.rep1, customer=customer, data={"status": "intent"}, version=1)
    assert "lifecycle" in exc.value.fields["status"][0]
    # The unchanged value (a whole form sent back) passes.
    customer_update(
        actor=org.rep1,
        customer=customer,
        data={"status": "potential", "remarks": "x"},
        version=1,
    )
    assert fresh(customer).remarks == "x"


def test_a_won_deal_still_moves_the_status_and_stamps_the_time(org):
    customer = customer_make(owner=org.rep1, status="intent")
    assert customer_mark_deal(actor=org.rep1, customer_id=customer.pk)
    assert fresh(customer).status_changed_at is not None


# --- transitions that wait for approval --------------------------------------------------


def test_deal_to_lost_creates_a_request_for_the_supervisor_instead_of_applying(org):
    customer = deal_customer(org)
    _same, approval = change(org.rep1, customer, "lost", reason="competitor", note="输给对手")
    assert approval is not None and approval.state == "pending"
    assert fresh(customer).status == "deal"
    assert [u.pk for u in approval.approvers.all()] == [org.manager.pk]
    assert approval.payload["from"] == "deal" and approval.payload["to"] == "lost"
    assert approval.customer_id == customer.pk and approval.requested_by_id == org.rep1.pk
    # the approver is notified with a link to the approval page
    note = Notification.objects.get(recipient=org.manager, kind="approval_requested")
    assert note.link == f"/approvals/{approval.pk}/" and "李明" in note.text
    assert approvals_pending_count(user=org.manager) == 1
    assert approvals_pending_count(user=org.rep1) == 0
    # on the customer's timeline and in the audit trail
    line = TimelineEntry.objects.get(customer_id=customer.pk, kind="approval")
    assert line.data["event"] == "requested" and line.actor_id == org.rep1.pk


def test_loyal_to_lost_waits_too_but_a_changed_setting_decides(org):
    loyal = customer_make(owner=org.rep1, status="loyal")
    _c, approval = change(org.rep1, loyal, "lost", reason="no_response")
    assert approval is not None
    setting_set(key="lifecycle_approval", value=["potential:intent"])
    deal = deal_customer(org)
    _c, approval = change(org.rep1, deal, "lost", reason="other")
    assert approval is None and fresh(deal).status == "lost"
    potential = customer_make(owner=org.rep1)
    _c, approval = change(org.rep1, potential, "intent")
    assert approval is not None and fresh(potential).status == "potential"


def test_the_supervisor_changes_a_team_customer_at_once(org):
    customer = deal_customer(org)
    updated, approval = change(org.manager, customer, "lost", reason="competitor")
    assert approval is None and updated.status == "lost"


def test_without_a_supervisor_the_departments_approvers_decide(org):
    org.rep1.supervisor = None
    org.rep1.save()
    customer = deal_customer(org)
    _c, approval = change(org.rep1, customer, "lost", reason="competitor")
    # the sales manager of 销售一部 holds customers.approve
    assert [u.pk for u in approval.approvers.all()] == [org.manager.pk]


def test_no_approver_found_is_a_clear_422_and_nothing_is_saved(org):
    org.rep3.supervisor = None
    org.rep3.save()
    org.manager2.department = None
    org.manager2.save()
    customer = deal_customer(org, owner=org.rep3)
    with pytest.raises(ValidationFailed) as exc:
        change(org.rep3, customer, "lost", reason="competitor")
    assert "approver" in exc.value.fields
    assert not Approval.objects.exists() and fresh(customer).status == "deal"


def test_an_inactive_supervisor_is_skipped(org):
    org.manager.is_active = False
    org.manager.save()
    org.rep1.refresh_from_db()
    assert approvers_by_rule(owner=org.rep1, module="customers") == []


def test_a_pending_request_blocks_a_second_one_and_any_other_status_change(org):
    customer = deal_customer(org)
    _c, first = change(org.rep1, customer, "lost", reason="competitor")
    with pytest.raises(ConflictError) as exc:
        change(org.rep1, customer, "lost", reason="other")
    assert exc.value.extra["approval_id"] == first.pk
    with pytest.raises(ConflictError):
        change(org.rep1, customer, "loyal")
    assert Approval.objects.count() == 1


def test_approve_applies_the_change_with_both_people_in_the_audit_and_tells_the_requester(org):
    customer = deal_customer(org)
    _c, approval = change(org.rep1, customer, "lost", reason="competitor", note="输给对手")
    approval_approve(actor=org.manager, approval=approval, comment="同意")
    approval.refresh_from_db()
    assert approval.state == "approved" and approval.decided_by_id == org.manager.pk
    assert approval.comment == "同意" and approval.decided_at is not None
    after = fresh(customer)
    assert (after.status, after.lost_reason, after.lost_note) == ("lost", "competitor", "输给对手")
    entry = customer_audit(customer).latest("id")
    assert entry.actor_id == org.manager.pk
    approval_change = next(c for c in entry.changes if c["field"] == "approval")
    assert "李明" in approval_change["after"] and "王经理" in approval_change["after"]
    note = Notification.objects.get(recipient=org.rep1, kind="approval_approved")
    assert note.link == f"/approvals/{approval.pk}/"
    events = list(
        TimelineEntry.objects.filter(customer_id=customer.pk, kind="approval")
        .order_by("id")
        .values_list("data__event", "actor_id")
    )
    assert events == [("requested", org.rep1.pk), ("approved", org.manager.pk)]
    assert approvals_pending_count(user=org.manager) == 0


def test_reject_needs_a_comment_and_leaves_the_customer_alone(org):
    customer = deal_customer(org)
    _c, approval = change(org.rep1, customer, "lost", reason="competitor")
    with pytest.raises(ValidationFailed):
        approval_reject(actor=org.manager, approval=approval, comment=" ")
    approval_reject(actor=org.manager, approval=approval, comment="再争取一下")
    approval.refresh_from_db()
    assert approval.state == "rejected" and fresh(customer).status == "deal"
    assert Notification.objects.filter(recipient=org.rep1, kind="approval_rejected").exists()
    # after a decision a new request may be made
    _c, again = change(org.rep1, customer, "lost", reason="competitor")
    assert again is not None and again.pk != approval.pk


def test_only_an_approver_decides_and_a_decided_request_is_409(org):
    customer = deal_customer(org)
    _c, approval = change(org.rep1, customer, "lost", reason="competitor")
    for outsider in (org.rep1, org.rep2, org.manager2, org.admin):
        with pytest.raises(PermissionDeniedError):
            approval_approve(actor=outsider, approval=approval)
        with pytest.raises(PermissionDeniedError):
            approval_reject(actor=outsider, approval=approval, comment="不行")
    approval_approve(actor=org.manager, approval=approval)
    with pytest.raises(ConflictError):
        approval_approve(actor=org.manager, approval=approval)
    with pytest.raises(ConflictError):
        approval_reject(actor=org.manager, approval=approval, comment="晚了")
    with pytest.raises(ConflictError):
        approval_withdraw(actor=org.rep1, approval=approval)


def test_the_requester_withdraws_and_nobody_else_may(org):
    customer = deal_customer(org)
    _c, approval = change(org.rep1, customer, "lost", reason="competitor")
    with pytest.raises(PermissionDeniedError):
        approval_withdraw(actor=org.manager, approval=approval)
    approval_withdraw(actor=org.rep1, approval=approval)
    approval.refresh_from_db()
    assert approval.state == "withdrawn" and approval.decided_by_id == org.rep1.pk
    assert fresh(customer).status == "deal"
    with pytest.raises(ConflictError):
        approval_approve(actor=org.manager, approval=approval)
    # the withdrawn request no longer blocks a new one
    _c, again = change(org.rep1, customer, "lost", reason="other")
    assert again is not None


def test_a_stale_request_cannot_be_applied_and_stays_pending(org):
    customer = deal_customer(org)
    _c, approval = change(org.rep1, customer, "lost", reason="competitor")
    # meanwhile the status moves on (e.g. a won deal cannot move it; an administrator's fix)
    Customer.objects.filter(pk=customer.pk).update(status="loyal")
    with pytest.raises(ConflictError) as exc:
        approval_approve(actor=org.manager, approval=approval)
    assert exc.value.code == "apply_failed"
    approval.refresh_from_db()
    assert approval.state == "pending" and fresh(customer).status == "loyal"
    # a deleted customer cannot be applied either
    Customer.objects.filter(pk=customer.pk).update(status="deal")
    from crm.customers.services import customer_delete

    customer_delete(actor=org.manager, customer=fresh(customer))
    with pytest.raises(ConflictError) as exc:
        approval_approve(actor=org.manager, approval=approval)
    assert exc.value.code == "apply_failed"


def test_who_sees_an_approval(org):
    customer = deal_customer(org)
    _c, approval = change(org.rep1, customer, "lost", reason="competitor")
    seen = {
        name: approvals_visible_to(getattr(org, name)).filter(pk=approval.pk).exists()
        for name in ("admin", "manager", "rep1", "rep2", "manager2", "rep3", "service", "exec")
    }
    assert seen == {
        "admin": True,  # every customer
        "manager": True,  # the approver (and the customer's team)
        "rep1": True,  # the requester
        "rep2": False,
        "manager2": False,
        "rep3": False,
        "service": True,  # sees every customer
        "exec": True,
    }
