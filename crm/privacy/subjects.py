"""Data-subject requests (PIPL, issue 8 §6): everything held about one person, exported or
anonymised. Administrators only (settings/configure), each request audited.

A person is a contact, an individual customer (type individual; an enterprise is not a person,
422) or a lead. "Everything held" about them, what the export lists and the anonymisation
rewrites:

- the record itself (and, for an individual customer, its contacts);
- follow-ups about them (the customer's, the contact's, the lead's) with their own history;
- the attachments list (names, sizes, who uploaded them; the files are downloaded apart);
- the audit history of the record (for a contact: the customer's entries about that contact);
- who revealed their contact details (audit action "reveal");
- the customer timeline lines about them;
- leads that were converted into them (the same person's earlier record).

Not held about them, so neither exported nor changed: notifications (they tell users about
their work), other contacts of an enterprise, users' own data.

Anonymising replaces the personal fields with a marker (已匿名化-<id>) or empties them,
recomputes the derived search keys (so search no longer finds them), and keeps every history
row while replacing the personal values inside them: in audit before/after values, the
records' names (object_repr), timeline data and follow-up texts, every old and current value
of the person's name, phone and email is replaced by the marker.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.models import Attachment, AuditEntry, TimelineEntry
from crm.core.scope import user_can
from crm.privacy.services import subject_get

MARKER = "已匿名化-{id}"
# Needles shorter than this are not searched for in free texts: one character would hit
# unrelated words.
NEEDLE_MIN = 2


def _require_admin(actor: Any) -> None:
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()


def _subject(actor: Any, kind: str, record_id: Any) -> Any:
    _require_admin(actor)
    record = subject_get(user=actor, kind=kind, record_id=record_id)
    if kind == "customer" and record.type != "individual":
        raise ValidationFailed(
            fields={
                "type": [
                    _(
                        "An enterprise customer is not a person; export or anonymise its "
                        "contacts instead."
                    )
                ]
            }
        )
    return record


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


# --- what is held ---------------------------------------------------------------------------


@dataclass
class Held:
    """The rows about one person, found once for the export and the anonymisation."""

    record: Any
    contacts: list[Any]
    followups: list[Any]
    attachments: list[Any]
    audit: list[AuditEntry]
    timeline: list[TimelineEntry]
    leads: list[Any]


def _ct(model_or_obj: Any) -> ContentType:
    return ContentType.objects.get_for_model(model_or_obj)


def _entries_about_contact(customer_id: int, names: set[str]) -> list[AuditEntry]:
    """The customer's audit entries that concern one of its contacts (by the contact's names)."""
    from crm.customers.models import Customer

    found = []
    for entry in AuditEntry.objects.filter(content_type=_ct(Customer), object_id=customer_id):
        for change in entry.changes or []:
            if not isinstance(change, dict):
                continue
            if change.get("contact") in names or (
                change.get("field") == "contacts"
                and (change.get("before") in names or change.get("after") in names)
            ):
                found.append(entry)
                break
    return found


def held(kind: str, record: Any) -> Held:
    from crm.activities.models import FollowUp
    from crm.leads.models import Lead

    if kind == "customer":
        followups = list(FollowUp.objects.filter(customer_id=record.pk).order_by("occurred_at"))
        fup_ids = [f.pk for f in followups]
        return Held(
            record=record,
            contacts=list(record.contacts.all()),
            followups=followups,
            attachments=list(Attachment.objects.filter(customer_id=record.pk)),
            audit=list(AuditEntry.objects.filter(content_type=_ct(record), object_id=record.pk))
            + list(AuditEntry.objects.filter(content_type=_ct(FollowUp), object_id__in=fup_ids)),
            timeline=list(TimelineEntry.objects.filter(customer_id=record.pk)),
            leads=list(Lead.objects.filter(converted_customer_id=record.pk)),
        )
    if kind == "contact":
        names = {record.name}
        followups = list(FollowUp.objects.filter(contact_id=record.pk).order_by("occurred_at"))
        audit = _entries_about_contact(record.customer_id, names)
        audit += list(AuditEntry.objects.filter(content_type=_ct(record), object_id=record.pk))
        audit += list(
            AuditEntry.objects.filter(
                content_type=_ct(FollowUp), object_id__in=[f.pk for f in followups]
            )
        )
        timeline = [
            t
            for t in TimelineEntry.objects.filter(
                customer_id=record.customer_id, kind="contact_change"
            )
            if (t.data or {}).get("contact") in names
        ]
        # The lines of the follow-ups with them (their summaries name them).
        timeline += list(
            TimelineEntry.objects.filter(
                customer_id=record.customer_id,
                object_type="followup",
                object_id__in=[f.pk for f in followups],
            )
        )
        return Held(
            record=record,
            contacts=[],
            followups=followups,
            attachments=[],
            audit=audit,
            timeline=timeline,
            leads=list(Lead.objects.filter(converted_contact_id=record.pk)),
        )
    followups = list(FollowUp.objects.filter(lead_id=record.pk).order_by("occurred_at"))
    return Held(
        record=record,
        contacts=[],
        followups=followups,
        attachments=list(Attachment.objects.filter(content_type=_ct(record), object_id=record.pk)),
        audit=list(AuditEntry.objects.filter(content_type=_ct(record), object_id=record.pk))
        + list(
            AuditEntry.objects.filter(
                content_type=_ct(FollowUp), object_id__in=[f.pk for f in followups]
            )
        ),
        timeline=[],
        leads=[],
    )


# --- export ---------------------------------------------------------------------------------

RECORD_FIELDS = {
    "customer": [
        "number", "type", "name", "phone", "email", "address", "industry", "source", "grade",
        "status", "first_contact_date", "requirement", "budget", "background",
        "decision_chain", "competitors", "remarks", "custom", "created_at", "updated_at",
    ],
    "contact": ["name", "title", "phone", "email", "notes", "is_primary", "custom", "created_at"],
    "lead": [
        "number", "company", "name", "title", "phone", "email", "source", "grade", "status",
        "region", "requirement", "budget", "notes", "custom", "created_at", "updated_at",
    ],
}  # fmt: skip
CONTACT_FIELDS = RECORD_FIELDS["contact"]
FOLLOWUP_FIELDS = ["occurred_at", "method", "summary", "feedback", "next_action", "next_goal"]


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    return _iso(value) if hasattr(value, "isoformat") else str(value)


def _row(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name, None)) for name in fields}


def personal_data(*, actor: Any, kind: str, record_id: Any) -> dict[str, Any]:
    """Everything held about the person, as one JSON-ready dict (sections listed in the
    module docstring). Audited (action personal_export)."""
    record = _subject(actor, kind, record_id)
    found = held(kind, record)
    record_row = _row(record, RECORD_FIELDS[kind])
    if kind == "contact":
        record_row["customer"] = {"number": record.customer.number, "name": record.customer.name}
    if kind in ("customer", "lead"):
        record_row["owner"] = record.owner.display_name if record.owner_id else ""
    data = {
        "subject": {
            "kind": kind,
            "id": record.pk,
            "exported_at": timezone.now().isoformat(),
            "exported_by": actor.display_name,
        },
        "record": record_row,
        "contacts": [_row(c, CONTACT_FIELDS) for c in found.contacts],
        "followups": [
            {**_row(f, FOLLOWUP_FIELDS), "author": str(f.author) if f.author_id else ""}
            for f in found.followups
        ],
        "attachments": [
            {"name": a.name, "size": a.size, "type": a.mime_type, "uploaded_at": _iso(a.created_at)}
            for a in found.attachments
        ],
        "audit": [
            {
                "at": _iso(e.created_at),
                "actor": e.actor_name,
                "action": e.action,
                "record": e.object_repr,
                "changes": e.changes,
                "ip": e.ip,
            }
            for e in sorted(found.audit, key=lambda e: (e.created_at, e.pk))
            if e.action != AuditEntry.Action.REVEAL
        ],
        "reveals": [
            {
                "at": _iso(e.created_at),
                "actor": e.actor_name,
                "record": e.object_repr,
                "field": (e.changes or [{}])[0].get("field", ""),
                "ip": e.ip,
            }
            for e in sorted(found.audit, key=lambda e: (e.created_at, e.pk))
            if e.action == AuditEntry.Action.REVEAL
        ],
        "timeline": [
            {"at": _iso(t.at), "kind": t.kind, "data": t.data}
            for t in sorted(found.timeline, key=lambda t: (t.at, t.pk))
        ],
        "leads": [_row(lead, RECORD_FIELDS["lead"]) for lead in found.leads],
    }
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditEntry.Action.PERSONAL_EXPORT,
            instance=record,
            changes=[{"field": "personal_data", "sections": [k for k in data if data[k]]}],
        )
    return data


def personal_data_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def personal_data_xlsx(data: dict[str, Any]) -> bytes:
    """One sheet per section. Every cell is written as a string (write_string), so a value
    such as "=HYPERLINK(...)" is never taken for a formula."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    for section, value in data.items():
        sheet = book.add_worksheet(section[:31])
        if isinstance(value, dict):
            for i, (key, item) in enumerate(value.items()):
                sheet.write_string(i, 0, str(key))
                sheet.write_string(i, 1, _cell(item))
            continue
        keys: list[str] = []
        for item in value:
            keys += [k for k in item if k not in keys]
        for j, key in enumerate(keys):
            sheet.write_string(0, j, key)
        for i, item in enumerate(value, start=1):
            for j, key in enumerate(keys):
                sheet.write_string(i, j, _cell(item.get(key)))
    book.close()
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


