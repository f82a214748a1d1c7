"""Customers (with their primary contact) in imports (issue 8 §2): the batch writer.

The engine (crm.dataio.imports) reads the file and hands batches of parsed rows here. Per
batch: every row is validated by the archive's own rules (customer_clean, contact_clean,
with the owner checked against the actor's users_who_can_own read once per import), the
duplicate keys of the whole batch are locked at once (crm.core.duplicates), then looked up
with one query per key, and the rows are written with bulk_create / bulk_update, numbers
taken in one update (number_next_many), audit and timeline in one INSERT each.

Rules (documented in /work/notes/CONTRACTS-import.md):
- Match in the order asked (number, credit_code, name (normalised), phone, email): the first
  key with an existing live customer decides. A match the importer may not see is a
  duplicate: rejected with the create form's message ("... already exists: owned by X").
- on_match skip: nothing; update_empty: only the customer's empty fields take the file's
  value; overwrite: every non-empty cell replaces the value (an empty cell never clears).
  An update needs the edit permission, a different owner the transfer permission; the
  status never changes through an import (the lifecycle action does that); the contact.*
  cells apply to the primary contact by the same mode (contact_clean's rules, audited on the
  customer like a contact edit). A matched row that changes nothing counts as skipped.
- No match: create, with the primary contact from the contact.* columns (an enterprise
  needs one, as in the form; an individual is their own contact).
- Duplicate rules (Settings): a block-rule duplicate is rejected with the form's message;
  a warn-rule duplicate does not stop an import row (an import cannot ask "save anyway?",
  and the same phone for two companies is common); it is created like a confirmed warning.
- Within the file: a second row with the same value of a match key or of a block-rule key
  as an earlier row is rejected ("the same ... as row N").
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record_many, diff
from crm.core.config import setting_get
from crm.core.duplicates import duplicate_keys_lock
from crm.core.errors import ValidationFailed
from crm.core.models import AuditEntry
from crm.core.numbering import number_next_many
from crm.core.scope import scope_filter, user_can, users_who_can_own
from crm.core.text import name_key
from crm.core.timeline import timeline_owner_set, timeline_record_many
from crm.core.validators import (
    credit_code_normalize,
    digits_only,
    email_normalize,
    phone_normalize,
)
from crm.customers.models import Contact, Customer, CustomerType
from crm.customers.services import (
    EDITABLE_FIELDS,
    MODULE,
    SEARCH_FIELDS,
    _contact_snapshot,
    _describe_text,
    _display_snapshot,
    _field_label,
    _owner_clocks_reset,
    _timeline_lines,
    contact_clean,
    customer_clean,
    customer_search_fields_refresh,
)
from crm.customers.timeline import OBJECT_TYPE
from crm.dataio.registry import ImportContext, ImportRow, ImportSpec

MATCH_KEYS = ("number", "credit_code", "name", "phone", "email")
DEFAULT_MATCH = ("number", "credit_code", "name")
CUSTOMER_INPUT = [f for f in EDITABLE_FIELDS if f != "custom"]
CONTACT_INPUT = ("name", "title", "phone", "email")


def _normalised(field: str, value: Any) -> str:
    return _normalised_text(field, "" if value is None else str(value))


@functools.lru_cache(maxsize=16384)
def _normalised_text(field: str, value: str) -> str:
    """The key a value is matched and checked by ("" when it cannot be read: the clean
    step reports it)."""
    if value in (None, ""):
        return ""
    text = str(value).strip()
    try:
        if field == "name":
            return name_key(text)[:100]
        if field == "credit_code":
            return credit_code_normalize(text)
        if field == "phone":
            return digits_only(phone_normalize(text))
        if field == "email":
            return email_normalize(text).lower()
    except ValidationError:
        return ""
    return text  # number


LOOKUP = {
    "number": "number",
    "credit_code": "credit_code",
    "name": "name_key",
    "phone": "phone_digits",
    "email": "email_key",
}


def _context(ctx: ImportContext) -> dict[str, Any]:
    """Once per import: the owners the actor may assign, the rules, the permissions."""
    memo = ctx.cache
    if "owners" not in memo:
        owners = users_who_can_own(actor=ctx.actor, module=MODULE)
        memo["owners"] = {u.pk: u for u in owners}
        memo["rules"] = setting_get("duplicate_rules")
        memo["can_edit"] = user_can(ctx.actor, MODULE, "edit")
        memo["can_transfer"] = user_can(ctx.actor, MODULE, "transfer")
        scope = scope_filter(ctx.actor, MODULE)
        memo["visible"] = (
            Value(True) if scope == Q() else ExpressionWrapper(scope, output_field=BooleanField())
        )
    return memo


def _rule(memo: dict[str, Any], field: str, ctype: str) -> str:
    default = "block" if field in ("name", "credit_code") else "warn"
    rule = memo["rules"].get(field, default)
    if field == "name" and ctype == CustomerType.INDIVIDUAL and rule == "block":
        rule = "warn"  # as customer_duplicate_matches: never block on a person's name
    return rule


class _Row:
    """The writer's working state of one row."""

    __slots__ = (
        "changes",
        "contact",
        "ctype",
        "data",
        "existing",
        "keys",
        "matched",
        "row",
        "values",
    )

    def __init__(self, row: ImportRow) -> None:
        self.row = row
        self.data = {k: v for k, v in row.values.items() if k in CUSTOMER_INPUT}
        if "custom" in row.values:
            self.data["custom"] = row.values["custom"]
        self.contact = {
            k.removeprefix("contact."): v
            for k, v in row.values.items()
            if k.startswith("contact.") and k.removeprefix("contact.") in CONTACT_INPUT
        }
        self.ctype = str(self.data.get("type") or CustomerType.ENTERPRISE)
        self.keys = {f: _normalised(f, row.values.get(f)) for f in MATCH_KEYS}
        self.existing: Customer | None = None
        self.matched = ""  # the match key that found `existing`
        self.values: dict[str, Any] = {}
        self.changes: list[dict[str, Any]] = []


