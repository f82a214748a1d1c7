"""Every write to the follow-up log (FUP-1) and its planned next steps (FUP-2).

Each service is atomic, checks the actor's function permission, validates every field at once,
keeps the customer's "last follow-up" and "next follow-up" times in step in the same
transaction, writes the customer's timeline line and leaves an audit entry.

Order of refusals on create: permission (403), then the fields that need no record (422), then
the customer (404 when the actor cannot see it: the same answer as for a customer that does
not exist), then the fields that depend on the customer (opportunity, contact, plan: 422).
"""

from __future__ import annotations

import datetime as dt
from itertools import batched
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from crm.activities.models import PLAN_OPEN, FollowUp
from crm.activities.selectors import followups_any_visible_to
from crm.activities.signals import followup_logged
from crm.core.audit import audit_record, diff, snapshot
from crm.core.config import setting_get
from crm.core.customfields import custom_audit_snapshot, custom_clean_into
from crm.core.dictionaries import dictionary_is_valid, dictionary_label
from crm.core.errors import NotFoundError, PermissionDeniedError, ValidationFailed
from crm.core.files import attachments_purge_for
from crm.core.models import AuditEntry, TimelineEntry
from crm.core.permissions import Scope
from crm.core.scope import scope_filter, user_can, user_grants, users_who_can_own
from crm.core.text import typed_text as _text
from crm.core.timeline import timeline_record, timeline_record_many
from crm.core.versioning import version_check
from crm.customers.models import Contact, Customer

MODULE = "followups"
OBJECT_TYPE = "followup"
METHOD_KIND = "followup_method"
TEXT_LIMITS = {"summary": 5000, "feedback": 5000, "next_action": 2000, "next_goal": 500}
# A follow-up "now" typed on a phone whose clock runs a little ahead is still not the future.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The author may change their own follow-up for this long after logging it (FUP, issue 6 §2).
AUTHOR_EDIT_WINDOW = dt.timedelta(hours=24)
# Overdue reminders go out only for plans that fell due this recently: the first sweep after a
# long outage (or after loading demo data full of old plans) must not bury people in reminders
# for plans weeks past; those are listed on "my follow-ups" under Overdue all the same.
OVERDUE_REMINDER_WINDOW = dt.timedelta(days=7)
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# The fields a user edits, in the order the audit trail lists them.
EDITABLE_FIELDS = [
    "opportunity",
    "contact",
    "author",
    "method",
    "occurred_at",
    "summary",
    "feedback",
    "next_action",
    "due_on",
    "next_at",
    "next_method",
    "next_goal",
]


def _require(actor: Any, action: str) -> None:
    if not user_can(actor, MODULE, action):
        raise PermissionDeniedError()


def _id(value: Any) -> int | None:
    """An id from a form or a body (a model instance, an int, digits); None when blank.

    Raises ValueError for anything else, so the caller can name the field."""
    value = getattr(value, "pk", value)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**63 - 1:
        raise ValueError
    return int(text)


def _input_id(data: dict[str, Any], name: str) -> Any:
    """`name_id` or `name` from the input (the API sends customer_id, forms send customer)."""
    if f"{name}_id" in data:
        return data[f"{name}_id"]
    return data.get(name)


def _given(data: dict[str, Any], name: str) -> bool:
    return name in data or f"{name}_id" in data


