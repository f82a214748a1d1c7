"""What a lead becomes (LEAD-4; issue 7 §1): conversion into a customer, its contact and
optionally an opportunity, in one step; qualification (new/contacted → qualified); and
disqualification with a reason, which can be undone.

Conversion is one transaction: the customer through the customer archive's own service (its
field rules and duplicate rules apply: 409 with the matches until confirmed, 422 with the
customer's field names), or an existing customer the actor can see (the lead's person added
as a contact, or a matching contact reused); the opportunity through the sales service, at
the first stage; the lead keeps its history and links to what it became, and its follow-ups
appear on the customer's timeline.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record
from crm.core.dictionaries import dictionary_is_valid, dictionary_items, dictionary_label
from crm.core.errors import ConflictError, PermissionDeniedError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.scope import user_can
from crm.core.text import typed_text as _text
from crm.core.timeline import timeline_record
from crm.core.validators import digits_only
from crm.leads.assignment import lead_locked
from crm.leads.clocks import lead_sla_state_at
from crm.leads.models import Lead, LeadStatus

MODULE = "leads"
REASON_KIND = "lead_disqualify_reason"
NOTE_LIMIT = 2000
# The customer fields a conversion may set (the rest are the archive's own).
CUSTOMER_FIELDS = {
    "type",
    "name",
    "industry",
    "source",
    "grade",
    "status",
    "owner_id",
    "phone",
    "email",
    "credit_code",
    "address",
    "background",
    "remarks",
    "first_contact_date",
    "requirement",
    "budget",
    "decision_chain",
    "competitors",
    "contacts",
}
OPPORTUNITY_FIELDS = {"name", "amount", "expected_close_date", "description"}


def _require(actor: Any, action: str) -> None:
    if not user_can(actor, MODULE, action):
        raise PermissionDeniedError()


def _refuse_closed(lead: Lead) -> None:
    if lead.deleted_at is not None:
        raise ConflictError(_("This lead is in the recycle bin; restore it first."))
    if lead.status == LeadStatus.CONVERTED:
        raise ConflictError(_("This lead is already converted."))


def lead_customer_defaults(lead: Lead, *, actor: Any = None) -> dict[str, Any]:
    """The new customer's fields as the lead gives them (the convert page's prefill)."""
    source = lead.source if lead.source and dictionary_is_valid("source", lead.source) else ""
    data: dict[str, Any] = {
        "type": "enterprise",
        "name": lead.company,
        "source": source,
        "grade": lead.grade,
        "status": "potential",
        "owner_id": lead.owner_id or getattr(actor, "pk", None),
        "phone": lead.phone,
        "email": lead.email,
        "requirement": lead.requirement,
        "budget": lead.budget,
        "remarks": lead.notes,
    }
    if lead.first_contacted_at:
        data["first_contact_date"] = timezone.localdate(lead.first_contacted_at)
    return data


def _lead_person(lead: Lead) -> dict[str, Any]:
    return {
        "name": lead.name,
        "title": lead.title,
        "phone": lead.phone,
        "email": lead.email,
        "notes": "",
        "is_primary": True,
    }


def _new_customer(actor: Any, lead: Lead, given: dict[str, Any], confirm: bool):
    from crm.customers.services import customer_create

    data = lead_customer_defaults(lead, actor=actor)
    data.update({k: v for k, v in given.items() if k in CUSTOMER_FIELDS and k != "contacts"})
    if data.get("type") == "individual" and "name" not in given:
        data["name"] = lead.name  # a person is their own customer
    contacts = given.get("contacts")
    if contacts is None:
        contacts = [] if data.get("type") == "individual" else [_lead_person(lead)]
    customer = customer_create(
        actor=actor, data=data, contacts=list(contacts), confirm_duplicates=confirm
    )
    contact = customer.contacts.order_by("-is_primary", "id").first()
    return customer, contact


def _existing_customer(actor: Any, lead: Lead, customer_id: Any):
    from crm.customers.models import Contact
    from crm.customers.selectors import customers_visible_to
    from crm.customers.services import contact_create

    raw = getattr(customer_id, "pk", customer_id)
    customer = None
    if not isinstance(raw, bool) and str(raw).strip().isdigit():
        customer = (
            customers_visible_to(actor)
            .filter(pk=int(str(raw).strip()), deleted_at__isnull=True)
            .first()
        )
    if customer is None:
        raise ValidationFailed(
            fields={"customer_id": [_("Choose a customer within your data scope.")]}
        )
    contacts = Contact.objects.filter(customer=customer).order_by("-is_primary", "id")
    phone = digits_only(lead.phone)
    email = (lead.email or "").lower()
    match = None
    if phone:
        match = contacts.filter(phone_digits=phone).first()
    if match is None and email:
        match = contacts.filter(email__iexact=email).first()
    if match is None and not phone and not email:
        match = contacts.filter(name=lead.name).first()
    if match is None:
        person = _lead_person(lead)
        person["is_primary"] = False
        match = contact_create(actor=actor, customer=customer, data=person)
    return customer, match


def _prefixed(exc: ValidationFailed, prefix: str) -> ValidationFailed:
    return ValidationFailed(
        exc.message, fields={f"{prefix}{name}": msgs for name, msgs in exc.fields.items()}
    )


def _new_opportunity(actor: Any, lead: Lead, customer: Any, contact: Any, given: dict[str, Any]):
    from crm.sales.services import opportunity_create

    data = {k: v for k, v in given.items() if k in OPPORTUNITY_FIELDS}
    data.setdefault("name", "")
    data.update(
        {
            "customer_id": customer.pk,
            "contact_id": getattr(contact, "pk", None),
            "owner_id": lead.owner_id or customer.owner_id or actor.pk,
            "source": lead.source
            if lead.source and dictionary_is_valid("source", lead.source)
            else "",
        }
    )
    try:
        return opportunity_create(actor=actor, data=data)
    except ValidationFailed as exc:
        raise _prefixed(exc, "opportunity.") from None


def lead_converted_timeline_text(data: dict[str, Any]) -> str:
    """The customer timeline's line for a conversion, in the reader's language."""
    return _("Converted from lead %(number)s (%(company)s, %(name)s)") % {
        "number": data.get("number", ""),
        "company": data.get("company", ""),
        "name": data.get("name", ""),
    }


@transaction.atomic
def lead_convert(
    *,
    actor: Any,
    lead: Lead,
    customer_id: Any = None,
    customer: dict[str, Any] | None = None,
    opportunity: dict[str, Any] | None = None,
    confirm_duplicates: bool = False,
) -> tuple[Any, Any, Any]:
    """Convert the lead: (customer, contact, opportunity or None). Needs `leads.edit` (and
    what the customer archive and the pipeline ask for their parts)."""
    from crm.activities.services import followups_lead_to_customer

    _require(actor, "edit")
    locked = lead_locked(actor, lead.pk)
    _refuse_closed(locked)
    if locked.status == LeadStatus.DISQUALIFIED:
        raise ConflictError(_("This lead is disqualified; requalify it before converting it."))
    if customer_id not in (None, ""):
        target, contact = _existing_customer(actor, locked, customer_id)
    else:
        target, contact = _new_customer(actor, locked, dict(customer or {}), confirm_duplicates)
    opp = None
    if opportunity:
        opp = _new_opportunity(actor, locked, target, contact, dict(opportunity))

    now = timezone.now()
    before_status = locked.status
    locked.status = LeadStatus.CONVERTED
    locked.converted_customer = target
    locked.converted_contact = contact
    locked.converted_opportunity = opp
    locked.converted_at = now
    locked.converted_by = actor
    locked.sla_state = lead_sla_state_at(lead=locked, now=now)
    locked.followup_overdue_since = None
    locked.version += 1
    locked.updated_by = actor
    locked.save()
    changes = [
        {
            "field": "status",
            "before": str(LeadStatus(before_status).label),
            "after": str(LeadStatus.CONVERTED.label),
        },
        {"field": "converted_customer", "before": None, "after": f"{target.number} {target.name}"},
        {"field": "converted_contact", "before": None, "after": contact.name if contact else ""},
    ]
    if opp is not None:
        changes.append(
            {"field": "converted_opportunity", "before": None, "after": f"{opp.number} {opp.name}"}
        )
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=locked, changes=changes)
    timeline_record(
        customer_id=target.pk,
        kind="lead_converted",
        actor=actor,
        owner_id=target.owner_id,
        object_type="lead",
        object_id=locked.pk,
        data={"number": locked.number, "company": locked.company, "name": locked.name},
        at=now,
    )
    followups_lead_to_customer(actor=actor, lead_id=locked.pk, customer=target, contact=contact)
    for name in ("status", "converted_customer", "converted_contact", "converted_opportunity"):
        setattr(lead, name, getattr(locked, name))
    lead.version = locked.version
    return target, contact, opp


# --- qualification ---------------------------------------------------------------------------

QUALIFIABLE = (LeadStatus.NEW, LeadStatus.CONTACTED)


@transaction.atomic
def lead_qualify(*, actor: Any, lead: Lead) -> Lead:
    """Confirm a new or contacted lead as qualified (a real need worth converting). The lead
    stays open: its first-contact clock and cadence go on (their stored states, as the sweep
    left them, are kept) until a follow-up or the conversion settles them. 409 for a
    converted, disqualified or already qualified lead."""
    _require(actor, "edit")
    locked = lead_locked(actor, lead.pk)
    _refuse_closed(locked)
    if locked.status == LeadStatus.DISQUALIFIED:
        raise ConflictError(_("This lead is disqualified; requalify it first."))
    if locked.status not in QUALIFIABLE:
        raise ConflictError(_("This lead is already qualified."))
    before = locked.status
    locked.status = LeadStatus.QUALIFIED  # still open: its stored clocks stand as they are
    locked.version += 1
    locked.updated_by = actor
    locked.save()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=locked,
        changes=[
            {
                "field": "status",
                "before": str(LeadStatus(before).label),
                "after": str(LeadStatus.QUALIFIED.label),
            }
        ],
    )
    lead.status, lead.version = locked.status, locked.version
    return locked


# --- disqualification ------------------------------------------------------------------------


def disqualify_reason_clean(reason: Any) -> str:
    """The reason's code: a code or a label of the active list entries, else 422."""
    value = _text(reason)
    if value and dictionary_is_valid(REASON_KIND, value):
        return value
    for item in dictionary_items(REASON_KIND):
        if value and value in (item.label, item.label_en):
            return item.code
    raise ValidationFailed(
        fields={
            "reason": [
                _("Choose a reason from the list: %(choices)s.")
                % {"choices": "、".join(i.display_label for i in dictionary_items(REASON_KIND))}
            ]
        }
    )


