"""Who works a lead (LEAD-4; issue 7 §1): manual assignment, single and bulk, and the ordered
automatic rules an administrator keeps in Settings → Lead assignment.

The rules: a lead captured by a web form with its own rule tries that rule first; then the
active rules with a condition (source / region / grade, blank = any) in `position` order; then
the active rules without any condition (the fallback), in `position` order. A rule assigns to
a user (skipped while that user is deactivated or no longer may own leads) or round-robin
among a team's (department's) active members who may own leads; the rule's pointer
`last_user` moves under `select_for_update`, so two leads arriving together go to two people.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.core.audit import audit_record, audit_record_many, diff
from crm.core.dictionaries import dictionary_is_valid, dictionary_label
from crm.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.scope import user_can, users_who_could_own
from crm.core.text import typed_text as _text
from crm.core.validators import ids_clean
from crm.leads.models import AssignmentRule, Lead, LeadGrade, LeadStatus

MODULE = "leads"
BULK_MAX = 500
NOTIFY_KIND = "lead_assigned"


# --- helpers -------------------------------------------------------------------------------


def _require(actor: Any, action: str) -> None:
    if not user_can(actor, MODULE, action):
        raise PermissionDeniedError()


def _owner_refused() -> str:
    return _("Choose an active user whose role lets them work on leads.")


def lead_locked(actor: Any, lead_id: int) -> Lead:
    """The lead's row, locked for this transaction, if `actor` may see it (else 404)."""
    from crm.leads.selectors import leads_any_visible_to

    locked = (
        leads_any_visible_to(actor)
        .select_for_update(of=("self",))
        .filter(pk=lead_id)
        .select_related("owner")
        .first()
    )
    if locked is None:
        raise NotFoundError()
    return locked


def lead_link(lead: Lead) -> str:
    try:
        return reverse("leads:detail", args=[lead.pk])
    except NoReverseMatch:  # the lead pages are not installed (a trimmed test URLconf)
        return f"/leads/{lead.pk}/"


def _owner_get(owner: Any):
    raw = getattr(owner, "pk", owner)
    if isinstance(raw, bool):
        return None
    try:
        pk = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return users_who_could_own(module=MODULE).filter(pk=pk).first()


def _assign_changes(before: Any, after: Any, rule: AssignmentRule | None) -> list[dict]:
    """The owner change as the lead's history reads it; by a rule, the rule is named."""
    text = after.display_name
    if rule is not None:
        text = _("%(user)s (by the rule %(rule)s)") % {
            "user": after.display_name,
            "rule": rule.name,
        }
    return [
        {
            "field": "owner",
            "before": before.display_name if before is not None else "",
            "after": text,
        }
    ]


def _notify(owner: Any, leads: list[Lead], actor: Any) -> None:
    """Tell the new owner (not when they assigned it to themselves)."""
    from crm.notify.services import notification_send

    if not leads or getattr(actor, "pk", None) == owner.pk:
        return
    with translation.override(settings.LANGUAGE_CODE):
        if len(leads) == 1:
            lead = leads[0]
            text = _("Lead %(number)s %(company)s (%(name)s) is assigned to you.") % {
                "number": lead.number,
                "company": lead.company,
                "name": lead.name,
            }
            link = lead_link(lead)
        else:
            text = ngettext(
                "%(count)s lead is assigned to you.",
                "%(count)s leads are assigned to you.",
                len(leads),
            ) % {"count": len(leads)}
            try:
                link = reverse("leads:list") + f"?owner_id={owner.pk}"
            except NoReverseMatch:
                link = ""
    notification_send(recipient=owner, kind=NOTIFY_KIND, text=text, link=link)


def _refuse_closed(lead: Lead) -> None:
    if lead.deleted_at is not None:
        raise ConflictError(_("This lead is in the recycle bin; restore it first."))
    if lead.status == LeadStatus.CONVERTED:
        raise ConflictError(_("This lead is converted; its customer has its own owner."))