def customers_write_batch(ctx: ImportContext, rows: list[ImportRow]) -> None:
    memo = _context(ctx)
    work = [_Row(r) for r in rows]
    # Within the file: a second row with an earlier row's key.
    for w in work:
        for field in MATCH_KEYS:
            value = w.keys[field]
            if not value:
                continue
            if field not in ctx.match and _rule(memo, field, w.ctype) != "block":
                continue
            earlier = ctx.seen_before(field, value, w.row.line)
            if earlier is not None:
                w.row.reject(
                    field,
                    _("The same %(what)s as row %(row)s of this file.")
                    % {
                        "what": _field_label(field) if field != "number" else _("number"),
                        "row": earlier,
                    },
                )
                break
    live = [w for w in work if w.row.outcome != "reject"]
    # Lock every key of the batch at once (sorted, one statement), then look them up.
    lock: dict[str, set[str]] = {}
    for w in live:
        for field in ("name", "credit_code", "phone", "email"):
            if w.keys[field]:
                lock.setdefault(field, set()).add(w.keys[field])
        phone = _normalised("phone", w.contact.get("phone"))
        if phone:
            lock.setdefault("phone", set()).add(phone)
    duplicate_keys_lock(module=MODULE, keys=lock)
    found: dict[str, dict[str, list[Customer]]] = {}
    wanted = set(ctx.match) | {"name", "credit_code", "phone", "email"}
    base = (
        Customer.objects.filter(deleted_at__isnull=True)
        .select_related("owner")
        .defer("search_blob", "search_document")
        .annotate(_visible=memo["visible"])
        .order_by("id")
    )
    for field in MATCH_KEYS:
        if field not in wanted:
            continue
        values = {w.keys[field] for w in live if w.keys[field]}
        if field == "phone":
            values |= {_normalised("phone", w.contact.get("phone")) for w in live} - {""}
        if field not in ctx.match and _rule(memo, field, CustomerType.ENTERPRISE) != "block":
            continue  # neither matched by nor blocking: no lookup
        if not values:
            continue
        by_value: dict[str, list[Customer]] = {}
        column = LOOKUP[field]
        for customer in base.filter(**{f"{column}__in": sorted(values)}):
            by_value.setdefault(getattr(customer, column), []).append(customer)
        found[field] = by_value
    creates: list[_Row] = []
    updates: list[_Row] = []
    claimed: dict[int, int] = {}  # existing customer -> the batch's row that matched it
    for w in live:
        for field in ctx.match:
            hits = found.get(field, {}).get(w.keys[field]) if w.keys[field] else None
            if hits:
                w.existing, w.matched = hits[0], field
                break
        if w.existing is not None:
            earlier = claimed.setdefault(w.existing.pk, w.row.line)
            if earlier != w.row.line:  # two rows of the file for one customer
                w.row.reject(
                    w.matched,
                    _("The same %(what)s as row %(row)s of this file.")
                    % {"what": _what(ctx, w), "row": earlier},
                )
    live = [w for w in live if w.row.outcome != "reject"]
    if ctx.on_match != "skip" and any(k.startswith("contact.") for k in ctx.columns):
        # The matched customers' primary contacts, one query: the contact.* cells update them.
        matched = {w.existing.pk: w.existing for w in live if w.existing is not None}
        for contact in Contact.objects.filter(customer_id__in=sorted(matched), is_primary=True):
            matched[contact.customer_id]._primary = contact  # type: ignore[attr-defined]
    for w in live:
        if w.existing is None:
            if _create_clean(ctx, memo, w, found):
                creates.append(w)
        elif not getattr(w.existing, "_visible", False):
            w.row.reject(
                w.matched,
                _("A customer with the same %(what)s already exists: %(who)s.")
                % {"what": _what(ctx, w), "who": _describe_text(_describe(w.existing))},
            )
        elif ctx.on_match == "skip":
            w.row.outcome = "skip"
        elif _update_clean(ctx, memo, w, found):
            updates.append(w)
    if creates:
        _create_write(ctx, memo, creates)
    if updates:
        _update_write(ctx, updates)


