"""Every write to leads (LEAD-1, LEAD-2, LEAD-3). One function per use case.

Each service is atomic, checks the actor's function permission (a public web form creates
leads with actor None: no permission to check), validates every field at once, and leaves an
audit entry. The status moves only by the flows: the first follow-up (new → contacted,
crm.leads.receivers), qualification, conversion and disqualification (crm.leads lead
actions); create and update never set it.

A lead has no customer yet, so its history is its audit trail (the lead page's history);
its lines join a customer's timeline when it is converted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record, diff
from crm.core.config import setting_get
from crm.core.customfields import custom_audit_snapshot, custom_clean_into
from crm.core.dictionaries import dictionary_is_valid, dictionary_label
from crm.core.duplicates import duplicate_keys_lock
from crm.core.errors import (
    ConflictError,
    DuplicateWarning,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.merge import merged_restore_refuse
from crm.core.models import AuditEntry
from crm.core.numbering import number_next
from crm.core.scope import user_can, users_who_can_own
from crm.core.text import name_fold, name_key, pinyin_initials, search_document
from crm.core.text import typed_text as _text
from crm.core.validators import (
    customer_name_validate,
    digits_only,
    email_normalize,
    person_name_validate,
    phone_normalize,
)
from crm.core.versioning import version_check
from crm.leads.clocks import lead_first_contact_due, lead_sla_state_at
from crm.leads.models import OPEN_STATUSES, Lead, LeadGrade, LeadStatus, SlaState
from crm.leads.selectors import lead_scope_q, leads_visible_to
from crm.leads.signals import lead_created

MODULE = "leads"
TEXT_FIELDS = {"title": 60, "requirement": 5000, "notes": 5000}
# The fields a user edits, in the order the audit trail lists them.
EDITABLE_FIELDS = [
    "company",
    "name",
    "title",
    "phone",
    "email",
    "source",
    "grade",
    "owner",
    "region",
    "requirement",
    "budget",
    "notes",
    "custom",
]
# Where a lead's keys may match (the duplicate check's fields) and what they compare.
DUPLICATE_FIELDS = ("company", "phone", "email")


def _require(actor: Any, action: str) -> None:
    if not user_can(actor, MODULE, action):
        raise PermissionDeniedError()


def _owner_refused() -> str:
    return _("Choose an active user within your data scope whose role gives access to leads.")


def _owner_input(data: dict[str, Any]) -> str:
    """The owner id the input asks for, as text; '' when the input leaves it blank."""
    value = data.get("owner_id") if "owner_id" in data else data.get("owner")
    value = getattr(value, "pk", value)
    return "" if value is None else str(value).strip()


def _locked(actor: Any, lead_id: int) -> Lead:
    """The lead row (live or binned), locked for this transaction, if the actor may see it
    (else 404). `of=("self",)`: PostgreSQL refuses FOR UPDATE on the nullable side of a join."""
    locked = (
        Lead.objects.select_for_update(of=("self",))
        .filter(lead_scope_q(actor), pk=lead_id)
        .select_related("owner", "updated_by", "deleted_by")
        .first()
    )
    if locked is None:
        raise NotFoundError()
    return locked


# --- validation -----------------------------------------------------------------------------


def _status_refused() -> str:
    return _(
        "The status changes by itself: the first follow-up marks a lead contacted; "
        "qualify, convert or disqualify it with their buttons."
    )


def lead_clean(
    *,
    actor: Any,
    data: dict[str, Any],
    current: Lead | None = None,
    owner_choices: dict[int, Any] | None = None,
) -> dict[str, Any]:
    """Validate the input (the whole lead on create, the fields sent on update).

    `owner_choices` ({id: user} of users_who_can_own for the actor, read once by an import)
    spares a query per row.

    Returns cleaned values; raises ValidationFailed naming every bad field at once.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    creating = current is None

    def fail(name: str, message: Any) -> None:
        errors.setdefault(name, []).append(str(message))

    def wanted(name: str) -> bool:
        return creating or name in data

    if "status" in data:
        status = _text(data.get("status"))
        unchanged = status == (current.status if current is not None else LeadStatus.NEW)
        if status and not unchanged:
            fail("status", _status_refused())

    if wanted("company"):
        try:
            cleaned["company"] = customer_name_validate(
                _text(data.get("company")), customer_type="enterprise"
            )
        except ValidationError as exc:
            if exc.code == "name_too_short":
                # A lead may come with a short name; converting it asks for the legal name.
                cleaned["company"] = " ".join(_text(data.get("company")).split())
            elif exc.code == "required":
                fail("company", _("Enter the company's name."))
            else:
                fail("company", exc.messages[0])

    if wanted("name"):
        try:
            cleaned["name"] = person_name_validate(_text(data.get("name")), max_length=60)
        except ValidationError as exc:
            required = exc.code == "required"
            fail("name", _("Enter the contact person's name.") if required else exc.messages[0])

    for name, normalize in (("phone", phone_normalize), ("email", email_normalize)):
        if not wanted(name):
            continue
        raw = _text(data.get(name))
        if not raw:
            cleaned[name] = ""
            continue
        try:
            cleaned[name] = normalize(raw)
        except ValidationError as exc:
            fail(name, exc.messages[0])
    phone = cleaned.get("phone", getattr(current, "phone", ""))
    email = cleaned.get("email", getattr(current, "email", ""))
    if not phone and not email and "phone" not in errors and "email" not in errors:
        fail("phone", _("Enter a valid phone number or email address (at least one)."))

    for name, kind in (("source", "source"), ("region", "region")):
        if not wanted(name):
            continue
        code = _text(data.get(name))
        unchanged = current is not None and code == getattr(current, name)
        if code and not unchanged and not dictionary_is_valid(kind, code):
            # The current value stays acceptable after an administrator retires it.
            fail(
                name,
                _("“%(value)s” is not in the list; choose one of the offered values.")
                % {"value": code},
            )
        else:
            cleaned[name] = code

    if wanted("grade"):
        grade = _text(data.get("grade")).upper()
        if not grade and creating:
            grade = LeadGrade.B
        if grade not in LeadGrade.values:
            fail("grade", _("Choose grade A, B or C."))
        else:
            cleaned["grade"] = grade

    for name, limit in TEXT_FIELDS.items():
        if wanted(name):
            value = _text(data.get(name))
            if len(value) > limit:
                fail(name, _("At most %(limit)d characters.") % {"limit": limit})
            cleaned[name] = value

    if wanted("budget"):
        raw = data.get("budget")
        if raw in (None, ""):
            cleaned["budget"] = None
        else:
            from crm.sales.services import _amount_parse  # the money parser of the sales module

            try:
                if isinstance(raw, bool):
                    raise ValueError
                cleaned["budget"] = _amount_parse(raw)
            except ValueError:
                fail("budget", _("Enter an amount in yuan, e.g. 150000 or 150000.00."))

    if creating or "owner" in data or "owner_id" in data:
        _owner_clean(
            actor=actor,
            data=data,
            current=current,
            cleaned=cleaned,
            fail=fail,
            owner_choices=owner_choices,
        )

    custom_clean_into(
        module=MODULE, data=data, current=current, cleaned=cleaned, errors=errors,
        only_if_sent=True,
    )  # fmt: skip
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _owner_clean(
    *,
    actor: Any,
    data: dict[str, Any],
    current: Lead | None,
    cleaned: dict[str, Any],
    fail: Any,
    owner_choices: dict[int, Any] | None = None,
) -> None:
    """The owner: empty = unassigned. Without leads.assign a user may only keep a lead or
    take it themselves; with it, give it to any user in their scope who could own leads."""
    asked = _owner_input(data)
    if actor is None:  # a public web form: the assignment rules give it its owner
        if current is None:
            cleaned["owner"] = None
        return
    may_assign = user_can(actor, MODULE, "assign")
    if current is not None and asked == str(current.owner_id or ""):
        return  # unchanged
    if not asked:
        if current is None:
            # A new lead: unassigned for those who assign (the rules may give it an owner),
            # else the creator's own, so they still see it.
            cleaned["owner"] = None if may_assign else actor
        elif may_assign:
            cleaned["owner"] = None
        else:
            fail("owner", _("You may not change the owner; ask someone who assigns leads."))
        return
    try:
        if owner_choices is not None:
            owner = owner_choices.get(int(asked))
        else:
            owner = users_who_can_own(actor=actor, module=MODULE).filter(pk=int(asked)).first()
    except (TypeError, ValueError, OverflowError):
        owner = None
    if owner is None:
        fail("owner", _owner_refused())
    elif owner.pk != actor.pk and not may_assign:
        fail("owner", _("You may not give a lead to someone else; ask someone who assigns leads."))
    elif current is not None and not may_assign and current.owner_id is not None:
        fail("owner", _("You may not change the owner; ask someone who assigns leads."))
    else:
        cleaned["owner"] = owner


