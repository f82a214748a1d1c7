"""Leads in imports (issue 8 §2): the batch writer (a trade-show list, a bought list).

Per batch: every row validated by lead_clean (the owner against users_who_can_own read once
per import), the duplicate keys locked at once, one lookup per match key, then bulk_create /
bulk_update with numbers taken in one update and the audit in one INSERT.

Rules:
- Match in the order asked (number, company (normalised name), phone, email) among the leads
  not in the recycle bin; the first key that finds one decides. A match the importer may not
  see is rejected ("An open lead has the same … : owned by X"), a converted lead too (its
  customer is changed instead).
- on_match skip / update_empty (only empty fields) / overwrite (non-empty cells replace; an
  empty cell never clears); an update needs leads.edit, an owner change what lead_clean
  asks (assign). A matched row that changes nothing counts as skipped.
- No match: create with status new, the first-contact deadline from the grade; the owner is
  the owner column or the importer.
- Duplicates of other customers/leads only warn in the forms (a lead never blocks): an
  import creates them, as a confirmed warning. Within the file, a second row with an earlier
  row's match key is rejected.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record_many, diff
from crm.core.duplicates import duplicate_keys_lock
from crm.core.errors import ValidationFailed
from crm.core.models import AuditEntry
from crm.core.numbering import number_next_many
from crm.core.scope import user_can, users_who_can_own
from crm.core.text import name_key
from crm.core.validators import digits_only, email_normalize, phone_normalize
from crm.dataio.registry import ImportContext, ImportRow, ImportSpec
from crm.leads.models import Lead, LeadStatus
from crm.leads.services import (
    EDITABLE_FIELDS,
    MODULE,
    _display_snapshot,
    _duplicate_text,
    _search_fields_set,
    lead_clean,
    lead_sla_refresh,
)

MATCH_KEYS = ("number", "company", "phone", "email")
DEFAULT_MATCH = ("number", "phone", "email")
INPUT = [f for f in EDITABLE_FIELDS if f != "custom"]
LOOKUP = {
    "number": "number",
    "company": "company_key",
    "phone": "phone_digits",
    "email": "email_key",
}


def _normalised(field: str, value: Any) -> str:
    if value in (None, ""):
        return ""
    text = str(value).strip()
    try:
        if field == "company":
            return name_key(text)[:100]
        if field == "phone":
            return digits_only(phone_normalize(text))
        if field == "email":
            return email_normalize(text).lower()
    except ValidationError:
        return ""
    return text


def _context(ctx: ImportContext) -> dict[str, Any]:
    memo = ctx.cache
    if "owners" not in memo:
        memo["owners"] = {u.pk: u for u in users_who_can_own(actor=ctx.actor, module=MODULE)}
        memo["can_edit"] = user_can(ctx.actor, MODULE, "edit")
    return memo


class _Row:
    __slots__ = ("changes", "data", "existing", "keys", "row", "values")

    def __init__(self, row: ImportRow) -> None:
        self.row = row
        self.data = {k: v for k, v in row.values.items() if k in INPUT}
        if "custom" in row.values:
            self.data["custom"] = row.values["custom"]
        self.keys = {f: _normalised(f, row.values.get(f)) for f in MATCH_KEYS}
        self.existing: Lead | None = None
        self.values: dict[str, Any] = {}
        self.changes: list[dict[str, Any]] = []


def _label(field: str) -> str:
    return {
        "number": _("number"),
        "company": _("company"),
        "phone": _("phone"),
        "email": _("email"),
    }[field]


def leads_write_batch(ctx: ImportContext, rows: list[ImportRow]) -> None:
    memo = _context(ctx)
    work = [_Row(r) for r in rows]
    for w in work:
        for field in ctx.match:
            value = w.keys[field]
            earlier = ctx.seen_before(field, value, w.row.line) if value else None
            if earlier is not None:
                w.row.reject(
                    field,
                    _("The same %(what)s as row %(row)s of this file.")
                    % {"what": _label(field), "row": earlier},
                )
                break
    live = [w for w in work if w.row.outcome != "reject"]
    lock: dict[str, set[str]] = {}
    for w in live:
        for field in ("company", "phone", "email"):
            if w.keys[field]:
                lock.setdefault(field, set()).add(w.keys[field])
    duplicate_keys_lock(module=MODULE, keys=lock)
    from crm.leads.selectors import leads_visible_to

    base = (
        Lead.objects.filter(deleted_at__isnull=True)
        .select_related("owner")
        .defer("search_blob", "search_document")
        .annotate(_visible=Exists(leads_visible_to(ctx.actor).filter(pk=OuterRef("pk"))))
        .order_by("id")
    )
    found: dict[str, dict[str, Lead]] = {}
    for field in ctx.match:
        values = sorted({w.keys[field] for w in live if w.keys[field]})
        if not values:
            continue
        column = LOOKUP[field]
        by_value: dict[str, Lead] = {}
        for lead in base.filter(**{f"{column}__in": values}):
            by_value.setdefault(getattr(lead, column), lead)
        found[field] = by_value
    creates: list[_Row] = []
    updates: list[_Row] = []
    for w in live:
        hit_field = ""
        for field in ctx.match:
            hit = found.get(field, {}).get(w.keys[field]) if w.keys[field] else None
            if hit is not None:
                w.existing, hit_field = hit, field
                break
        if w.existing is None:
            if _create_clean(ctx, memo, w):
                creates.append(w)
            continue
        existing = w.existing
        if not existing._visible:  # type: ignore[attr-defined]
            owner = existing.owner.display_name if existing.owner_id else ""
            w.row.reject(
                hit_field,
                _duplicate_text(
                    {
                        "kind": "lead",
                        "field": "company" if hit_field == "number" else hit_field,
                        "visible": False,
                        "owner": owner,
                    }
                ),
            )
        elif existing.status == LeadStatus.CONVERTED and ctx.on_match != "skip":
            w.row.reject(hit_field, _("This lead was converted; change the customer instead."))
        elif ctx.on_match == "skip":
            w.row.outcome = "skip"
        elif _update_clean(ctx, memo, w, hit_field):
            updates.append(w)
    if creates:
        _create_write(ctx, creates)
    if updates:
        _update_write(ctx, updates)


def _create_clean(ctx: ImportContext, memo: dict[str, Any], w: _Row) -> bool:
    data = dict(w.data)
    if data.get("owner") is None:
        data["owner"] = ctx.actor.pk
    try:
        w.values = lead_clean(actor=ctx.actor, data=data, owner_choices=memo["owners"])
    except ValidationFailed as exc:
        w.row.reject_all(exc)
        return False
    w.row.outcome = "create"
    return True


def _create_write(ctx: ImportContext, rows: list[_Row]) -> None:
    actor = ctx.actor
    now = timezone.now()
    numbers = number_next_many(key="lead", count=len(rows))
    leads: list[Lead] = []
    for w, number in zip(rows, numbers, strict=True):
        lead = Lead(
            **w.values,
            status=LeadStatus.NEW,
            created_by=actor,
            updated_by=actor,
            number=number,
        )
        _search_fields_set(lead)
        lead.created_at = now
        lead_sla_refresh(lead, now=now)
        lead.assigned_at = now if lead.owner_id else None
        leads.append(lead)
    Lead.objects.bulk_create(leads)
    audit_record_many(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        entries=[(lead, diff({}, _display_snapshot(lead))) for lead in leads],
    )


def _update_clean(ctx: ImportContext, memo: dict[str, Any], w: _Row, hit_field: str) -> bool:
    existing = w.existing
    assert existing is not None
    if not memo["can_edit"]:
        w.row.reject(
            hit_field, _("You may not edit leads; import with “skip” for the matched rows.")
        )
        return False
    fields: dict[str, Any] = {}
    for name, value in w.data.items():
        if name == "custom":
            custom = ctx.custom_changes(existing.custom, value)
            if custom:
                fields["custom"] = custom
            continue
        if name == "owner":
            if value == existing.owner_id or (
                ctx.on_match == "update_empty" and existing.owner_id is not None
            ):
                continue
            fields["owner"] = value
            continue
        if ctx.keeps(getattr(existing, name, None)):
            continue
        fields[name] = value
    if not fields:
        w.row.outcome = "skip"
        return False
    try:
        values = lead_clean(
            actor=ctx.actor, data=fields, current=existing, owner_choices=memo["owners"]
        )
    except ValidationFailed as exc:
        w.row.reject_all(exc)
        return False
    before = _display_snapshot(existing)
    before_owner = existing.owner_id
    for name, value in values.items():
        setattr(existing, name, value)
    if "grade" in values:
        lead_sla_refresh(existing)
    changes = diff(before, _display_snapshot(existing))
    if not changes:
        w.row.outcome = "skip"
        return False
    if existing.owner_id != before_owner:
        existing.assigned_at = timezone.now() if existing.owner_id else None
    w.changes = changes
    w.row.outcome = "update"
    return True


def _update_write(ctx: ImportContext, rows: list[_Row]) -> None:
    actor = ctx.actor
    now = timezone.now()
    leads = [w.existing for w in rows if w.existing is not None]
    for lead in leads:
        lead.version += 1
        lead.updated_by = actor
        lead.updated_at = now
        _search_fields_set(lead)
    Lead.objects.bulk_update(
        leads,
        [
            *INPUT,
            "custom",
            "version",
            "updated_by",
            "updated_at",
            "assigned_at",
            "first_contact_due_at",
            "sla_state",
            "company_key",
            "phone_digits",
            "email_key",
            "pinyin",
            "search_blob",
            "search_document",
        ],
    )
    audit_record_many(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        entries=[(w.existing, w.changes) for w in rows if w.existing is not None],
    )


def lead_import_example() -> dict[str, Any]:
    return {
        "company": "示例展会科技有限公司",
        "name": "王小明",
        "title": "市场总监",
        "phone": "13800138000",
        "email": "wang@example.com",
        "grade": "B",
        "budget": "50000",
        "requirement": "展会上咨询 CRM 方案",
    }


IMPORT_SPEC = ImportSpec(
    match_keys=MATCH_KEYS,
    default_match=DEFAULT_MATCH,
    write_batch=leads_write_batch,
    action="create",
    example=lead_import_example,
)