def _what(ctx: ImportContext, w: _Row) -> str:
    field = w.matched or "name"
    return _field_label(field) if field != "number" else _("number")


def _describe(customer: Customer) -> dict[str, Any]:
    if getattr(customer, "_visible", False):
        return {"visible": True, "number": customer.number, "name": customer.name}
    owner = customer.owner.display_name if customer.owner_id else ""
    return {"visible": False, "owner": owner}


def _blocked(
    memo: dict[str, Any], w: _Row, found: dict[str, dict[str, list[Customer]]], self_id: Any
) -> bool:
    """Reject a row a block rule refuses (the create form's message); warn rules pass."""
    values = {f: w.keys[f] for f in ("name", "credit_code", "phone", "email")}
    if self_id is not None:
        values = {f: v for f, v in values.items() if f in w.values}
    phones = {values.get("phone", "")} | {_normalised("phone", w.contact.get("phone"))}
    for field, value in values.items():
        if _rule(memo, field, w.ctype) != "block":
            continue
        candidates = phones - {""} if field == "phone" else ({value} - {""})
        for key in candidates:
            hits = [c for c in found.get(field, {}).get(key, []) if c.pk != self_id]
            if hits:
                w.row.reject(
                    field,
                    _("A customer with the same %(what)s already exists: %(who)s.")
                    % {"what": _field_label(field), "who": _describe_text(_describe(hits[0]))},
                )
                return True
    return False


def _create_clean(ctx: ImportContext, memo: dict[str, Any], w: _Row, found: dict[str, Any]) -> bool:
    data = dict(w.data)
    data.setdefault("grade", "C")
    if data.get("owner") is None:
        data["owner"] = ctx.actor.pk
    try:
        w.values = customer_clean(actor=ctx.actor, data=data, owner_choices=memo["owners"])
    except ValidationFailed as exc:
        w.row.reject_all(exc)
    contact: dict[str, Any] | None = None
    if any(v not in (None, "") for v in w.contact.values()):
        try:
            contact = contact_clean(data={**w.contact, "is_primary": True}, prefix="contact.")
        except ValidationFailed as exc:
            w.row.reject_all(exc)
    elif w.ctype != CustomerType.INDIVIDUAL:
        w.row.reject("contacts", _("Add at least one contact."))
    if w.row.outcome == "reject":
        return False
    if contact is None:  # an individual customer is their own contact
        contact = {
            "name": w.values["name"],
            "title": "",
            "phone": w.values["phone"],
            "email": w.values["email"],
            "notes": "",
            "is_primary": True,
        }
    w.contact = contact
    if _blocked(memo, w, found, None):
        return False
    w.row.outcome = "create"
    return True