# --- duplicates (CUS-6 rules) ---------------------------------------------------------------


def _lead_describe(actor: Any, lead: Lead) -> dict[str, Any]:
    """A matching lead: a link if the actor may see it, else only who owns it."""
    visible = actor is not None and leads_visible_to(actor).filter(pk=lead.pk).exists()
    if visible:
        return {
            "kind": "lead",
            "id": lead.pk,
            "number": lead.number,
            "name": lead.company,
            "visible": True,
            "url": _url("leads:detail", lead.pk),
        }
    owner = lead.owner.display_name if lead.owner_id else ""
    return {"kind": "lead", "owner": owner, "visible": False}


def _url(name: str, pk: int) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


def _duplicate_text(item: dict[str, Any]) -> str:
    if item["kind"] == "customer":
        template = _("A customer has the same %(what)s: %(who)s.")
    else:
        template = _("An open lead has the same %(what)s: %(who)s.")
    if item["visible"]:
        who = f"{item['number']} {item['name']}"
    elif item.get("owner"):
        who = _("owned by %(owner)s") % {"owner": item["owner"]}
    elif item["kind"] == "customer":
        who = _("in the public pool")
    else:
        who = _("not assigned yet")
    return template % {"what": _field_label(item["field"]), "who": who}


def _field_label(field: str) -> str:
    return {"company": _("company"), "phone": _("phone"), "email": _("email")}[field]