def _moment(value: Any) -> dt.datetime:
    """A date and time from a form ('2027-01-15T09:30', '2027-01-15 09:30') or a body; naive
    means the company's time zone. Raises ValueError when it is not one."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = _text(value).replace(" ", "T", 1)
        try:
            moment = parse_datetime(text) if text else None
        except ValueError:
            moment = None
        if moment is None:
            raise ValueError
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    if moment < EARLIEST or moment.year > 9998:
        raise ValueError
    return moment


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        parsed = parse_date(_text(value))
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError
    return parsed


def _opportunity_for(actor: Any, customer: Customer, opportunity_id: int) -> Any:
    """The live opportunity `opportunity_id` of `customer` that the actor may see, or None.

    A plain scoped query on the sales table: crm.sales' selectors are not needed for "does
    this id name a visible opportunity of this customer" and this stays right on its own.
    """
    from crm.sales.models import Opportunity

    return (
        Opportunity.objects.filter(
            scope_filter(actor, "opportunities", owner_field="owner"),
            pk=opportunity_id,
            customer_id=customer.pk,
            deleted_at__isnull=True,
        )
        .only("id", "name", "number", "customer_id", "owner_id")
        .first()
    )


def _customer_locked(actor: Any, customer_id: Any) -> Customer:
    """The customer, locked for this transaction, if the actor may see it (else 404).

    Locked so that two follow-ups logged at the same moment refresh the customer's times one
    after the other: each then reads the other's committed row, and neither overwrites the
    other's result with a stale one.
    """
    try:
        pk = _id(customer_id)
    except ValueError:
        pk = None
    if pk is None:
        raise NotFoundError()
    customer = (
        Customer.objects.select_for_update(of=("self",))
        .filter(scope_filter(actor, "customers"), pk=pk, deleted_at__isnull=True)
        .only("id", "name", "number", "owner_id")
        .first()
    )
    if customer is None:
        raise NotFoundError()
    return customer


def _lead_locked(actor: Any, lead_id: Any) -> Any:
    """The live lead, locked for this transaction, if the actor may see it (else 404): a
    follow-up on a lead (issue 7 §1) follows the lead's scope. A converted lead's follow-ups
    go on its customer."""
    from crm.leads.models import Lead, LeadStatus
    from crm.leads.selectors import lead_scope_q

    try:
        pk = _id(lead_id)
    except ValueError:
        pk = None
    if pk is None:
        raise NotFoundError()
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .filter(lead_scope_q(actor), pk=pk, deleted_at__isnull=True)
        .only("id", "company", "number", "owner_id", "status", "converted_customer_id")
        .first()
    )
    if lead is None:
        raise NotFoundError()
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationFailed(
            fields={"lead": [_("This lead was converted; log the follow-up on its customer.")]}
        )
    return lead


def _visible(actor: Any):
    """The actor's follow-ups, live or binned (the selectors' rule: scope on the author, and
    the customer in the actor's customers scope)."""
    return followups_any_visible_to(actor)


def _locked(actor: Any, followup_id: int) -> FollowUp:
    """The follow-up, locked, if the actor may see it (else 404); its customer locked first
    (always customer, then follow-up: the same order for every writer, so no deadlock)."""
    row = _visible(actor).filter(pk=followup_id).values_list("customer_id", "lead_id").first()
    if row is None:
        raise NotFoundError()
    if row[0] is not None:
        _customer_locked(actor, row[0])
    else:  # a follow-up on a lead not yet converted: its lead, locked first in the same way
        _lead_row_locked(row[1])
    locked = (
        _visible(actor)
        .select_for_update(of=("self",))
        .filter(pk=followup_id)
        .select_related("author", "updated_by", "deleted_by", "customer")
        .first()
    )
    if locked is None:
        raise NotFoundError()
    return locked


def _lead_row_locked(lead_id: int) -> None:
    from crm.leads.models import Lead

    Lead.objects.select_for_update(of=("self",)).filter(pk=lead_id).values_list("pk").first()


def _wider_than_own(actor: Any) -> bool:
    grant = user_grants(actor).get(MODULE)
    return bool(grant) and grant.effective_scopes() != {Scope.OWN}


def followup_can_edit(actor: Any, followup: FollowUp, *, now: dt.datetime | None = None) -> bool:
    """FUP (issue 6 §2): the author (or whoever logged it) may change a follow-up for 24 hours
    after logging it; after that only a user with the edit permission whose data scope reaches
    beyond their own records (a manager, an administrator) may, and such a user at any time.

    A rep's own edit permission does not lift the 24-hour limit: otherwise the rule would bind
    nobody, every rep holding edit on their own follow-ups. `followup` must already be one the
    actor can see (the services lock it through the scope).
    """
    if user_can(actor, MODULE, "edit") and _wider_than_own(actor):
        return True
    mine = actor.pk in (followup.author_id, followup.created_by_id)
    may_write = user_can(actor, MODULE, "edit") or user_can(actor, MODULE, "create")
    fresh = (now or timezone.now()) - followup.created_at <= AUTHOR_EDIT_WINDOW
    return mine and may_write and fresh


def followup_can_plan_done(actor: Any, followup: FollowUp) -> bool:
    """Closing a plan without logging (cancelled, done elsewhere) changes no history: the
    author may, at any time, and so may anyone with the edit permission who sees it."""
    if user_can(actor, MODULE, "edit"):
        return True
    return actor.pk == followup.author_id and user_can(actor, MODULE, "create")


# --- validation -----------------------------------------------------------------------------