@transaction.atomic
def lead_disqualify(*, actor: Any, lead: Lead, reason: Any, note: Any = "") -> Lead:
    """Close a lead as disqualified with a reason from the list (and a note); undone by
    `lead_requalify`, which puts back the status it had."""
    _require(actor, "edit")
    code = disqualify_reason_clean(reason)
    text = _text(note)
    if len(text) > NOTE_LIMIT:
        raise ValidationFailed(
            fields={"note": [_("At most %(limit)d characters.") % {"limit": NOTE_LIMIT}]}
        )
    locked = lead_locked(actor, lead.pk)
    _refuse_closed(locked)
    if locked.status == LeadStatus.DISQUALIFIED:
        raise ConflictError(_("This lead is already disqualified."))
    now = timezone.now()
    before = locked.status
    locked.status_before_disqualify = before
    locked.status = LeadStatus.DISQUALIFIED
    locked.disqualify_reason = code
    locked.disqualify_note = text
    locked.disqualified_at = now
    locked.sla_state = lead_sla_state_at(lead=locked, now=now)
    locked.followup_overdue_since = None
    locked.version += 1
    locked.updated_by = actor
    locked.save()
    changes = [
        {
            "field": "status",
            "before": str(LeadStatus(before).label),
            "after": str(LeadStatus.DISQUALIFIED.label),
        },
        {
            "field": "disqualify_reason",
            "before": None,
            "after": dictionary_label(REASON_KIND, code),
        },
    ]
    if text:
        changes.append({"field": "disqualify_note", "before": None, "after": text})
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=locked, changes=changes)
    lead.status, lead.version = locked.status, locked.version
    return locked