def lead_duplicates(
    *, actor: Any, values: dict[str, Any], exclude_id: int | None = None
) -> list[dict[str, Any]]:
    """The customers (by the customer archive's duplicate rules, crm.customers.services) and
    the open leads that match a lead's company, phone or email, each field once per kind:
    [{"kind": "customer"|"lead", "field", "visible", and "id"/"number"/"name"/"url" when the
    actor may see it, else "owner"}]. Locks the keys it looks for (crm.core.duplicates)."""
    from crm.customers.services import customer_duplicate_matches

    found: list[dict[str, Any]] = []
    for item in customer_duplicate_matches(
        actor=actor,
        values={
            "type": "enterprise",
            "name": values.get("company") or "",
            "phone": values.get("phone") or "",
            "email": values.get("email") or "",
        },
    ):
        item = {k: v for k, v in item.items() if k != "rule"}
        item["field"] = "company" if item["field"] == "name" else item["field"]
        if item.get("visible"):
            item["url"] = _url("customers:detail", item["id"])
        found.append({"kind": "customer", **item})

    rules = setting_get("duplicate_rules")
    checks: list[tuple[str, Q]] = []
    keys: dict[str, list[str]] = {}
    if values.get("company") and rules.get("name", "block") != "off":
        company_key = name_key(values["company"])[:100]
        keys["company"] = [company_key]
        checks.append(("company", Q(company_key=company_key)))
    if values.get("phone") and rules.get("phone", "warn") != "off":
        phone_digits = digits_only(values["phone"])
        keys["phone"] = [phone_digits]
        checks.append(("phone", Q(phone_digits=phone_digits)))
    if values.get("email") and rules.get("email", "warn") != "off":
        email_key = values["email"].lower()
        keys["email"] = [email_key]
        checks.append(("email", Q(email_key=email_key)))
    duplicate_keys_lock(module=MODULE, keys=keys)
    open_leads = Lead.objects.filter(deleted_at__isnull=True, status__in=OPEN_STATUSES)
    if exclude_id:
        open_leads = open_leads.exclude(pk=exclude_id)
    for field, condition in checks:
        match = open_leads.filter(condition).select_related("owner").order_by("id").first()
        if match is not None:
            found.append({"field": field, **_lead_describe(actor, match)})
    return found