# --- anonymise ------------------------------------------------------------------------------

# The personal fields of each kind: text fields get the marker when they held something
# (name) or are emptied.
MARKED = {"customer": ["name"], "contact": ["name"], "lead": ["name"]}
EMPTIED = {
    "customer": ["phone", "email", "address", "remarks", "background", "decision_chain"],
    "contact": ["phone", "email", "notes"],
    "lead": ["phone", "email", "notes"],
}
# Audited field names whose before/after are personal values, wherever they appear.
AUDITED_PERSONAL = {
    "customer": {
        "name", "phone", "email", "address", "remarks", "background", "decision_chain",
        "contact.name", "contact.phone", "contact.email", "contact.notes", "contacts",
    },
    "contact": {"contact.name", "contact.phone", "contact.email", "contact.notes"},
    "lead": {"name", "phone", "email", "notes"},
}  # fmt: skip


def _scrub(value: Any, needles: list[str], marker: str) -> Any:
    """`value` with every needle replaced by the marker, in every string inside it."""
    if isinstance(value, str):
        for needle in needles:
            if needle in value:
                value = value.replace(needle, marker)
        return value
    if isinstance(value, list):
        return [_scrub(v, needles, marker) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, needles, marker) for k, v in value.items()}
    return value


def _scrub_changes(changes: Any, fields: set[str], marker: str, *, contact: Any = None) -> Any:
    """Personal fields' before/after replaced whole (an old remark is not the current one, so
    no needle would find it). With `contact`, only the changes about that contact."""
    if not isinstance(changes, list):
        return changes
    result = []
    for change in changes:
        about = contact is None or (isinstance(change, dict) and change.get("contact") in contact)
        if isinstance(change, dict) and change.get("field") in fields and about:
            change = {
                **change,
                **{s: marker for s in ("before", "after") if change.get(s) not in (None, "")},
            }
        result.append(change)
    return result


