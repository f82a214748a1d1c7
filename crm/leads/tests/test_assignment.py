"""Lead assignment (LEAD-4): manual single and bulk, and the ordered automatic rules."""

from __future__ import annotations

import pytest

from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.scope import users_who_could_own
from crm.leads.assignment import (
    RulePicker,
    lead_assign,
    lead_assign_by_rules,
    leads_assign_bulk,
)
from crm.leads.models import AssignmentRule, Lead, WebForm
from crm.leads.signals import lead_created
from crm.notify.models import Notification
from crm.tests_support.factories import DepartmentFactory, UserFactory
from crm.tests_support.lead_rules import lead_row_make, rule_make
from crm.tests_support.leads import lead_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(org):
    """A team of three reps (ids in creation order) besides the org's teams."""
    dept = DepartmentFactory(name="电销组")
    reps = [
        UserFactory(username=f"tele{i}", department=dept, roles=["sales_rep"]) for i in range(3)
    ]
    return dept, reps


def _owner(lead: Lead):
    lead.refresh_from_db()
    return lead.owner


# --- who could own ----------------------------------------------------------------------------


def test_users_who_could_own_are_active_users_whose_roles_work_leads(org):
    ids = set(users_who_could_own(module="leads").values_list("username", flat=True))
    assert {"admin", "manager", "rep1", "rep2", "manager2", "rep3"} <= ids
    # Read-only roles and roles without leads are never owners.
    assert not ids & {"service", "finance", "exec"}
    org.rep2.is_active = False
    org.rep2.save()
    assert not users_who_could_own(module="leads").filter(pk=org.rep2.pk).exists()


# --- manual -----------------------------------------------------------------------------------


def test_assign_sets_owner_time_audit_and_notifies_the_new_owner(org):
    lead = lead_make()
    lead_assign(actor=org.manager, lead=lead, owner=org.rep1)
    lead.refresh_from_db()
    assert lead.owner == org.rep1
    assert lead.assigned_at is not None
    assert lead.version == 2
    entry = AuditEntry.objects.filter(object_id=lead.pk, action="transfer").get()
    assert entry.changes[0]["after"] == org.rep1.display_name
    note = Notification.objects.get(recipient=org.rep1)
    assert lead.number in note.text and note.kind == "lead_assigned"


def test_assign_needs_the_assign_permission(org):
    lead = lead_make(owner=org.rep1)
    with pytest.raises(PermissionDeniedError):
        lead_assign(actor=org.rep1, lead=lead, owner=org.rep2)


def test_assign_refuses_a_deactivated_or_read_only_owner(org):
    lead = lead_make()
    org.rep2.is_active = False
    org.rep2.save()
    for who in (org.rep2, org.service, org.finance, 999999, "x"):
        with pytest.raises(ValidationFailed) as exc:
            lead_assign(actor=org.admin, lead=lead, owner=who)
        assert "owner_id" in exc.value.fields
    assert _owner(lead) is None


def test_assign_outside_the_actors_scope_is_not_found(org):
    lead = lead_make(owner=org.rep3)  # 销售二部: not the manager of 销售一部's
    with pytest.raises(NotFoundError):
        lead_assign(actor=org.manager, lead=lead, owner=org.rep1)


def test_a_converted_lead_cannot_be_reassigned(org):
    lead = lead_row_make(owner=org.rep1, status="converted")
    with pytest.raises(ConflictError):
        lead_assign(actor=org.admin, lead=lead, owner=org.rep2)


def test_bulk_assign_counts_and_leaves_the_others_alone(org):
    mine = [lead_row_make(owner=org.rep1) for _ in range(2)]
    unassigned = [lead_row_make() for _ in range(2)]
    already = lead_row_make(owner=org.rep2)
    other_team = lead_row_make(owner=org.rep3)
    converted = lead_row_make(owner=org.rep1, status="converted")
    ids = [x.pk for x in [*mine, *unassigned, already, other_team, converted]] + [987654]
    result = leads_assign_bulk(actor=org.manager, lead_ids=ids, owner=org.rep2.pk)
    assert result.counts() == {"assigned": 4, "skipped": 4}
    assert set(Lead.objects.filter(owner=org.rep2).values_list("pk", flat=True)) == {
        *(x.pk for x in [*mine, *unassigned]),
        already.pk,
    }
    assert _owner(other_team) == org.rep3
    assert AuditEntry.objects.filter(action="transfer").count() == 4
    # One notice for the four, not four.
    assert Notification.objects.filter(recipient=org.rep2).count() == 1