def lead_duplicates_check(
    *, actor: Any, values: dict[str, Any], exclude_id: int | None, confirmed: bool
) -> None:
    """A lead that matches a customer or an open lead says so (409 duplicate_warning with the
    matches) unless confirmed; a lead never blocks: it may well be an existing customer's new
    need, and converting it links it to that customer."""
    if confirmed:
        return
    matches = lead_duplicates(actor=actor, values=values, exclude_id=exclude_id)
    if not matches:
        return
    fields: dict[str, list[str]] = {}
    for item in matches:
        fields.setdefault(item["field"], []).append(_duplicate_text(item))
    raise DuplicateWarning(fields=fields, extra={"warnings": matches})


# --- derived keys, history ------------------------------------------------------------------


def lead_search_values(lead: Any) -> dict[str, str]:
    """The derived duplicate and search keys of a lead (plain attributes only)."""
    phone_digits = digits_only(lead.phone)
    email_key = (lead.email or "").lower()
    pinyin = pinyin_initials(lead.company)[:100]
    parts = [
        name_fold(lead.company),
        (lead.number or "").lower(),
        pinyin,
        name_fold(lead.name),
        pinyin_initials(lead.name),
        phone_digits,
        name_fold(lead.phone),
        email_key,
    ]
    return {
        "company_key": name_key(lead.company)[:100],
        "phone_digits": phone_digits,
        "email_key": email_key,
        "pinyin": pinyin,
        "search_blob": " | ".join(dict.fromkeys(p for p in parts if p)),
        "search_document": search_document(list(dict.fromkeys(p for p in parts if p))),
    }


def _search_fields_set(lead: Lead) -> None:
    for name, value in lead_search_values(lead).items():
        setattr(lead, name, value)


def _display_snapshot(lead: Lead) -> dict[str, Any]:
    """Field values as a person reads them in the history."""
    return {
        "company": lead.company,
        "name": lead.name,
        "title": lead.title,
        "phone": lead.phone,
        "email": lead.email,
        "source": dictionary_label("source", lead.source),
        "grade": lead.grade,
        "owner": lead.owner.display_name if lead.owner_id else "",
        "region": dictionary_label("region", lead.region),
        "requirement": lead.requirement,
        "budget": lead.budget,
        "notes": lead.notes,
        "first_contact_due_at": lead.first_contact_due_at,
        **custom_audit_snapshot(MODULE, lead.custom),
    }


def _audit_actor(actor: Any, web_form: Any) -> Any:
    if actor is not None:
        return actor
    return _("Web form %(name)s") % {"name": web_form.name} if web_form else _("Web form")