def followup_clean(
    *,
    actor: Any,
    data: dict[str, Any],
    current: FollowUp | None = None,
    now: dt.datetime,
    choices: dict[str, dict[int, Any]] | None = None,
) -> tuple[dict[str, Any], Customer | None]:
    """Validate the input (the whole record on create, the fields sent on update).

    `choices` (an import, read once per batch what a form reads per record): {"author":
    {id: user} of users_who_can_own, "customer": {id: customer} visible and locked,
    "opportunity": {id: opportunity} visible, "contact": {id: contact}}; a record not in
    them is refused as one the actor cannot choose.

    Returns (cleaned values, the locked customer on create). Raises ValidationFailed naming
    every bad field at once, or NotFoundError for a customer the actor cannot see.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    creating = current is None

    def fail(name: str, message: Any) -> None:
        errors.setdefault(name, []).append(str(message))

    def wanted(name: str) -> bool:
        return creating or _given(data, name)

    # Fields that need no record first.
    if wanted("method"):
        code = _text(data.get("method"))
        if not code:
            fail("method", _("Choose how you followed up."))
        elif (current is None or code != current.method) and not dictionary_is_valid(
            METHOD_KIND, code
        ):
            fail(
                "method",
                _("“%(value)s” is not in the list; choose one of the offered values.")
                % {"value": code},
            )
        else:
            cleaned["method"] = code

    if wanted("occurred_at"):
        raw = data.get("occurred_at")
        if raw in (None, "") and creating:
            cleaned["occurred_at"] = now
        elif raw in (None, ""):
            fail("occurred_at", _("Enter when the follow-up happened."))
        else:
            try:
                moment = _moment(raw)
            except ValueError:
                fail("occurred_at", _("Enter a date and time, e.g. 2026-03-15 14:30."))
            else:
                if moment > now + CLOCK_SKEW:
                    fail("occurred_at", _("A follow-up cannot happen in the future."))
                else:
                    cleaned["occurred_at"] = moment

    for name, limit in TEXT_LIMITS.items():
        if wanted(name):
            value = _text(data.get(name))
            if len(value) > limit:
                fail(name, _("At most %(limit)d characters.") % {"limit": limit})
            cleaned[name] = value
    if "summary" in cleaned and not cleaned["summary"] and "summary" not in errors:
        fail("summary", _("Describe what was discussed."))

    if wanted("due_on"):
        raw = data.get("due_on")
        if raw in (None, ""):
            cleaned["due_on"] = None
        else:
            try:
                cleaned["due_on"] = _date(raw)
            except ValueError:
                fail("due_on", _("Enter a date as YYYY-MM-DD."))

    if wanted("next_method"):
        code = _text(data.get("next_method"))
        changed = current is None or code != current.next_method
        if code and changed and not dictionary_is_valid(METHOD_KIND, code):
            fail(
                "next_method",
                _("“%(value)s” is not in the list; choose one of the offered values.")
                % {"value": code},
            )
        cleaned["next_method"] = code

    if wanted("next_at"):
        raw = data.get("next_at")
        if raw in (None, ""):
            cleaned["next_at"] = None
        else:
            try:
                cleaned["next_at"] = _moment(raw)
            except ValueError:
                fail("next_at", _("Enter a date and time, e.g. 2026-03-15 14:30."))
    if "next_at" not in errors and "occurred_at" not in errors:
        occurred = cleaned.get("occurred_at", getattr(current, "occurred_at", None))
        planned = cleaned.get("next_at", getattr(current, "next_at", None))
        changed = "next_at" in cleaned and (
            current is None or cleaned["next_at"] != current.next_at
        )
        if planned is not None and occurred is not None and planned <= occurred:
            fail("next_at", _("The next follow-up must come after this one."))
        elif planned is not None and changed and planned < now - CLOCK_SKEW:
            # A plan is for what is still to do; a time already past would only be overdue.
            fail("next_at", _("Plan the next follow-up for a time still to come."))
        plan_details = cleaned.get("next_method", getattr(current, "next_method", "")) or (
            cleaned.get("next_goal", getattr(current, "next_goal", ""))
        )
        if planned is None and plan_details and "next_at" not in errors:
            fail("next_at", _("Give the time of the next follow-up, or clear its method and goal."))

    if wanted("author"):
        try:
            author_id = _id(_input_id(data, "author"))
        except ValueError:
            author_id = -1
        if author_id is None:
            author_id = current.author_id if current is not None else actor.pk
        if current is not None and author_id == current.author_id:
            pass
        else:
            if choices is not None:
                author = choices["author"].get(author_id)
            else:
                author = (
                    users_who_can_own(actor=actor, module=MODULE).filter(pk=author_id).first()
                    if author_id > 0
                    else None
                )
            if author is None:
                fail(
                    "author",
                    _(
                        "Choose yourself or an active user within your data scope who can "
                        "log follow-ups."
                    ),
                )
            else:
                cleaned["author"] = author

    customer: Customer | None = None
    if creating:
        # A follow-up hangs on a customer or on a lead (issue 7 §1): exactly one of them.
        on_customer = _input_id(data, "customer") not in (None, "")
        on_lead = _input_id(data, "lead") not in (None, "")
        if not on_customer and not on_lead:
            fail("customer", _("Choose the customer."))
        elif on_customer and on_lead:
            fail("lead", _("Log a follow-up on a customer or on a lead, not on both."))
        if errors:
            raise ValidationFailed(fields=errors)
        if on_lead:
            cleaned["lead"] = _lead_locked(actor, _input_id(data, "lead"))
        elif choices is not None:
            customer = choices["customer"].get(_input_id(data, "customer"))
            if customer is None:
                raise NotFoundError()
            cleaned["customer"] = customer
        else:
            customer = _customer_locked(actor, _input_id(data, "customer"))
            cleaned["customer"] = customer
    else:
        for name, current_id, message in (
            (
                "customer",
                current.customer_id,
                _("A follow-up stays with its customer; log a new one instead."),
            ),
            ("lead", current.lead_id, _("A follow-up stays with its lead; log a new one instead.")),
        ):
            if _given(data, name):
                try:
                    asked = _id(_input_id(data, name))
                except ValueError:
                    asked = -1
                if asked not in (None, current_id):
                    fail(name, message)
        customer = current.customer

    # Fields that depend on the customer.
    if wanted("opportunity"):
        try:
            opportunity_id = _id(_input_id(data, "opportunity"))
        except ValueError:
            opportunity_id = -1
        if opportunity_id is None:
            cleaned["opportunity"] = None
        elif current is not None and opportunity_id == current.opportunity_id:
            pass
        elif customer is None:
            fail("opportunity", _("A follow-up on a lead has no opportunity yet."))
        else:
            if choices is not None:
                found = choices["opportunity"].get(opportunity_id)
                if found is not None and found.customer_id != customer.pk:
                    found = None
            else:
                found = (
                    _opportunity_for(actor, customer, opportunity_id)
                    if opportunity_id > 0
                    else None
                )
            if found is None:
                fail("opportunity", _("Choose an opportunity of this customer, or none."))
            else:
                cleaned["opportunity"] = found

    if wanted("contact"):
        try:
            contact_id = _id(_input_id(data, "contact"))
        except ValueError:
            contact_id = -1
        if contact_id is None:
            cleaned["contact"] = None
        elif current is not None and contact_id == current.contact_id:
            pass
        elif customer is None:
            fail(
                "contact",
                _("A follow-up on a lead has no contact to choose; its lead is the contact."),
            )
        else:
            if choices is not None:
                found = choices["contact"].get(contact_id)
                if found is not None and found.customer_id != customer.pk:
                    found = None
            else:
                found = (
                    Contact.objects.filter(pk=contact_id, customer_id=customer.pk).first()
                    if contact_id > 0
                    else None
                )
            if found is None:
                fail("contact", _("Choose a contact of this customer, or none."))
            else:
                cleaned["contact"] = found

    custom_clean_into(
        module=MODULE, data=data, current=current, cleaned=cleaned, errors=errors,
        only_if_sent=True,
    )  # fmt: skip
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned, customer


# --- the customer's times (CUS-7, FUP-2) ----------------------------------------------------


def followups_customer_times_refresh(customer_id: int) -> None:
    """The customer's last follow-up (latest `occurred_at` of its live follow-ups) and next
    follow-up (earliest `next_at` of its open plans), from the rows, inside the caller's
    transaction. Written with QuerySet.update: derived columns, no version bump (an edit of
    the customer made from a page opened before the follow-up must not get a conflict)."""
    live = FollowUp.objects.filter(customer_id=customer_id, deleted_at__isnull=True)
    last = live.aggregate(at=Max("occurred_at"))["at"]
    upcoming = FollowUp.objects.filter(PLAN_OPEN, customer_id=customer_id).aggregate(
        at=Min("next_at")
    )["at"]
    Customer.objects.filter(pk=customer_id).update(last_followup_at=last, next_followup_at=upcoming)


def followups_lead_times_refresh(lead_id: int) -> None:
    """A lead's last follow-up (latest `occurred_at` of its live follow-ups), like the
    customer's; derived, no version bump. Its first contact stays once made (LEAD-3)."""
    from crm.leads.models import Lead

    last = FollowUp.objects.filter(lead_id=lead_id, deleted_at__isnull=True).aggregate(
        at=Max("occurred_at")
    )["at"]
    Lead.objects.filter(pk=lead_id).update(last_followup_at=last)