@transaction.atomic
def lead_requalify(*, actor: Any, lead: Lead) -> Lead:
    """Undo a disqualification: the lead goes back to the status it had before."""
    _require(actor, "edit")
    locked = lead_locked(actor, lead.pk)
    if locked.deleted_at is not None:
        raise ConflictError(_("This lead is in the recycle bin; restore it first."))
    if locked.status != LeadStatus.DISQUALIFIED:
        raise ConflictError(_("Only a disqualified lead can be requalified."))
    back = locked.status_before_disqualify
    if back not in (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED):
        back = LeadStatus.CONTACTED if locked.first_contacted_at else LeadStatus.NEW
    reason = dictionary_label(REASON_KIND, locked.disqualify_reason)
    locked.status = back
    locked.status_before_disqualify = ""
    locked.disqualify_reason = ""
    locked.disqualify_note = ""
    locked.disqualified_at = None
    locked.sla_state = lead_sla_state_at(lead=locked, now=timezone.now())
    locked.version += 1
    locked.updated_by = actor
    locked.save()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=locked,
        changes=[
            {
                "field": "status",
                "before": str(LeadStatus.DISQUALIFIED.label),
                "after": str(LeadStatus(back).label),
            },
            {"field": "disqualify_reason", "before": reason, "after": None},
        ],
    )
    lead.status, lead.version = locked.status, locked.version
    return locked