def _apply(lead: Lead, owner: Any, actor: Any, now: Any) -> None:
    lead.owner = owner
    lead.assigned_at = now
    lead.version += 1
    lead.updated_by = actor if getattr(actor, "pk", None) else None
    lead.updated_at = now


ASSIGN_FIELDS = ["owner", "assigned_at", "version", "updated_by", "updated_at"]


# --- manual assignment -----------------------------------------------------------------------


@transaction.atomic
def lead_assign(*, actor: Any, lead: Lead, owner: Any) -> Lead:
    """Give one lead to `owner` (a user or an id): an active user whose role lets them work
    on leads. Needs `leads.assign`; audited; the new owner is notified."""
    _require(actor, "assign")
    new_owner = _owner_get(owner)
    if new_owner is None:
        raise ValidationFailed(fields={"owner_id": [_owner_refused()]})
    locked = lead_locked(actor, lead.pk)
    _refuse_closed(locked)
    if locked.owner_id == new_owner.pk:
        return locked
    before = locked.owner
    _apply(locked, new_owner, actor, timezone.now())
    locked.save(update_fields=ASSIGN_FIELDS)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.TRANSFER,
        instance=locked,
        changes=_assign_changes(before, new_owner, None),
    )
    _notify(new_owner, [locked], actor)
    return locked


def _bulk_ids(ids: Any) -> list[int]:
    return ids_clean(
        ids,
        field="lead_ids",
        limit=BULK_MAX,
        empty=_("Select at least one lead."),
        too_many=_("Select at most %(max)s leads at a time."),
    )


@dataclasses.dataclass
class AssignResult:
    """What a bulk assignment did: the leads it gave an owner, and the ones it left alone
    (outside the actor's scope, unknown, deleted, converted, no rule matched, already owned
    by that user, or, by the rules, already worked by an active owner)."""

    assigned: list[int] = dataclasses.field(default_factory=list)
    skipped: list[int] = dataclasses.field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"assigned": len(self.assigned), "skipped": len(self.skipped)}


def assign_summary(result: AssignResult) -> str:
    """The sentence a person reads after a bulk assignment (UI message, API `message`)."""
    text = ngettext(
        "%(count)s lead assigned.", "%(count)s leads assigned.", len(result.assigned)
    ) % {"count": len(result.assigned)}
    if result.skipped:
        text += " " + ngettext(
            "%(count)s selected lead was left as it was (already owned, no rule matched, or not "
            "yours to assign).",
            "%(count)s selected leads were left as they were (already owned, no rule matched, "
            "or not yours to assign).",
            len(result.skipped),
        ) % {"count": len(result.skipped)}
    return text


@transaction.atomic
def leads_assign_bulk(*, actor: Any, lead_ids: Any, owner: Any = None) -> AssignResult:
    """Assign the selected leads to `owner`, or, without one, each unassigned one (or one
    whose owner is deactivated) by the rules. All or nothing; a constant number of queries
    whatever the number of leads (one UPDATE, one INSERT of audit entries, one notification
    per new owner)."""
    _require(actor, "assign")
    wanted = _bulk_ids(lead_ids)
    new_owner = None
    if owner not in (None, ""):
        new_owner = _owner_get(owner)
        if new_owner is None:
            raise ValidationFailed(fields={"owner_id": [_owner_refused()]})
    from crm.leads.selectors import leads_visible_to

    rows = list(
        leads_visible_to(actor)
        .select_for_update(of=("self",))
        .filter(pk__in=wanted)
        .exclude(status=LeadStatus.CONVERTED)
        .select_related("owner", "web_form")
        .order_by("pk")
    )
    picks: list[tuple[Lead, Any, AssignmentRule | None]] = []
    if new_owner is not None:
        picks = [(lead, new_owner, None) for lead in rows if lead.owner_id != new_owner.pk]
    else:
        picker = RulePicker()
        # By the rules, a selection never reshuffles leads someone is working: only those
        # without an owner, or whose owner was deactivated, are given one.
        for lead in rows:
            if lead.owner_id is not None and lead.owner.is_active:
                continue
            picked = picker.pick(lead)
            if picked is not None and picked[1].pk != lead.owner_id:
                picks.append((lead, picked[1], picked[0]))
        picker.save()
    _assign_many(actor, picks)
    done = {lead.pk for lead, _o, _r in picks}
    return AssignResult(
        assigned=[pk for pk in wanted if pk in done],
        skipped=[pk for pk in wanted if pk not in done],
    )