def _times_refresh(followup: FollowUp) -> None:
    """The times of whatever the follow-up hangs on: its customer, and its lead."""
    if followup.customer_id is not None:
        followups_customer_times_refresh(followup.customer_id)
    if followup.lead_id is not None:
        followups_lead_times_refresh(followup.lead_id)


# --- timeline -------------------------------------------------------------------------------


def _timeline_data(followup: FollowUp) -> dict[str, Any]:
    return {
        "method": followup.method,
        "summary": followup.summary[:200],
        "author": followup.author.display_name if followup.author_id else "",
        "next_at": followup.next_at.isoformat() if followup.next_at else None,
    }


def followup_timeline_text(data: dict[str, Any]) -> str:
    """The customer timeline's line for a follow-up, in the reader's language."""
    method = dictionary_label(METHOD_KIND, data.get("method") or "") or data.get("method") or ""
    text = _("%(method)s follow-up by %(author)s: %(summary)s") % {
        "method": method,
        "author": data.get("author") or _("someone"),
        "summary": data.get("summary") or "",
    }
    if data.get("next_at"):
        try:
            when = timezone.localtime(dt.datetime.fromisoformat(data["next_at"]))
            text += " " + _("(next: %(when)s)") % {"when": f"{when:%Y-%m-%d %H:%M}"}
        except (TypeError, ValueError):
            pass
    return text