def lead_sla_refresh(lead: Lead, *, now: dt.datetime | None = None) -> None:
    """The SLA deadline from the lead's grade and arrival (before its first contact), and its
    state at `now` (in memory; the caller saves)."""
    if lead.first_contacted_at is None:
        lead.first_contact_due_at = lead_first_contact_due(
            grade=lead.grade, start=lead.created_at or now or timezone.now()
        )
    lead.sla_state = lead_sla_state_at(lead=lead, now=now or timezone.now())


# --- writes ---------------------------------------------------------------------------------


@transaction.atomic
def lead_create(
    *,
    actor: Any,
    data: dict[str, Any],
    web_form: Any = None,
    confirm_duplicates: bool = False,
) -> Lead:
    """Create a lead numbered XS+yyyymm+seq, with its first-contact deadline from the grade
    (LEAD-3). `actor` None: a public web form (no permission check, created_by empty).

    Sends `lead_created` inside the transaction (the automatic assignment gives an unassigned
    lead its owner); the lead returned is read back after it.
    """
    if actor is not None:
        _require(actor, "create")
    values = lead_clean(actor=actor, data=data)
    lead_duplicates_check(actor=actor, values=values, exclude_id=None, confirmed=confirm_duplicates)
    lead = Lead(
        **values,
        status=LeadStatus.NEW,
        web_form=web_form,
        created_by=actor,
        updated_by=actor,
    )
    lead.number = number_next(key="lead")
    _search_fields_set(lead)
    lead.save()
    # The deadline counts from the saved arrival time (created_at is set by the save).
    lead_sla_refresh(lead, now=lead.created_at)
    lead.assigned_at = lead.created_at if lead.owner_id else None
    Lead.objects.filter(pk=lead.pk).update(
        first_contact_due_at=lead.first_contact_due_at,
        sla_state=lead.sla_state,
        assigned_at=lead.assigned_at,
    )
    audit_record(
        actor=_audit_actor(actor, web_form),
        action=AuditEntry.Action.CREATE,
        instance=lead,
        changes=diff({}, _display_snapshot(lead)),
    )
    lead_created.send(sender=Lead, lead=lead, actor=actor, web_form=web_form)
    lead.refresh_from_db()
    return lead


@transaction.atomic
def lead_update(
    *,
    actor: Any,
    lead: Lead,
    data: dict[str, Any],
    version: Any,
    confirm_duplicates: bool = False,
) -> Lead:
    """Apply the changed fields, refusing an edit made from a stale copy (409). A grade
    changed before the first contact moves the deadline (from the lead's arrival)."""
    _require(actor, "edit")
    locked = _locked(actor, lead.pk)
    if locked.deleted_at is not None:
        raise ConflictError(_("This lead is in the recycle bin; restore it first."))
    version_check(locked=locked, version=version, label=_("this lead"))
    if locked.status == LeadStatus.CONVERTED:
        raise ConflictError(_("This lead was converted; change the customer instead."))
    fields = {k: v for k, v in data.items() if k in EDITABLE_FIELDS or k in ("owner_id", "status")}
    values = lead_clean(actor=actor, data=fields, current=locked)
    before = _display_snapshot(locked)
    before_owner_id = locked.owner_id
    for name, value in values.items():
        setattr(locked, name, value)
    duplicate_values = {
        k: values[k] for k in DUPLICATE_FIELDS if k in values and values[k] != before.get(k)
    }
    if duplicate_values:
        lead_duplicates_check(
            actor=actor, values=duplicate_values, exclude_id=locked.pk, confirmed=confirm_duplicates
        )
    if "grade" in values:
        lead_sla_refresh(locked)
    changes = diff(before, _display_snapshot(locked))
    if not changes:
        return locked
    if locked.owner_id != before_owner_id:
        locked.assigned_at = timezone.now() if locked.owner_id else None
    locked.version += 1
    locked.updated_by = actor
    _search_fields_set(locked)
    locked.save()
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=locked, changes=changes)
    return locked