def _assign_many(actor: Any, picks: list[tuple[Lead, Any, AssignmentRule | None]]) -> None:
    if not picks:
        return
    now = timezone.now()
    entries = []
    by_owner: dict[int, tuple[Any, list[Lead]]] = {}
    for lead, owner, rule in picks:
        before = lead.owner if lead.owner_id else None
        entries.append((lead, _assign_changes(before, owner, rule)))
        _apply(lead, owner, actor, now)
        by_owner.setdefault(owner.pk, (owner, []))[1].append(lead)
    Lead.objects.bulk_update([lead for lead, _o, _r in picks], ASSIGN_FIELDS)
    audit_record_many(actor=actor or "system", action=AuditEntry.Action.TRANSFER, entries=entries)
    for owner, leads in by_owner.values():
        _notify(owner, leads, actor)


# --- the rules -------------------------------------------------------------------------------


def rule_matches(rule: AssignmentRule, lead: Lead) -> bool:
    """Every condition the rule sets holds for the lead (blank = any)."""
    return (
        (not rule.match_source or rule.match_source == lead.source)
        and (not rule.match_region or rule.match_region == lead.region)
        and (not rule.match_grade or rule.match_grade == lead.grade)
    )


def rule_is_fallback(rule: AssignmentRule) -> bool:
    return not (rule.match_source or rule.match_region or rule.match_grade)


class RulePicker:
    """The active rules and the people they may give leads to, read once (four queries)
    and locked for the transaction; `pick` then chooses in memory for any number of leads,
    moving the round-robin pointers, and `save` writes the pointers that moved."""

    def __init__(self) -> None:
        self.rules = list(
            AssignmentRule.objects.select_for_update()
            .filter(is_active=True)
            .order_by("position", "id")
        )
        self.by_id = {rule.pk: rule for rule in self.rules}
        self.ordered = [r for r in self.rules if not rule_is_fallback(r)] + [
            r for r in self.rules if rule_is_fallback(r)
        ]
        eligible = users_who_could_own(module=MODULE)
        user_ids = sorted(
            {r.user_id for r in self.rules if r.target == r.Target.USER and r.user_id}
        )
        self.users = {u.pk: u for u in eligible.filter(pk__in=user_ids)} if user_ids else {}
        dept_ids = sorted(
            {
                r.department_id
                for r in self.rules
                if r.target == r.Target.ROUND_ROBIN and r.department_id
            }
        )
        self.members: dict[int, list[Any]] = {}
        if dept_ids:
            for user in eligible.filter(department_id__in=dept_ids).order_by("id"):
                self.members.setdefault(user.department_id, []).append(user)
        self.moved: dict[int, AssignmentRule] = {}

    def _target(self, rule: AssignmentRule) -> Any:
        if rule.target == rule.Target.USER:
            return self.users.get(rule.user_id)
        members = self.members.get(rule.department_id or 0, [])
        if not members:
            return None
        chosen = next((m for m in members if m.pk > (rule.last_user_id or 0)), members[0])
        rule.last_user_id = chosen.pk
        self.moved[rule.pk] = rule
        return chosen

    def pick(self, lead: Lead) -> tuple[AssignmentRule, Any] | None:
        """(rule, user) for the lead, or None when no rule gives it anyone."""
        form = getattr(lead, "web_form", None) if lead.web_form_id else None
        form_rule = self.by_id.get(getattr(form, "assignment_rule_id", None) or 0)
        if form_rule is not None:
            user = self._target(form_rule)
            if user is not None:
                return form_rule, user
        for rule in self.ordered:
            if rule is form_rule or not rule_matches(rule, lead):
                continue
            user = self._target(rule)
            if user is not None:
                return rule, user
        return None

    def save(self) -> None:
        if self.moved:
            AssignmentRule.objects.bulk_update(list(self.moved.values()), ["last_user"])
            self.moved = {}