def followup_timeline_line(followup: FollowUp, *, customer_id: int | None = None) -> dict:
    """A follow-up's customer-timeline line for timeline_record_many (imports, conversions)."""
    return {
        "customer_id": customer_id or followup.customer_id,
        "kind": "followup",
        "owner_id": followup.author_id,
        "object_type": OBJECT_TYPE,
        "object_id": followup.pk,
        "data": _timeline_data(followup),
        "at": followup.occurred_at,
    }


def _timeline_write(actor: Any, followup: FollowUp) -> None:
    if followup.customer_id is None:
        return  # a lead's follow-up joins a customer's timeline when the lead is converted
    timeline_record(
        customer_id=followup.customer_id,
        kind="followup",
        actor=actor,
        owner_id=followup.author_id,
        object_type=OBJECT_TYPE,
        object_id=followup.pk,
        data=_timeline_data(followup),
        at=followup.occurred_at,
    )


def _timeline_lines(followup: FollowUp):
    return TimelineEntry.objects.filter(object_type=OBJECT_TYPE, object_id=followup.pk)


# --- writes ---------------------------------------------------------------------------------


def _audit_snapshot(followup: FollowUp) -> dict[str, Any]:
    return {
        **snapshot(followup, EDITABLE_FIELDS),
        **custom_audit_snapshot(MODULE, followup.custom),
    }


def _plan_locked(actor: Any, plan_id: Any, customer: Customer | None, lead: Any = None) -> FollowUp:
    try:
        pk = _id(plan_id)
    except ValueError:
        pk = None
    plan = None
    if pk is not None:
        plan = (
            _visible(actor)
            .select_for_update(of=("self",))
            .filter(
                PLAN_OPEN,
                pk=pk,
                **({"customer_id": customer.pk} if customer is not None else {"lead_id": lead.pk}),
            )
            .first()
        )
    if plan is None:
        raise ValidationFailed(
            fields={
                "plan_id": [
                    _(
                        "This plan is not open any more, or belongs to another customer; "
                        "log the follow-up without it."
                    )
                ]
            }
        )
    return plan


@transaction.atomic
def followup_create(*, actor: Any, data: dict[str, Any]) -> FollowUp:
    """Log a follow-up (FUP-1) with, optionally, the next step planned (FUP-2).

    With `plan_id`, the earlier follow-up whose plan this one carries out: that plan is marked
    done by this follow-up (the "log it" button of "my follow-ups").
    """
    _require(actor, "create")
    now = timezone.now()
    values, customer = followup_clean(actor=actor, data=data, now=now)
    plan = None
    if data.get("plan_id") not in (None, ""):
        plan = _plan_locked(actor, data.get("plan_id"), customer, values.get("lead"))
    followup = FollowUp(**values, created_by=actor, updated_by=actor)
    followup.save()
    if plan is not None:
        plan.next_done_at = now
        plan.next_done_by = followup
        plan.version += 1
        plan.updated_by = actor
        plan.save(
            update_fields=["next_done_at", "next_done_by", "version", "updated_by", "updated_at"]
        )
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=plan,
            changes=[{"field": "next_done_at", "before": None, "after": now.isoformat()}],
        )
    _times_refresh(followup)
    _timeline_write(actor, followup)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=followup,
        changes=diff({}, _audit_snapshot(followup)),
    )
    followup_logged.send(sender=FollowUp, followup=followup, actor=actor)
    return followup