def test_bulk_assign_refuses_bad_input(org):
    for ids in ([], "1", [True], ["a"]):
        with pytest.raises(ValidationFailed) as exc:
            leads_assign_bulk(actor=org.admin, lead_ids=ids, owner=org.rep1)
        assert "lead_ids" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        leads_assign_bulk(actor=org.admin, lead_ids=[1], owner=org.finance)
    assert "owner_id" in exc.value.fields
    with pytest.raises(PermissionDeniedError):
        leads_assign_bulk(actor=org.rep1, lead_ids=[1], owner=org.rep1)


@pytest.mark.parametrize("by_rules", [False, True])
def test_bulk_assign_costs_the_same_queries_for_5_or_40_leads(org, team, by_rules):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dept, _reps = team
    rule_make(match_grade="A", user=org.rep1)
    rule_make(department=dept)
    counts = []
    for n in (1, 5, 40):  # the first warms the process caches (content types, settings)
        leads = [lead_row_make(grade="A" if i % 2 else "B") for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            result = leads_assign_bulk(
                actor=org.admin,
                lead_ids=[x.pk for x in leads],
                owner=None if by_rules else org.rep2,
            )
        assert len(result.assigned) == n
        counts.append(len(ctx.captured_queries))
    assert counts[1] == counts[2], counts
    assert counts[2] <= 25  # one notice (3 statements) per new owner: four of them


# --- rules ------------------------------------------------------------------------------------


def test_rules_match_source_region_and_grade_blank_is_any(org):
    rule_make(match_source="trade_show", match_region="east", match_grade="A", user=org.rep1)
    rule_make(match_source="referral", user=org.rep2)
    rule_make(match_region="south", user=org.rep3)
    rule_make(match_grade="C", user=org.manager)
    cases = [
        (dict(source="trade_show", region="east", grade="A"), org.rep1),
        (dict(source="trade_show", region="east", grade="B"), None),  # grade differs
        (dict(source="referral", region="north", grade="B"), org.rep2),
        (dict(source="search", region="south", grade="A"), org.rep3),
        (dict(source="search", region="north", grade="C"), org.manager),
        (dict(source="search", region="north", grade="B"), None),
    ]
    for fields, expected in cases:
        lead = lead_row_make(**fields)
        assert lead_assign_by_rules(lead=lead) == expected, fields
        assert _owner(lead) == expected


def test_rules_are_tried_in_position_order(org):
    second = rule_make(match_grade="A", user=org.rep2, position=20)
    rule_make(match_source="trade_show", user=org.rep1, position=10)
    lead = lead_row_make(grade="A", source="trade_show")
    assert lead_assign_by_rules(lead=lead) == org.rep1
    second.position = 5
    second.save()
    lead = lead_row_make(grade="A", source="trade_show")
    assert lead_assign_by_rules(lead=lead) == org.rep2


def test_inactive_rules_are_not_used(org):
    rule_make(match_grade="A", user=org.rep2, is_active=False)
    rule_make(user=org.rep1)
    assert lead_assign_by_rules(lead=lead_row_make(grade="A")) == org.rep1


def test_a_rule_without_condition_is_the_fallback_tried_last(org):
    rule_make(user=org.manager, position=1)  # first in the list, yet the fallback
    rule_make(match_grade="A", user=org.rep1, position=2)
    assert lead_assign_by_rules(lead=lead_row_make(grade="A")) == org.rep1
    assert lead_assign_by_rules(lead=lead_row_make(grade="C")) == org.manager


def test_no_rule_leaves_the_lead_unassigned(org):
    lead = lead_row_make()
    assert lead_assign_by_rules(lead=lead) is None
    assert _owner(lead) is None


def test_a_deactivated_target_user_is_skipped(org):
    rule_make(match_grade="A", user=org.rep2)
    rule_make(user=org.rep1)
    org.rep2.is_active = False
    org.rep2.save()
    assert lead_assign_by_rules(lead=lead_row_make(grade="A")) == org.rep1


def test_round_robin_rotates_among_the_team_and_skips_deactivated_members(org, team):
    dept, reps = team
    rule = rule_make(department=dept)
    got = [lead_assign_by_rules(lead=lead_row_make()) for _ in range(4)]
    assert got == [reps[0], reps[1], reps[2], reps[0]]
    rule.refresh_from_db()
    assert rule.last_user == reps[0]
    reps[1].is_active = False
    reps[1].save()
    got = [lead_assign_by_rules(lead=lead_row_make()) for _ in range(3)]
    assert got == [reps[2], reps[0], reps[2]]


def test_round_robin_skips_members_who_may_not_own_leads(org, team):
    dept, reps = team
    clerk = UserFactory(username="clerk", department=dept, roles=["finance"])
    rule_make(department=dept)
    got = {lead_assign_by_rules(lead=lead_row_make()) for _ in range(6)}
    assert clerk not in got and got == set(reps)


def test_a_team_without_active_members_falls_through_to_the_next_rule(org, team):
    dept, reps = team
    for rep in reps:
        rep.is_active = False
        rep.save()
    rule_make(match_grade="B", department=dept)
    rule_make(user=org.rep1)
    assert lead_assign_by_rules(lead=lead_row_make(grade="B")) == org.rep1


def test_bulk_by_rules_rotates_like_one_by_one(org, team):
    dept, reps = team
    rule = rule_make(department=dept)
    leads = [lead_row_make() for _ in range(5)]
    result = leads_assign_bulk(actor=org.admin, lead_ids=[x.pk for x in leads])
    assert result.counts() == {"assigned": 5, "skipped": 0}
    assert [_owner(x) for x in leads] == [reps[0], reps[1], reps[2], reps[0], reps[1]]
    rule.refresh_from_db()
    assert rule.last_user == reps[1]
    # One notice per new owner.
    assert Notification.objects.filter(recipient=reps[0]).count() == 1


def test_bulk_by_rules_skips_leads_no_rule_matches(org):
    rule_make(match_grade="A", user=org.rep1)
    a, b = lead_row_make(grade="A"), lead_row_make(grade="B")
    result = leads_assign_bulk(actor=org.admin, lead_ids=[a.pk, b.pk])
    assert result.assigned == [a.pk] and result.skipped == [b.pk]


def test_the_web_forms_own_rule_comes_first(org):
    own = rule_make(match_grade="C", user=org.rep3, position=50)  # its condition is ignored
    rule_make(match_grade="A", user=org.rep1, position=10)
    form = WebForm.objects.create(key="expo", name="展会报名", assignment_rule=own)
    lead = lead_row_make(grade="A", web_form=form)
    assert lead_assign_by_rules(lead=lead) == org.rep3
    # Without the form, the ordered rules decide.
    assert lead_assign_by_rules(lead=lead_row_make(grade="A")) == org.rep1


def test_an_inactive_or_empty_form_rule_falls_back_to_the_ordered_rules(org):
    own = rule_make(user=org.rep3, is_active=False)
    rule_make(match_grade="A", user=org.rep1)
    form = WebForm.objects.create(key="expo2", name="展会报名", assignment_rule=own)
    assert lead_assign_by_rules(lead=lead_row_make(grade="A", web_form=form)) == org.rep1


def test_picker_reads_four_queries_for_any_number_of_rules(org, team, django_assert_num_queries):
    dept, _reps = team
    for grade in "ABC":
        rule_make(match_grade=grade, user=org.rep1)
        rule_make(match_grade=grade, department=dept)
    with django_assert_num_queries(4):
        picker = RulePicker()
    assert len(picker.rules) == 6


# --- on creation ------------------------------------------------------------------------------


def test_a_new_unassigned_lead_is_assigned_when_created(org):
    rule_make(user=org.rep2)
    lead = lead_make()  # as from a public web form: no actor, no owner
    assert lead.owner == org.rep2
    assert lead.assigned_at is not None
    entry = AuditEntry.objects.filter(object_id=lead.pk, action="transfer").get()
    assert entry.actor is None
    assert Notification.objects.filter(recipient=org.rep2, kind="lead_assigned").count() == 1


def test_a_lead_from_a_web_form_goes_by_the_forms_rule(org):
    own = rule_make(match_grade="C", user=org.rep3, position=50)
    rule_make(user=org.rep1)
    form = WebForm.objects.create(key="site", name="官网", assignment_rule=own)
    assert lead_make(web_form=form, grade="A").owner == org.rep3
    assert lead_make(grade="A").owner == org.rep1


def test_a_lead_an_assigner_creates_without_owner_goes_by_the_rules(org):
    rule_make(user=org.rep2)
    assert lead_make(actor=org.manager).owner == org.rep2


def test_a_new_lead_with_an_owner_keeps_it(org):
    rule_make(user=org.rep2)
    lead = lead_make(owner=org.rep1)
    assert lead.owner == org.rep1
    lead_created.send(sender=Lead, lead=lead, actor=org.rep1, web_form=None)
    assert _owner(lead) == org.rep1


def test_rule_targets_kinds():
    assert {c for c, _l in AssignmentRule.Target.choices} == {"user", "round_robin"}


def test_bulk_by_rules_keeps_active_owners_and_rescues_a_deactivated_owners_leads(org):
    rule_make(user=org.rep2)
    worked = lead_row_make(owner=org.rep1)
    orphan = lead_row_make(owner=org.rep3)
    org.rep3.is_active = False
    org.rep3.save()
    result = leads_assign_bulk(actor=org.admin, lead_ids=[worked.pk, orphan.pk])
    assert result.assigned == [orphan.pk] and result.skipped == [worked.pk]
    assert _owner(worked) == org.rep1 and _owner(orphan) == org.rep2