@transaction.atomic
def lead_assign_by_rules(*, lead: Lead, actor: Any = None) -> Any:
    """Give the lead an owner by the rules (on creation, and on demand); returns the new
    owner, or None when no rule gives it anyone (it stays as it was). A system action: the
    caller decides who may ask for it (the API and the bulk bar need `leads.assign`)."""
    locked = (
        Lead.objects.select_for_update(of=("self",))
        .filter(pk=lead.pk, deleted_at__isnull=True)
        .exclude(status=LeadStatus.CONVERTED)
        .select_related("owner", "web_form")
        .first()
    )
    if locked is None:
        return None
    picker = RulePicker()
    picked = picker.pick(locked)
    picker.save()
    if picked is None:
        return None
    rule, owner = picked
    if owner.pk == locked.owner_id:
        return owner
    _assign_many(actor, [(locked, owner, rule)])
    # The caller's copy (lead_create's) says the same as the row.
    for name in ("owner", "assigned_at", "version", "updated_by", "updated_at"):
        setattr(lead, name, getattr(locked, name))
    return owner


# --- Settings → Lead assignment (the administrator's rules) -----------------------------------


def _require_configure(actor: Any) -> None:
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()


RULE_FIELDS = [
    "name",
    "is_active",
    "match_source",
    "match_region",
    "match_grade",
    "target",
    "user",
    "department",
]


def _rule_snapshot(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "is_active": rule.is_active,
        "match_source": dictionary_label("source", rule.match_source) if rule.match_source else "",
        "match_region": dictionary_label("region", rule.match_region) if rule.match_region else "",
        "match_grade": rule.match_grade,
        "target": str(rule.get_target_display()),
        "user": rule.user.display_name if rule.user_id else "",
        "department": rule.department.name if rule.department_id else "",
    }


def rule_clean(*, data: dict[str, Any], current: AssignmentRule | None = None) -> dict[str, Any]:
    """Validate a rule (every field); raise ValidationFailed naming every bad field."""
    from crm.accounts.models import Department

    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(str(message))

    name = _text(data.get("name"))
    if not name:
        fail("name", _("Give the rule a name."))
    elif len(name) > 60:
        fail("name", _("At most %(limit)d characters.") % {"limit": 60})
    cleaned["name"] = name
    cleaned["is_active"] = bool(data.get("is_active", True))
    for field, kind in (("match_source", "source"), ("match_region", "region")):
        code = _text(data.get(field))
        unchanged = current is not None and code == getattr(current, field)
        if code and not unchanged and not dictionary_is_valid(kind, code):
            fail(
                field,
                _("“%(value)s” is not in the list; choose one of the offered values.")
                % {"value": code[:40]},
            )
        cleaned[field] = code
    grade = _text(data.get("match_grade")).upper()
    if grade and grade not in LeadGrade.values:
        fail("match_grade", _("Choose grade A, B or C, or any grade."))
    cleaned["match_grade"] = grade
    target = _text(data.get("target")) or AssignmentRule.Target.USER
    if target not in AssignmentRule.Target.values:
        fail("target", _("Choose a user or a team's round-robin."))
    cleaned["target"] = target
    cleaned["user"] = None
    cleaned["department"] = None
    if target == AssignmentRule.Target.USER:
        user = _owner_get(data.get("user_id", data.get("user")))
        if user is None:
            fail("user", _owner_refused())
        cleaned["user"] = user
    elif target == AssignmentRule.Target.ROUND_ROBIN:
        raw = data.get("department_id", data.get("department"))
        raw = getattr(raw, "pk", raw)
        department = None
        if raw not in (None, "") and str(raw).strip().isdigit():
            department = Department.objects.filter(pk=int(str(raw).strip())).first()
        if department is None:
            fail("department", _("Choose the team whose members take turns."))
        cleaned["department"] = department
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _rule_audit(actor: Any, rule: AssignmentRule, action: str, before: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=action,
        instance=rule,
        changes=diff(before, _rule_snapshot(rule)) if action != AuditEntry.Action.DELETE else [],
    )