@transaction.atomic
def followup_update(
    *, actor: Any, followup: FollowUp, data: dict[str, Any], version: Any
) -> FollowUp:
    """Change some fields of a follow-up (versioned; the 24-hour rule of followup_can_edit).

    The customer stays; every change is audited with its before and after.
    """
    if not (user_can(actor, MODULE, "edit") or user_can(actor, MODULE, "create")):
        raise PermissionDeniedError()
    locked = _locked(actor, followup.pk)
    version_check(locked=locked, version=version, label=_("this follow-up"))
    if locked.deleted_at is not None:
        raise ValidationFailed(
            fields={
                "non_field_errors": [_("This follow-up is in the recycle bin; restore it first.")]
            }
        )
    if not followup_can_edit(actor, locked):
        raise PermissionDeniedError(
            _(
                "Follow-ups can be changed by their author for 24 hours after they were "
                "logged; after that only a manager can change them."
            )
        )
    now = timezone.now()
    values, _customer = followup_clean(actor=actor, data=data, current=locked, now=now)
    before = _audit_snapshot(locked)
    for name, value in values.items():
        setattr(locked, name, value)
    changes = diff(before, _audit_snapshot(locked))
    if not changes:
        return locked
    locked.version += 1
    locked.updated_by = actor
    locked.save()
    _times_refresh(locked)
    _timeline_lines(locked).update(
        data=_timeline_data(locked), at=locked.occurred_at, owner_id=locked.author_id
    )
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=locked, changes=changes)
    return locked