def _needles(kind: str, record: Any, found: Held) -> list[str]:
    """Every value of the person's name, phone and email ever held: current and audited."""
    values = {getattr(record, f, "") for f in ("name", "phone", "email")}
    for c in found.contacts:
        values |= {c.name, c.phone, c.email}
    for lead in found.leads:
        values |= {lead.name, lead.phone, lead.email}
    watched = {"name", "phone", "email", "contact.name", "contact.phone", "contact.email"}
    if kind == "contact":
        watched = {"contact.name", "contact.phone", "contact.email"}
    for entry in found.audit:
        for change in entry.changes or []:
            if not isinstance(change, dict) or change.get("field") not in watched:
                continue
            if kind == "contact" and change.get("contact") not in {record.name}:
                continue
            values |= {change.get("before"), change.get("after")}
    needles = [v for v in values if isinstance(v, str) and len(v) >= NEEDLE_MIN]
    return sorted(needles, key=len, reverse=True)  # longest first: a name inside an email


@transaction.atomic
def personal_data_anonymise(*, actor: Any, kind: str, record_id: Any) -> Any:
    """Replace the person's data with the marker everywhere it is held; history rows stay."""
    from crm.activities.models import FollowUp

    record = _subject(actor, kind, record_id)
    record = type(record).objects.select_for_update().get(pk=record.pk)
    found = held(kind, record)
    marker = MARKER.format(id=record.pk)
    needles = _needles(kind, record, found)
    old_name = record.name

    for name in MARKED[kind]:
        setattr(record, name, marker)
    for name in EMPTIED[kind]:
        setattr(record, name, "")
    record.custom = {}  # which custom fields hold personal data cannot be known: all go
    for contact in found.contacts:  # an individual customer's contacts are the person too
        contact.name, contact.phone, contact.email, contact.notes = (
            MARKER.format(id=f"{record.pk}-{contact.pk}"),
            "",
            "",
            "",
        )
        contact.phone_digits, contact.custom = "", {}
        contact.save()
    if kind == "customer":
        from crm.customers.services import customer_search_fields_refresh

        customer_search_fields_refresh(record, found.contacts, save=False)
    _derived_refresh(kind, record)
    if kind == "contact":
        from crm.customers.services import customer_search_fields_refresh

        customer_search_fields_refresh(record.customer)

    fields = AUDITED_PERSONAL[kind]
    contact_names = {old_name} if kind == "contact" else None
    for entry in found.audit:
        entry.changes = _scrub(
            _scrub_changes(entry.changes, fields, marker, contact=contact_names), needles, marker
        )
        entry.object_repr = _scrub(entry.object_repr, needles, marker)[:200]
    AuditEntry.objects.bulk_update(found.audit, ["changes", "object_repr"])
    timeline = found.timeline
    for line in timeline:
        line.data = _scrub(line.data, needles, marker)
    TimelineEntry.objects.bulk_update(timeline, ["data"])
    text_fields = ["summary", "feedback", "next_action", "next_goal"]
    for followup in found.followups:
        for name in text_fields:
            setattr(followup, name, _scrub(getattr(followup, name), needles, marker))
    FollowUp.objects.bulk_update(found.followups, text_fields)

    audit_record(
        actor=actor,
        action=AuditEntry.Action.ANONYMISE,
        instance=record,
        # The fields replaced, never their old values.
        changes=[{"field": name, "after": marker} for name in MARKED[kind]]
        + [{"field": name, "after": ""} for name in EMPTIED[kind]],
    )
    for lead in found.leads:  # the same person's lead, held apart
        personal_data_anonymise(actor=actor, kind="lead", record_id=lead.pk)
    return record


def _derived_refresh(kind: str, record: Any) -> None:
    """Save the record with its derived keys recomputed (search, duplicates, pinyin)."""
    from crm.core.validators import digits_only

    if kind == "lead":
        from crm.leads.services import lead_search_values

        for name, value in lead_search_values(record).items():
            setattr(record, name, value)
    if kind == "contact":
        record.phone_digits = digits_only(record.phone)
    if hasattr(record, "version"):
        record.version += 1  # an edit opened before the anonymisation is stale
    record.save()