@transaction.atomic
def rule_create(*, actor: Any, data: dict[str, Any]) -> AssignmentRule:
    """A new rule, last in the order."""
    _require_configure(actor)
    values = rule_clean(data=data)
    last = AssignmentRule.objects.aggregate(m=Max("position"))["m"] or 0
    rule = AssignmentRule.objects.create(**values, position=last + 10)
    _rule_audit(actor, rule, AuditEntry.Action.CREATE, {})
    return rule


def _rule_locked(rule: AssignmentRule | int) -> AssignmentRule:
    locked = AssignmentRule.objects.select_for_update().filter(pk=getattr(rule, "pk", rule)).first()
    if locked is None:
        raise NotFoundError()
    return locked


@transaction.atomic
def rule_update(*, actor: Any, rule: AssignmentRule, data: dict[str, Any]) -> AssignmentRule:
    _require_configure(actor)
    locked = _rule_locked(rule)
    values = rule_clean(data=data, current=locked)
    before = _rule_snapshot(locked)
    if values["target"] != locked.target or values["department"] != locked.department:
        locked.last_user = None  # a new rotation starts from the team's first member
    for name, value in values.items():
        setattr(locked, name, value)
    locked.save()
    _rule_audit(actor, locked, AuditEntry.Action.UPDATE, before)
    return locked


@transaction.atomic
def rule_set_active(*, actor: Any, rule: AssignmentRule, active: bool) -> AssignmentRule:
    _require_configure(actor)
    locked = _rule_locked(rule)
    if locked.is_active != active:
        before = _rule_snapshot(locked)
        locked.is_active = active
        locked.save(update_fields=["is_active"])
        _rule_audit(actor, locked, AuditEntry.Action.UPDATE, before)
    return locked


@transaction.atomic
def rule_delete(*, actor: Any, rule: AssignmentRule) -> None:
    """Remove a rule; web forms that used it fall back to the ordered rules."""
    _require_configure(actor)
    locked = _rule_locked(rule)
    audit_record(actor=actor, action=AuditEntry.Action.DELETE, instance=locked)
    locked.delete()


@transaction.atomic
def rules_reorder(*, actor: Any, ordered_ids: Iterable[Any]) -> list[AssignmentRule]:
    """Put the rules in the order given (drag and drop, or up/down): every rule's id once."""
    _require_configure(actor)
    rules = {r.pk: r for r in AssignmentRule.objects.select_for_update().order_by("position", "id")}
    try:
        ids = [int(str(i)) for i in ordered_ids if not isinstance(i, bool)]
    except (TypeError, ValueError):
        ids = []
    if sorted(ids) != sorted(rules) or len(set(ids)) != len(ids):
        raise ValidationFailed(
            fields={"ordered_ids": [_("Send every rule's id once, in the new order.")]}
        )
    before = [rules[pk].name for pk in rules]
    changed = []
    for index, pk in enumerate(ids):
        rule = rules[pk]
        position = (index + 1) * 10
        if rule.position != position:
            rule.position = position
            changed.append(rule)
    if changed:
        AssignmentRule.objects.bulk_update(changed, ["position"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            object_repr=_("Lead assignment rules"),
            changes=[
                {
                    "field": "order",
                    "before": " → ".join(before),
                    "after": " → ".join(rules[pk].name for pk in ids),
                }
            ],
        )
    return [rules[pk] for pk in ids]


@transaction.atomic
def rule_move(*, actor: Any, rule: AssignmentRule, step: int) -> list[AssignmentRule]:
    """One place up (step -1) or down (+1): the up/down buttons without a script."""
    ids = list(AssignmentRule.objects.order_by("position", "id").values_list("pk", flat=True))
    if rule.pk not in ids:
        raise NotFoundError()
    i = ids.index(rule.pk)
    j = max(0, min(len(ids) - 1, i + (1 if step > 0 else -1)))
    ids[i], ids[j] = ids[j], ids[i]
    return rules_reorder(actor=actor, ordered_ids=ids)