@transaction.atomic
def lead_delete(*, actor: Any, lead: Lead, version: Any = None) -> Lead:
    """Move a lead to the recycle bin (restorable). With `version`, checked like an edit; a
    lead already in the bin stays there and the call succeeds."""
    _require(actor, "delete")
    locked = _locked(actor, lead.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this lead"))
    if locked.deleted_at is not None:
        return locked
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    locked.version += 1
    locked.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
    audit_record(actor=actor, action=AuditEntry.Action.DELETE, instance=locked)
    return locked


@transaction.atomic
def lead_restore(*, actor: Any, lead: Lead, version: Any = None) -> Lead:
    """Bring a lead back from the recycle bin (versioned like delete)."""
    _require(actor, "delete")
    locked = _locked(actor, lead.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this lead"))
    if locked.deleted_at is None:
        return locked
    merged_restore_refuse(locked)
    locked.deleted_at = None
    locked.deleted_by = None
    locked.version += 1
    locked.updated_by = actor
    lead_sla_refresh(locked)
    locked.save(
        update_fields=[
            "deleted_at",
            "deleted_by",
            "version",
            "updated_by",
            "updated_at",
            "sla_state",
            "first_contact_due_at",
        ]
    )
    audit_record(actor=actor, action=AuditEntry.Action.RESTORE, instance=locked)
    return locked


def lead_first_contact(*, followup: Any, actor: Any) -> bool:
    """A follow-up was logged on a lead (crm.activities.signals.followup_logged; runs in the
    follow-up's transaction): the first one marks the lead first contacted, new → contacted,
    the SLA met; every one refreshes its last follow-up and clears its overdue flag.

    Derived columns: no version bump (an edit opened before the follow-up must not conflict);
    the first contact is audited on the lead. Returns whether this was the first contact.
    """
    lead = Lead.objects.select_for_update(of=("self",)).filter(pk=followup.lead_id).first()
    if lead is None:
        return False
    at = followup.occurred_at
    updates: dict[str, Any] = {"followup_overdue_since": None}
    if lead.last_followup_at is None or at > lead.last_followup_at:
        updates["last_followup_at"] = at
    first = lead.first_contacted_at is None
    changes: list[dict[str, Any]] = []
    if first:
        updates["first_contacted_at"] = at
        updates["sla_state"] = SlaState.MET
        changes.append({"field": "first_contacted_at", "before": None, "after": at.isoformat()})
        if lead.status == LeadStatus.NEW:
            updates["status"] = LeadStatus.CONTACTED
            changes.append(
                {
                    "field": "status",
                    "before": str(LeadStatus.NEW.label),
                    "after": str(LeadStatus.CONTACTED.label),
                }
            )
    Lead.objects.filter(pk=lead.pk).update(**updates)
    if changes:
        audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=lead, changes=changes)
    return first


def leads_purge_expired(*, now: dt.datetime | None = None) -> int:
    """The recycle-bin sweep for leads: remove those deleted longer ago than the retention
    ("recycle_bin_days"), with the follow-ups logged on them (cascade) and their files.
    Idempotent; each purge leaves an audit entry. A converted lead's follow-ups stay with
    their customer (they are the customer's too): only the lead link goes."""
    from crm.activities.models import FollowUp
    from crm.core.files import attachments_purge_for

    days = int(setting_get("recycle_bin_days"))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    purged = 0
    # A merged tombstone is never purged: its old URL and number lead to the survivor.
    for lead in Lead.objects.filter(deleted_at__lt=cutoff, merged_into__isnull=True).iterator():
        with transaction.atomic():
            audit_record(actor="system", action=AuditEntry.Action.PURGE, instance=lead)
            FollowUp.objects.filter(lead=lead, customer__isnull=False).update(lead=None)
            ids = list(FollowUp.objects.filter(lead=lead).values_list("pk", flat=True))
            attachments_purge_for(object_type="followup", object_ids=ids)
            lead.delete()
            purged += 1
    return purged