def _create_write(ctx: ImportContext, memo: dict[str, Any], rows: list[_Row]) -> None:
    actor = ctx.actor
    now = timezone.now()
    numbers = number_next_many(key="customer", count=len(rows))
    customers: list[Customer] = []
    contacts: list[Contact] = []
    for w, number in zip(rows, numbers, strict=True):
        customer = Customer(**w.values, created_by=actor, updated_by=actor, number=number)
        customer.owned_since = now
        contact = Contact(**w.contact, phone_digits=digits_only(w.contact["phone"]))
        customer_search_fields_refresh(customer, [contact], save=False)
        customers.append(customer)
        contacts.append(contact)
    Customer.objects.bulk_create(customers)
    for customer, contact in zip(customers, contacts, strict=True):
        contact.customer = customer
    Contact.objects.bulk_create(contacts)
    entries = []
    lines: list[dict[str, Any]] = []
    for customer, contact in zip(customers, contacts, strict=True):
        changes = diff({}, _display_snapshot(customer))
        changes.append({"field": "contacts", "before": None, "after": contact.name})
        entries.append((customer, changes))
        lines += _timeline_lines(customer, AuditEntry.Action.CREATE, changes)
    audit_record_many(actor=actor, action=AuditEntry.Action.CREATE, entries=entries)
    timeline_record_many(actor=actor, lines=lines)


def _update_clean(ctx: ImportContext, memo: dict[str, Any], w: _Row, found: dict[str, Any]) -> bool:
    existing = w.existing
    assert existing is not None
    if not memo["can_edit"]:
        w.row.reject(
            _what_key(ctx, w),
            _("You may not edit customers; import with “skip” for the matched rows."),
        )
        return False
    fields: dict[str, Any] = {}
    for name, value in w.data.items():
        if name in ("status", "type"):
            continue  # the lifecycle action changes the status; the type stays
        if name == "custom":
            custom = ctx.custom_changes(existing.custom, value)
            if custom:
                fields["custom"] = custom
            continue
        if name == "owner":
            if value == existing.owner_id:
                continue
            if ctx.on_match == "update_empty" and existing.owner_id is not None:
                continue
            if not memo["can_transfer"]:
                w.row.reject(
                    "owner",
                    _("You may not change the owner; ask someone with the transfer permission."),
                )
                return False
            fields["owner"] = value
            continue
        if ctx.keeps(getattr(existing, name, None)):
            continue
        fields[name] = value
    try:
        values = customer_clean(
            actor=ctx.actor, data=fields, current=existing, owner_choices=memo["owners"]
        )
    except ValidationFailed as exc:
        w.row.reject_all(exc)
        return False
    contact_changes = _contact_update_clean(ctx, w)
    if contact_changes is None:
        return False
    before = _display_snapshot(existing)
    before_owner = existing.owner_id
    for name, value in values.items():
        setattr(existing, name, value)
    changes = diff(before, _display_snapshot(existing)) + contact_changes
    if not changes:
        w.row.outcome = "skip"
        return False
    w.values = {c["field"].split(".")[0]: True for c in changes}
    if _blocked(memo, w, found, existing.pk):
        return False
    existing._owner_before = before_owner  # type: ignore[attr-defined]
    w.changes = changes
    w.row.outcome = "update"
    return True


