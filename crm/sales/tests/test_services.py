"""Services of the pipeline: stages (Settings) and opportunities (OPP-1..5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry, TimelineEntry
from crm.customers.models import Customer
from crm.sales.models import Milestone, Opportunity, PipelineTotal, Stage, StageChange
from crm.sales.services import (
    milestone_create,
    opportunities_purge_expired,
    opportunities_transfer_all,
    opportunity_close_lost,
    opportunity_close_won,
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
    opportunity_reopen,
    opportunity_restore,
    opportunity_transfer,
    opportunity_update,
    pipeline_totals_rebuild,
    stage_create,
    stage_delete,
    stage_reactivate,
    stage_retire,
    stage_update,
    stages_reorder,
)
from crm.sales.stages import stage_first, stages_all
from crm.tests_support.factories import customer_make
from crm.tests_support.sales import opportunity_make, stage

pytestmark = pytest.mark.django_db


def _totals() -> dict[tuple[int, int, int], tuple[int, Decimal, Decimal]]:
    return {
        (t.owner_id, t.stage_id, t.close_month): (t.count, t.amount, t.weighted_amount)
        for t in PipelineTotal.objects.exclude(count=0)
    }


def _rebuilt_equals_running() -> bool:
    running = _totals()
    pipeline_totals_rebuild()
    return running == _totals()


# --- create -----------------------------------------------------------------------------------


def test_create_starts_at_the_first_open_stage_numbered_with_history_audit_and_timeline(org):
    # given a customer of rep1
    customer = customer_make(owner=org.rep1)
    # when rep1 creates an opportunity without an owner or probability
    opp = opportunity_create(
        actor=org.rep1,
        data={
            "customer_id": customer.pk,
            "name": "A公司2024年Q1办公设备采购",
            "amount": "120,000",
            "expected_close_date": "2027-03-31",
            "source": "website",
        },
    )
    # then it is rep1's, at 初步接触 with its probability, numbered SJ+yyyymm+0001
    assert opp.owner == org.rep1
    assert opp.stage.code == "initial" and opp.probability == 10 and not opp.probability_manual
    assert opp.status == "open"
    assert opp.number.startswith("SJ") and opp.number.endswith("0001") and len(opp.number) == 12
    assert opp.amount == Decimal("120000.00")
    assert opp.pinyin == "ags2024nq1bgsbcg"
    # and the first stage change (from nothing), the audit entry and a timeline line exist
    change = StageChange.objects.get(opportunity=opp)
    assert change.from_stage is None and change.to_stage.code == "initial"
    assert AuditEntry.objects.filter(object_id=opp.pk, action="create").exists()
    line = TimelineEntry.objects.get(object_type="opportunity", object_id=opp.pk)
    assert line.kind == "opportunity_created" and line.customer_id == customer.pk
    assert line.owner_id == org.rep1.pk
    # and the pipeline totals count it in its month
    assert _totals() == {
        (org.rep1.pk, opp.stage_id, 202703): (1, Decimal("120000.00"), Decimal("12000.00"))
    }


def test_create_validates_every_field_at_once(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_create(
            actor=org.rep1,
            data={
                "customer_id": customer.pk,
                "name": "",
                "amount": "-1",
                "expected_close_date": "2027-02-30",
                "probability": "101",
                "source": "nope",
                "competitors": "x" * 2001,
            },
        )
    assert set(exc.value.fields) == {
        "name",
        "amount",
        "expected_close_date",
        "probability",
        "source",
        "competitors",
    }
    assert not Opportunity.objects.exists()


def test_create_refuses_a_customer_outside_the_scope_and_a_foreign_contact(org):
    mine = customer_make(owner=org.rep1)
    theirs = customer_make(owner=org.rep3)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_create(actor=org.rep1, data={"customer_id": theirs.pk, "name": "x"})
    assert "customer_id" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        opportunity_create(
            actor=org.rep1,
            data={
                "customer_id": mine.pk,
                "name": "x",
                "contact_id": theirs.contacts.first().pk,
            },
        )
    assert "contact_id" in exc.value.fields


def test_a_rep_cannot_give_the_opportunity_to_someone_else_a_manager_can(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_create(
            actor=org.rep1, data={"customer_id": customer.pk, "name": "x", "owner_id": org.rep2.pk}
        )
    assert "owner_id" in exc.value.fields
    opp = opportunity_create(
        actor=org.manager, data={"customer_id": customer.pk, "name": "x", "owner_id": org.rep1.pk}
    )
    assert opp.owner == org.rep1


def test_service_cannot_create(org):
    customer = customer_make(owner=org.rep1)
    with pytest.raises(PermissionDeniedError):
        opportunity_create(actor=org.service, data={"customer_id": customer.pk, "name": "x"})


def test_a_manual_probability_stays_when_the_stage_changes(org):
    opp = opportunity_make(owner=org.rep1, probability=35)
    assert opp.probability == 35 and opp.probability_manual
    opp = opportunity_move_stage(
        actor=org.rep1, opportunity=opp, stage=stage("proposal"), version=opp.version
    )
    assert opp.probability == 35


# --- update -----------------------------------------------------------------------------------


def test_update_audits_the_diff_and_refuses_a_stale_version(org):
    opp = opportunity_make(owner=org.rep1, amount="1000")
    opp = opportunity_update(
        actor=org.rep1,
        opportunity=opp,
        data={"amount": "2500.50", "name": "新名字"},
        version=opp.version,
    )
    assert opp.amount == Decimal("2500.50") and opp.version == 2 and opp.pinyin == "xmz"
    entry = AuditEntry.objects.filter(object_id=opp.pk, action="update").latest("id")
    assert {c["field"] for c in entry.changes} == {"amount", "name"}
    with pytest.raises(ConflictError):
        opportunity_update(actor=org.rep1, opportunity=opp, data={"name": "y"}, version=1)
    assert _rebuilt_equals_running()


def test_update_cannot_change_stage_or_status(org):
    opp = opportunity_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_update(
            actor=org.rep1,
            opportunity=opp,
            data={"stage_id": stage("proposal").pk, "status": "won"},
            version=opp.version,
        )
    assert set(exc.value.fields) == {"stage_id", "status"}


def test_changing_the_owner_needs_the_transfer_permission(org):
    opp = opportunity_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_update(
            actor=org.rep1, opportunity=opp, data={"owner_id": org.rep2.pk}, version=opp.version
        )
    assert "owner_id" in exc.value.fields
    opp = opportunity_update(
        actor=org.manager, opportunity=opp, data={"owner_id": org.rep2.pk}, version=opp.version
    )
    assert opp.owner == org.rep2
    assert set(
        TimelineEntry.objects.filter(object_type="opportunity", object_id=opp.pk).values_list(
            "owner_id", flat=True
        )
    ) == {org.rep2.pk}
    assert _rebuilt_equals_running()


def test_clearing_the_probability_goes_back_to_the_stage(org):
    opp = opportunity_make(owner=org.rep1, probability=80)
    opp = opportunity_update(
        actor=org.rep1, opportunity=opp, data={"probability": None}, version=opp.version
    )
    assert opp.probability == 10 and not opp.probability_manual


def test_outside_the_scope_is_not_found(org):
    opp = opportunity_make(owner=org.rep3)
    with pytest.raises(NotFoundError):
        opportunity_update(actor=org.rep1, opportunity=opp, data={"name": "x"}, version=1)


# --- stage moves ------------------------------------------------------------------------------


def test_move_records_the_time_in_the_previous_stage_and_the_new_probability(org):
    opp = opportunity_make(owner=org.rep1)
    Opportunity.objects.filter(pk=opp.pk).update(
        stage_entered_at=timezone.now() - dt.timedelta(hours=2)
    )
    opp.refresh_from_db()
    opp = opportunity_move_stage(
        actor=org.rep1, opportunity=opp, stage=stage("proposal"), version=opp.version
    )
    assert opp.stage.code == "proposal" and opp.probability == 50
    change = StageChange.objects.filter(opportunity=opp).latest("id")
    assert change.from_stage.code == "initial" and change.actor == org.rep1
    assert 7190 <= change.seconds_in_previous <= 7300
    assert TimelineEntry.objects.filter(
        object_type="opportunity", object_id=opp.pk, kind="stage_change"
    ).exists()
    assert _rebuilt_equals_running()


@pytest.mark.parametrize("code", ["contract", "paid", "lost"])
def test_an_open_opportunity_cannot_be_moved_to_a_closed_stage(org, code):
    opp = opportunity_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_move_stage(
            actor=org.rep1, opportunity=opp, stage=stage(code), version=opp.version
        )
    assert "stage_id" in exc.value.fields


def test_a_retired_stage_takes_nothing_new(org):
    opp = opportunity_make(owner=org.rep1)
    stage_retire(actor=org.admin, stage=stage("needs"))
    with pytest.raises(ValidationFailed) as exc:
        opportunity_move_stage(
            actor=org.rep1, opportunity=opp, stage=stage("needs"), version=opp.version
        )
    assert "stage_id" in exc.value.fields


def test_a_stale_move_is_a_conflict(org):
    opp = opportunity_make(owner=org.rep1)
    opportunity_move_stage(actor=org.rep1, opportunity=opp, stage=stage("needs"), version=1)
    with pytest.raises(ConflictError):
        opportunity_move_stage(actor=org.rep1, opportunity=opp, stage=stage("proposal"), version=1)


# --- win, loss, reopen ------------------------------------------------------------------------


def test_win_needs_contract_and_amount(org):
    opp = opportunity_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_close_won(
            actor=org.rep1, opportunity=opp, contract_no="", actual_amount=None, version=1
        )
    assert set(exc.value.fields) == {"contract_no", "actual_amount"}
    with pytest.raises(ValidationFailed) as exc:
        opportunity_close_won(
            actor=org.rep1,
            opportunity=opp,
            contract_no="HT-1",
            actual_amount="1",
            closed_on=timezone.localdate() + dt.timedelta(days=1),
            version=1,
        )
    assert set(exc.value.fields) == {"closed_on"}


def test_win_lands_on_the_first_won_stage_and_moves_the_customer_to_deal(org):
    customer = customer_make(owner=org.rep1, status="intent")
    opp = opportunity_make(owner=org.rep1, customer=customer)
    opp = opportunity_close_won(
        actor=org.rep1,
        opportunity=opp,
        contract_no="HT-2027-001",
        actual_amount="118000",
        version=opp.version,
    )
    assert opp.status == "won" and opp.stage.code == "contract"
    assert opp.actual_amount == Decimal("118000.00") and opp.closed_on == timezone.localdate()
    customer.refresh_from_db()
    assert customer.status == "deal" and customer.version == 2
    entry = AuditEntry.objects.filter(object_id=customer.pk, action="update").latest("id")
    assert entry.changes[0]["field"] == "status"
    assert TimelineEntry.objects.filter(
        object_type="opportunity", object_id=opp.pk, kind="won"
    ).exists()
    assert not _totals()
    # won -> won (回款完成) is allowed; won -> open is not
    opp = opportunity_move_stage(
        actor=org.rep1, opportunity=opp, stage=stage("paid"), version=opp.version
    )
    assert opp.stage.code == "paid"
    with pytest.raises(ValidationFailed):
        opportunity_move_stage(
            actor=org.rep1, opportunity=opp, stage=stage("needs"), version=opp.version
        )
    # winning again is a conflict
    with pytest.raises(ConflictError):
        opportunity_close_won(
            actor=org.rep1, opportunity=opp, contract_no="x", actual_amount=1, version=opp.version
        )


def test_win_leaves_a_later_lifecycle_status_alone(org):
    customer = customer_make(owner=org.rep1, status="loyal")
    opp = opportunity_make(owner=org.rep1, customer=customer)
    opportunity_close_won(
        actor=org.rep1, opportunity=opp, contract_no="HT", actual_amount=1, version=1
    )
    assert Customer.objects.get(pk=customer.pk).status == "loyal"


def test_lose_needs_a_reason_from_the_list(org):
    opp = opportunity_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        opportunity_close_lost(actor=org.rep1, opportunity=opp, lost_reason="", version=1)
    assert set(exc.value.fields) == {"lost_reason"}
    with pytest.raises(ValidationFailed):
        opportunity_close_lost(actor=org.rep1, opportunity=opp, lost_reason="zzz", version=1)
    opp = opportunity_close_lost(
        actor=org.rep1, opportunity=opp, lost_reason="budget", lost_note="明年再说", version=1
    )
    assert opp.status == "lost" and opp.stage.code == "lost" and opp.lost_note == "明年再说"
    assert not _totals()


def test_reopen_goes_back_to_the_stage_before_closing_and_clears_the_closing_fields(org):
    opp = opportunity_make(owner=org.rep1)
    opp = opportunity_move_stage(
        actor=org.rep1, opportunity=opp, stage=stage("negotiation"), version=1
    )
    opp = opportunity_close_lost(
        actor=org.rep1, opportunity=opp, lost_reason="budget", version=opp.version
    )
    opp = opportunity_reopen(actor=org.rep1, opportunity=opp, version=opp.version)
    assert opp.status == "open" and opp.stage.code == "negotiation" and opp.probability == 70
    assert opp.lost_reason == "" and opp.closed_on is None
    assert TimelineEntry.objects.filter(
        object_type="opportunity", object_id=opp.pk, kind="reopened"
    ).exists()
    assert _rebuilt_equals_running() and _totals()
    with pytest.raises(ConflictError):
        opportunity_reopen(actor=org.rep1, opportunity=opp, version=opp.version)


def test_reopen_falls_back_to_the_first_open_stage_when_the_last_one_is_retired(org):
    opp = opportunity_make(owner=org.rep1)
    opp = opportunity_move_stage(actor=org.rep1, opportunity=opp, stage=stage("needs"), version=1)
    opp = opportunity_close_won(
        actor=org.rep1, opportunity=opp, contract_no="1", actual_amount=1, version=opp.version
    )
    stage_retire(actor=org.admin, stage=stage("needs"))
    opp = opportunity_reopen(actor=org.rep1, opportunity=opp, version=opp.version)
    assert opp.stage.code == "initial" and opp.contract_no == "" and opp.actual_amount is None


# --- recycle bin, transfer, purge -------------------------------------------------------------


def test_delete_and_restore_are_versioned_and_move_the_totals(org):
    opp = opportunity_make(owner=org.manager, customer=customer_make(owner=org.manager))
    opportunity_delete(actor=org.manager, opportunity=opp, version=1)
    assert not _totals()
    with pytest.raises(ConflictError):
        opportunity_delete(actor=org.manager, opportunity=opp, version=1)
    with pytest.raises(ConflictError):
        opportunity_update(actor=org.manager, opportunity=opp, data={"name": "x"}, version=2)
    opportunity_restore(actor=org.manager, opportunity=opp, version=2)
    assert _totals() and _rebuilt_equals_running()
    with pytest.raises(PermissionDeniedError):
        opportunity_delete(actor=org.rep1, opportunity=opp)


def test_purge_removes_only_the_expired(org):
    old = opportunity_make(owner=org.manager, customer=customer_make(owner=org.manager))
    new = opportunity_make(owner=org.manager, customer=customer_make(owner=org.manager))
    opportunity_delete(actor=org.manager, opportunity=old)
    opportunity_delete(actor=org.manager, opportunity=new)
    Opportunity.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - dt.timedelta(days=31))
    assert opportunities_purge_expired(now=timezone.now()) == 1
    assert opportunities_purge_expired(now=timezone.now()) == 0
    assert list(Opportunity.objects.values_list("pk", flat=True)) == [new.pk]


def test_transfer_one_and_all(org):
    opp = opportunity_make(owner=org.rep1)
    other = opportunity_make(owner=org.rep1, expected_close_date="2027-05-01")
    with pytest.raises(PermissionDeniedError):
        opportunity_transfer(actor=org.rep1, opportunity=opp, to_user=org.rep2)
    opportunity_transfer(actor=org.manager, opportunity=opp, to_user=org.rep2)
    assert Opportunity.objects.get(pk=opp.pk).owner == org.rep2
    assert _rebuilt_equals_running()
    assert opportunities_transfer_all(from_user=org.rep1, to_user=org.rep2, actor=org.admin) == 1
    assert Opportunity.objects.get(pk=other.pk).owner == org.rep2
    assert (
        TimelineEntry.objects.get(object_type="opportunity", object_id=other.pk).owner_id
        == org.rep2.pk
    )
    assert _rebuilt_equals_running()


# --- milestones -------------------------------------------------------------------------------


def test_milestone_is_dated_not_in_the_future_and_on_the_timeline(org):
    opp = opportunity_make(owner=org.rep1)
    with pytest.raises(ValidationFailed) as exc:
        milestone_create(
            actor=org.rep1,
            opportunity=opp,
            kind="nope",
            occurred_on=timezone.localdate() + dt.timedelta(days=1),
        )
    assert set(exc.value.fields) == {"kind", "occurred_on"}
    milestone_create(
        actor=org.rep1,
        opportunity=opp,
        kind="contract_submitted",
        occurred_on=timezone.localdate(),
        note="已寄出",
    )
    assert Milestone.objects.get(opportunity=opp).note == "已寄出"
    assert TimelineEntry.objects.filter(
        object_type="opportunity", object_id=opp.pk, kind="milestone"
    ).exists()


# --- stages -----------------------------------------------------------------------------------


def test_stage_admin_create_update_reorder_retire(org):
    with pytest.raises(PermissionDeniedError):
        stage_create(actor=org.manager, data={"name": "x", "probability": 1})
    with pytest.raises(ValidationFailed) as exc:
        stage_create(actor=org.admin, data={"name": "", "probability": "101", "kind": "zzz"})
    assert set(exc.value.fields) == {"name", "probability", "kind"}
    new = stage_create(
        actor=org.admin,
        data={"name": "技术验证", "name_en": "Proof of concept", "probability": 60},
    )
    assert new.code == "proof-of-concept" and new.kind == "open"
    assert "技术验证" in [s.name for s in stages_all()]  # the cache follows at once
    ids = [s.pk for s in Stage.objects.order_by("position")]
    ids.remove(new.pk)
    ids.insert(3, new.pk)
    stages_reorder(actor=org.admin, ordered_ids=ids)
    assert [s.id for s in stages_all()] == ids
    with pytest.raises(ValidationFailed):
        stages_reorder(actor=org.admin, ordered_ids=ids[:-1])
    stage_retire(actor=org.admin, stage=new)
    assert stage_first("open").code == "initial"
    stage_reactivate(actor=org.admin, stage=new)
    assert Stage.objects.get(pk=new.pk).is_active


def test_a_new_stage_probability_carries_over_to_its_opportunities(org):
    opp = opportunity_make(owner=org.rep1)
    manual = opportunity_make(owner=org.rep1, probability=33)
    stage_update(actor=org.admin, stage=stage("initial"), data={"probability": 15})
    assert Opportunity.objects.get(pk=opp.pk).probability == 15
    assert Opportunity.objects.get(pk=manual.pk).probability == 33
    assert _rebuilt_equals_running()


def test_the_pipeline_keeps_one_active_stage_of_each_kind(org):
    with pytest.raises(ValidationFailed):
        stage_retire(actor=org.admin, stage=stage("lost"))
    stage_retire(actor=org.admin, stage=stage("contract"))
    with pytest.raises(ValidationFailed):
        stage_retire(actor=org.admin, stage=stage("paid"))
    assert stage_first("won").code == "paid"


def test_a_used_stage_cannot_be_deleted_or_change_kind_an_unused_one_can(org):
    opp = opportunity_make(owner=org.rep1)
    opportunity_move_stage(actor=org.rep1, opportunity=opp, stage=stage("needs"), version=1)
    opportunity_move_stage(actor=org.rep1, opportunity=opp, stage=stage("initial"), version=2)
    with pytest.raises(ConflictError) as exc:
        stage_delete(actor=org.admin, stage=stage("needs"))  # only in the history now
    assert "Retire" in str(exc.value.message) or "停用" in str(exc.value.message)
    with pytest.raises(ValidationFailed) as exc:
        stage_update(actor=org.admin, stage=stage("initial"), data={"kind": "won"})
    assert "kind" in exc.value.fields
    stage_delete(actor=org.admin, stage=stage("proposal"))
    assert not Stage.objects.filter(code="proposal").exists()


def test_purging_an_opportunity_removes_its_files_and_keeps_its_follow_ups(
    org, settings, tmp_path, django_capture_on_commit_callbacks
):
    # given a deleted opportunity with a contract file and a follow-up about it
    import datetime as dt

    from django.utils import timezone

    from crm.activities.models import FollowUp
    from crm.core.files import attachment_create
    from crm.core.models import Attachment
    from crm.sales.services import opportunities_purge_expired
    from crm.tests_support.activities import followup_make
    from crm.tests_support.files import pdf_bytes, upload

    settings.MEDIA_ROOT = str(tmp_path)
    opp = opportunity_make(owner=org.rep1)
    file = attachment_create(
        actor=org.rep1,
        object_type="opportunity",
        object_id=opp.pk,
        upload=upload("合同.pdf", pdf_bytes()),
    )
    followup = followup_make(customer=opp.customer, opportunity=opp.pk)
    stored = tmp_path / file.file.name
    assert stored.exists()
    opportunity_delete(actor=org.manager, opportunity=opp)
    # when the recycle bin's retention has passed
    with django_capture_on_commit_callbacks(execute=True):
        opportunities_purge_expired(now=timezone.now() + dt.timedelta(days=31))
    # then the file is gone from the table and the storage, the follow-up stays unlinked
    assert not Attachment.objects.filter(pk=file.pk).exists()
    assert not stored.exists()
    assert FollowUp.objects.get(pk=followup.pk).opportunity_id is None