@transaction.atomic
def followup_delete(*, actor: Any, followup: FollowUp, version: Any = None) -> FollowUp:
    """Move a follow-up to the recycle bin (restorable until the purge sweep).

    With `version`, compared first: of several deletes from one copy exactly one passes.
    Without one, deleting a follow-up already in the bin changes nothing. Its timeline line
    goes with it (and comes back on restore); its plan no longer counts for the customer.
    """
    _require(actor, "delete")
    locked = _locked(actor, followup.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this follow-up"))
    if locked.deleted_at is not None:
        return locked
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    locked.version += 1
    locked.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
    _timeline_lines(locked).delete()
    _times_refresh(locked)
    audit_record(actor=actor, action=AuditEntry.Action.DELETE, instance=locked)
    return locked


@transaction.atomic
def followup_restore(*, actor: Any, followup: FollowUp, version: Any = None) -> FollowUp:
    """Bring a follow-up back from the recycle bin (versioned like delete)."""
    _require(actor, "delete")
    locked = _locked(actor, followup.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this follow-up"))
    if locked.deleted_at is None:
        return locked
    locked.deleted_at = None
    locked.deleted_by = None
    locked.version += 1
    locked.updated_by = actor
    locked.save(update_fields=["deleted_at", "deleted_by", "version", "updated_by", "updated_at"])
    if not _timeline_lines(locked).exists():
        _timeline_write(actor, locked)
    _times_refresh(locked)
    audit_record(actor=actor, action=AuditEntry.Action.RESTORE, instance=locked)
    return locked


@transaction.atomic
def followup_plan_done(*, actor: Any, followup: FollowUp, version: Any = None) -> FollowUp:
    """Close a planned next step without logging a follow-up for it (cancelled, or done in a
    way not worth a log entry): it leaves "my follow-ups" and reminds no more."""
    if not (user_can(actor, MODULE, "edit") or user_can(actor, MODULE, "create")):
        raise PermissionDeniedError()
    locked = _locked(actor, followup.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this follow-up"))
    if not followup_can_plan_done(actor, locked):
        raise PermissionDeniedError()
    if locked.deleted_at is not None or locked.next_at is None or locked.next_done_at is not None:
        return locked
    locked.next_done_at = timezone.now()
    locked.version += 1
    locked.updated_by = actor
    locked.save(update_fields=["next_done_at", "version", "updated_by", "updated_at"])
    _times_refresh(locked)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=locked,
        changes=[
            {"field": "next_done_at", "before": None, "after": locked.next_done_at.isoformat()}
        ],
    )
    return locked


# --- a leaving user's open plans (ORG-3) ------------------------------------------------------


@transaction.atomic
def followups_plans_transfer_all(*, from_user: Any, to_user: Any, actor: Any) -> int:
    """Hand a leaving user's open plans to the user who takes over their records (registered
    with crm.accounts.transfer: runs inside the deactivation's transaction).

    Follow-ups are history and keep their author; only what is still to do moves. Each open
    plan is carried over by a follow-up logged for `to_user` ("plan handed over"), carrying the
    same next time, method and goal, and the old plan is marked done by it: the new owner sees
    it on "my follow-ups" and gets its reminders, the customer's next follow-up time stays, and
    the handover is on the customer's timeline and in the audit trail like any follow-up.
    """
    now = timezone.now()
    plans = list(
        FollowUp.objects.select_for_update(of=("self",))
        .filter(PLAN_OPEN, author=from_user)
        .order_by("customer_id", "id")
    )
    for plan in plans:
        carried = FollowUp.objects.create(
            customer_id=plan.customer_id,
            lead_id=plan.lead_id,
            opportunity_id=plan.opportunity_id,
            contact_id=plan.contact_id,
            author=to_user,
            method=plan.next_method or plan.method,
            # The plan's own time, not now: a handover is no contact with the customer, and
            # must not move its "last follow-up" (which cadence and overdue lists read).
            occurred_at=plan.occurred_at,
            summary=_("Plan handed over from %(from)s to %(to)s.")
            % {"from": from_user.display_name, "to": to_user.display_name},
            next_at=plan.next_at,
            next_method=plan.next_method,
            next_goal=plan.next_goal,
            created_by=actor if getattr(actor, "pk", None) else None,
            updated_by=actor if getattr(actor, "pk", None) else None,
        )
        plan.next_done_at = now
        plan.next_done_by = carried
        plan.version += 1
        plan.save(update_fields=["next_done_at", "next_done_by", "version", "updated_at"])
        _timeline_write(actor, carried)
        audit_record(
            actor=actor,
            action=AuditEntry.Action.TRANSFER,
            instance=plan,
            changes=[
                {
                    "field": "next_done_by",
                    "before": from_user.display_name,
                    "after": to_user.display_name,
                }
            ],
        )
        audit_record(
            actor=actor,
            action=AuditEntry.Action.CREATE,
            instance=carried,
            changes=diff({}, _audit_snapshot(carried)),
        )
    for customer_id in sorted({p.customer_id for p in plans if p.customer_id}):
        followups_customer_times_refresh(customer_id)
    for lead_id in sorted({p.lead_id for p in plans if p.lead_id}):
        followups_lead_times_refresh(lead_id)
    return len(plans)


# --- sweeps ---------------------------------------------------------------------------------


def followups_purge_expired(*, now: dt.datetime | None = None) -> int:
    """The recycle-bin sweep for follow-ups: remove those deleted longer ago than the
    retention ("recycle_bin_days"), with their attachments' rows and files. Idempotent;
    each purge leaves an audit entry."""
    days = int(setting_get("recycle_bin_days"))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    purged = 0
    for followup in FollowUp.objects.filter(deleted_at__lt=cutoff).iterator():
        with transaction.atomic():
            audit_record(actor="system", action=AuditEntry.Action.PURGE, instance=followup)
            attachments_purge_for(object_type=OBJECT_TYPE, object_ids=[followup.pk])
            _timeline_lines(followup).delete()
            followup.delete()
            purged += 1
    return purged


def _reminder_text(followup: FollowUp, *, overdue: bool) -> str:
    when = timezone.localtime(followup.next_at, timezone.get_default_timezone())
    values = {
        "customer": followup.customer.name if followup.customer_id else followup.lead.company,
        "when": f"{when:%Y-%m-%d %H:%M}",
        "method": dictionary_label(METHOD_KIND, followup.next_method) or _("follow-up"),
        "goal": followup.next_goal or _("no goal given"),
    }
    if overdue:
        return (
            _("Overdue follow-up: %(customer)s, planned %(when)s (%(method)s): %(goal)s") % values
        )
    return _("Follow-up due soon: %(customer)s at %(when)s (%(method)s): %(goal)s") % values


def reminder_dedup_key(followup: FollowUp, stage: str) -> str:
    """One reminder per plan, time and stage: re-planning the time reminds again."""
    return reminder_key(followup.pk, followup.next_at, stage)


def reminder_key(pk: int, next_at: dt.datetime, stage: str) -> str:
    return f"followup:{pk}:{next_at.isoformat()}:{stage}"


def followup_reminders_send(*, now: dt.datetime) -> int:
    """Remind authors of their planned follow-ups (FUP-2, issue 6 §5); returns how many
    reminders were sent.

    "Due soon" once the plan is within the lead time (setting "followup_reminder_minutes",
    default 30), "overdue" once its time has passed; each at most once per plan and planned
    time (notification_send's dedup key), so running the sweep twice sends nothing twice.
    Overdue reminders only for plans due within OVERDUE_REMINDER_WINDOW (7 days) before `now`:
    older ones are on the author's overdue list, not worth a burst of notifications after an
    outage. Deactivated authors are not reminded, nor are plans on customers in the recycle
    bin. Texts are in the company's language (users have no language of their own yet).
    """
    from crm.notify.services import notification_send, notifications_sent

    lead = dt.timedelta(minutes=int(setting_get("followup_reminder_minutes")))
    # Plans whose reminder for their current time is settled (sent, or found sent) are
    # skipped: the markers the loop below writes.
    unsettled = (
        Q(next_at__gt=now)
        & (Q(reminded_soon_for__isnull=True) | ~Q(reminded_soon_for=F("next_at")))
    ) | (
        Q(next_at__lte=now)
        & (Q(reminded_overdue_for__isnull=True) | ~Q(reminded_overdue_for=F("next_at")))
    )
    rows = (
        FollowUp.objects.filter(
            PLAN_OPEN,
            unsettled,
            next_at__lte=now + lead,
            next_at__gt=now - OVERDUE_REMINDER_WINDOW,
            author__is_active=True,
            customer__deleted_at__isnull=True,
            lead__deleted_at__isnull=True,
        )
        .select_related("author", "customer", "lead")
        .only(
            "id",
            "next_at",
            "next_method",
            "next_goal",
            "author",
            "customer__id",
            "customer__name",
            "lead__id",
            "lead__company",
        )
        .order_by("next_at", "id")
    )
    sent = 0
    # Only plans not yet settled for their current time are read (at 1M customers a week holds
    # some 240,000 plans, nearly all reminded long ago): their ids, authors and times first,
    # and the reminders already sent for a whole chunk in one query (plans from before the
    # markers, or a run that stopped half-way); the plans still to remind are read in full.
    candidates = rows.values_list("id", "author_id", "next_at")
    with translation.override(settings.LANGUAGE_CODE):
        for chunk in batched(list(candidates), REMINDER_CHUNK):
            keys = {
                pk: reminder_key(pk, next_at, "overdue" if next_at <= now else "soon")
                for pk, _author, next_at in chunk
            }
            done = notifications_sent(pairs=[(author, keys[pk]) for pk, author, _n in chunk])
            todo = [pk for pk, author, _n in chunk if (author, keys[pk]) not in done]
            for followup in rows.filter(pk__in=todo) if todo else ():
                overdue = followup.next_at <= now
                note = notification_send(
                    recipient=followup.author,
                    kind="followup_overdue" if overdue else "followup_due",
                    text=_reminder_text(followup, overdue=overdue),
                    link=reverse("activities:create") + f"?plan={followup.pk}",
                    dedup_key=reminder_dedup_key(followup, "overdue" if overdue else "soon"),
                )
                sent += note is not None
            # Settled from now on, sent above or before (the dedup key decided).
            soon_ids = [pk for pk, _a, next_at in chunk if next_at > now]
            overdue_ids = [pk for pk, _a, next_at in chunk if next_at <= now]
            if soon_ids:
                FollowUp.objects.filter(pk__in=soon_ids).update(reminded_soon_for=F("next_at"))
            if overdue_ids:
                FollowUp.objects.filter(pk__in=overdue_ids).update(
                    reminded_overdue_for=F("next_at")
                )
    return sent


REMINDER_CHUNK = 500


@transaction.atomic
def followups_lead_to_customer(
    *, actor: Any, lead_id: int, customer: Customer, contact: Any = None
) -> int:
    """A converted lead's follow-ups (issue 7 §1) hang on its customer too, and the live ones
    appear on the customer's timeline at their own times: one UPDATE, one INSERT of lines,
    whatever their number. Those without a contact get the lead's person (`contact`).
    Returns how many follow-ups moved."""
    rows = list(
        FollowUp.objects.filter(lead_id=lead_id, customer__isnull=True)
        .select_related("author")
        .order_by("occurred_at", "id")
    )
    if not rows:
        return 0
    ids = [f.pk for f in rows]
    FollowUp.objects.filter(pk__in=ids).update(customer=customer)
    if contact is not None:
        FollowUp.objects.filter(pk__in=ids, contact__isnull=True).update(contact=contact)
    timeline_record_many(
        actor=actor,
        lines=[
            followup_timeline_line(f, customer_id=customer.pk) for f in rows if f.deleted_at is None
        ],
    )
    followups_customer_times_refresh(customer.pk)
    live = [f.occurred_at for f in rows if f.deleted_at is None]
    if live:
        # The customer's clocks count from its latest follow-up, as if logged on it.
        from crm.customers.clocks import customer_activity_touch, customer_clocks_settle

        customer_activity_touch(customer_id=customer.pk, at=max(live))
        customer_clocks_settle(customer_id=customer.pk)
    return len(rows)