def _contact_update_clean(ctx: ImportContext, w: _Row) -> list[dict[str, Any]] | None:
    """Apply the contact.* cells to the matched customer's primary contact by the same mode
    (contact_clean's rules); its changes as the contact edit audits them; None: rejected."""
    primary: Contact | None = getattr(w.existing, "_primary", None)
    if primary is None or not w.contact:
        return []
    fields = {
        name: value
        for name, value in w.contact.items()
        if not ctx.keeps(getattr(primary, name, None))
    }
    if not fields:
        return []
    try:
        values = contact_clean(data=fields, current=primary, prefix="contact.")
    except ValidationFailed as exc:
        w.row.reject_all(exc)
        return None
    before = _contact_snapshot(primary)
    for name, value in values.items():
        setattr(primary, name, value)
    primary.phone_digits = digits_only(primary.phone)
    changes = [
        {**c, "field": f"contact.{c['field']}", "contact": primary.name}
        for c in diff(before, _contact_snapshot(primary))
    ]
    if changes:
        primary._changed = True  # type: ignore[attr-defined]
    return changes


def _what_key(ctx: ImportContext, w: _Row) -> str:
    return w.matched or "name"


def _update_write(ctx: ImportContext, rows: list[_Row]) -> None:
    actor = ctx.actor
    now = timezone.now()
    customers = [w.existing for w in rows if w.existing is not None]
    contacts: dict[int, list[Contact]] = {}
    for contact in Contact.objects.filter(customer_id__in=[c.pk for c in customers]).only(
        "customer_id", "name", "phone", "email"
    ):
        contacts.setdefault(contact.customer_id, []).append(contact)
    changed_contacts: list[Contact] = []
    for customer in customers:
        primary = getattr(customer, "_primary", None)
        if primary is not None and getattr(primary, "_changed", False):
            changed_contacts.append(primary)
            primary.updated_at = now
            contacts[customer.pk] = [
                primary if c.pk == primary.pk else c for c in contacts.get(customer.pk, [])
            ]
    if changed_contacts:
        Contact.objects.bulk_update(
            changed_contacts, ["name", "title", "phone", "email", "phone_digits", "updated_at"]
        )
    moved: dict[int, list[int]] = {}
    for customer in customers:
        customer.version += 1
        customer.updated_by = actor
        customer.updated_at = now
        before_owner = customer._owner_before  # type: ignore[attr-defined]
        if customer.owner_id != before_owner:
            for name, value in _owner_clocks_reset().items():
                setattr(customer, name, value)
            moved.setdefault(customer.owner_id, []).append(customer.pk)
        customer_search_fields_refresh(customer, contacts.get(customer.pk, []), save=False)
    Customer.objects.bulk_update(
        customers,
        [
            *CUSTOMER_INPUT,
            "custom",
            "version",
            "updated_by",
            "updated_at",
            "owned_since",
            "pool_entered_at",
            "pool_notice_at",
            *SEARCH_FIELDS,
        ],
    )
    audit_record_many(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        entries=[(w.existing, w.changes) for w in rows if w.existing is not None],
    )
    lines: list[dict[str, Any]] = []
    for w in rows:
        if w.existing is not None:
            lines += _timeline_lines(w.existing, AuditEntry.Action.UPDATE, w.changes)
    timeline_record_many(actor=actor, lines=lines)
    for owner_id, ids in moved.items():
        timeline_owner_set(object_type=OBJECT_TYPE, object_ids=ids, owner_id=owner_id)


def customer_import_example() -> dict[str, Any]:
    return {
        "name": "示例科技有限公司",
        "type": _("Enterprise"),
        "industry": "",
        "grade": "B",
        "phone": "010-12345678",
        "email": "info@example.com",
        "credit_code": "",
        "address": "北京市海淀区示例路1号",
        "first_contact_date": timezone.localdate().isoformat(),
        "budget": "150000",
        "contact.name": "张三",
        "contact.title": "采购经理",
        "contact.phone": "13800138000",
        "contact.email": "zhangsan@example.com",
    }


IMPORT_SPEC = ImportSpec(
    match_keys=MATCH_KEYS,
    default_match=DEFAULT_MATCH,
    write_batch=customers_write_batch,
    action="create",
    example=customer_import_example,
)
