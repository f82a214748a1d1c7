"""Opportunities in imports (issue 8 §2): the batch writer.

Per batch: the customers the rows name (by number, or by name) read at once among those the
importer sees, every row validated by opportunity_clean (owner and customer choices read
once), one lookup per match key, then bulk_create / bulk_update with numbers taken in one
update, the stage entries, pipeline totals per bucket, audit, timeline and the customers'
last activity in one statement each.

Rules:
- The customer column (customer number or customer name) is required on create; a customer
  that does not exist or is outside the importer's scope is rejected with the form's
  message. An opportunity stays with its customer.
- Match by number, or by name within the same customer ("name"); default number.
- A new opportunity starts at the first open stage, as in the form; the stage, the status
  and the closing fields (contract, actual amount, closed on, lost reason) are not imported:
  the stage path, win and lose change them.
- on_match skip / update_empty / overwrite as for customers; an update needs edit, an owner
  change transfer; a row that changes nothing counts as skipped.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit_record_many, diff
from crm.core.errors import ValidationFailed
from crm.core.models import AuditEntry
from crm.core.numbering import number_next_many
from crm.core.scope import user_can, users_who_can_own
from crm.core.text import name_key
from crm.core.timeline import timeline_owner_set, timeline_record_many
from crm.customers.clocks import customers_activity_touch
from crm.customers.models import Customer
from crm.dataio.registry import ImportContext, ImportRow, ImportSpec
from crm.sales.models import Opportunity, OpportunityStatus, StageChange, StageKind
from crm.sales.services import (
    MODULE,
    OBJECT_TYPE,
    _bucket,
    _display_snapshot,
    _first_stage,
    _stage_names,
    _totals_add,
    opportunity_clean,
    opportunity_search_refresh,
)

MATCH_KEYS = ("number", "name")
DEFAULT_MATCH = ("number",)
INPUT = (
    "name",
    "owner",
    "amount",
    "expected_close_date",
    "probability",
    "description",
    "competitors",
    "source",
)


def _context(ctx: ImportContext) -> dict[str, Any]:
    memo = ctx.cache
    if "owners" not in memo:
        memo["owners"] = {u.pk: u for u in users_who_can_own(actor=ctx.actor, module=MODULE)}
        memo["can_edit"] = user_can(ctx.actor, MODULE, "edit")
        memo["can_transfer"] = user_can(ctx.actor, MODULE, "transfer")
    return memo


def _customer_column(ctx: ImportContext) -> str:
    return "customer.number" if "customer.number" in ctx.columns else "customer.name"


def _fail(ctx: ImportContext, row: ImportRow, exc: ValidationFailed) -> None:
    names = {"customer_id": _customer_column(ctx), "owner_id": "owner", "contact_id": "name"}
    row.reject_all(exc, names)


class _Row:
    __slots__ = ("changes", "customer", "data", "existing", "row", "values")

    def __init__(self, row: ImportRow) -> None:
        self.row = row
        self.data = {k: v for k, v in row.values.items() if k in INPUT}
        if "custom" in row.values:
            self.data["custom"] = row.values["custom"]
        self.customer: Customer | None = None
        self.existing: Opportunity | None = None
        self.values: dict[str, Any] = {}
        self.changes: list[dict[str, Any]] = []


def _customers(ctx: ImportContext, work: list[_Row]) -> None:
    """Each row's customer, by number (else by name), among those the importer sees: one
    query per key for the batch. Not found: the form's message at the customer column."""
    from crm.customers.selectors import customers_visible_to

    numbers = {str(w.row.values.get("customer.number") or "").strip() for w in work} - {""}
    names = {name_key(str(w.row.values.get("customer.name") or "")) for w in work} - {""}
    visible = customers_visible_to(ctx.actor).only("id", "number", "name", "name_key", "owner_id")
    by_number = {c.number: c for c in visible.filter(number__in=sorted(numbers))} if numbers else {}
    by_name: dict[str, list[Customer]] = defaultdict(list)
    if names:
        for customer in visible.filter(name_key__in=sorted(names)).order_by("id"):
            by_name[customer.name_key].append(customer)
    for w in work:
        number = str(w.row.values.get("customer.number") or "").strip()
        name = str(w.row.values.get("customer.name") or "")
        if number:
            w.customer = by_number.get(number)
            column = "customer.number"
        elif name:
            found = by_name.get(name_key(name), [])
            w.customer = found[0] if len(found) == 1 else None
            column = "customer.name"
            if len(found) > 1:
                w.row.reject(column, _("Several customers have this name; enter its number."))
                continue
        else:
            continue  # opportunity_clean asks for the customer on create
        if w.customer is None:
            w.row.reject(column, _("Choose a customer within your data scope."))


def opportunities_write_batch(ctx: ImportContext, rows: list[ImportRow]) -> None:
    memo = _context(ctx)
    work = [_Row(r) for r in rows]
    _customers(ctx, work)
    live = [w for w in work if w.row.outcome != "reject"]
    for w in live:
        number = str(w.row.values.get("number") or "").strip()
        name = name_key(str(w.row.values.get("name") or ""))
        keys = {"number": number, "name": f"{w.customer.pk}:{name}" if w.customer and name else ""}
        for field in ctx.match:
            earlier = ctx.seen_before(field, keys[field], w.row.line) if keys[field] else None
            if earlier is not None:
                w.row.reject(
                    field,
                    _("The same %(what)s as row %(row)s of this file.")
                    % {"what": _("number") if field == "number" else _("name"), "row": earlier},
                )
                break
    live = [w for w in live if w.row.outcome != "reject"]
    from crm.sales.selectors import opportunities_visible_to

    base = opportunities_visible_to(ctx.actor).filter(deleted_at__isnull=True)
    base = base.select_related("customer", "contact", "owner", "stage")
    found_number: dict[str, Opportunity] = {}
    found_name: dict[tuple[int, str], Opportunity] = {}
    numbers = {str(w.row.values.get("number") or "").strip() for w in live} - {""}
    if "number" in ctx.match and numbers:
        found_number = {o.number: o for o in base.filter(number__in=sorted(numbers))}
    pairs = {
        (w.customer.pk, str(w.row.values.get("name") or "").strip()) for w in live if w.customer
    }
    if "name" in ctx.match and pairs:
        names = {n for _c, n in pairs if n}
        for o in base.filter(customer_id__in={c for c, _n in pairs}, name__in=names).order_by("id"):
            found_name.setdefault((o.customer_id, name_key(o.name)), o)
    creates: list[_Row] = []
    updates: list[_Row] = []
    for w in live:
        hit = ""
        for field in ctx.match:
            if field == "number":
                w.existing = found_number.get(str(w.row.values.get("number") or "").strip())
            elif w.customer is not None:
                key = (w.customer.pk, name_key(str(w.row.values.get("name") or "")))
                w.existing = found_name.get(key)
            if w.existing is not None:
                hit = field
                break
        if w.existing is None:
            if str(w.row.values.get("number") or "").strip() and "number" in ctx.match:
                # A number is given by the system: one that matches nothing is refused.
                w.row.reject("number", _("No opportunity within your data scope has this number."))
            elif _create_clean(ctx, memo, w):
                creates.append(w)
        elif w.customer is not None and w.customer.pk != w.existing.customer_id:
            w.row.reject(_customer_column(ctx), _("An opportunity stays with its customer."))
        elif ctx.on_match == "skip":
            w.row.outcome = "skip"
        elif _update_clean(ctx, memo, w, hit):
            updates.append(w)
    if creates:
        _create_write(ctx, creates)
    if updates:
        _update_write(ctx, updates)


def _create_clean(ctx: ImportContext, memo: dict[str, Any], w: _Row) -> bool:
    data: dict[str, Any] = dict(w.data)
    data["customer_id"] = w.customer.pk if w.customer is not None else None
    if data.get("owner") is None:
        data["owner"] = ctx.actor.pk
    choices = {w.customer.pk: w.customer} if w.customer is not None else {}
    try:
        w.values = opportunity_clean(
            actor=ctx.actor, data=data, owner_choices=memo["owners"], customer_choices=choices
        )
    except ValidationFailed as exc:
        _fail(ctx, w.row, exc)
        return False
    w.row.outcome = "create"
    return True


def _sums(buckets: list[Any]) -> dict[Any, list[Any]]:
    """Buckets summed by their key: {key: [count, amount, weighted]}."""
    sums: dict[Any, list[Any]] = {}
    for bucket in buckets:
        if bucket is None:
            continue
        key, amount, weighted = bucket
        row = sums.setdefault(key, [0, Decimal(0), Decimal(0)])
        row[0] += 1
        row[1] += amount
        row[2] += weighted
    return sums


def _totals(before: list[Any], after: list[Any]) -> None:
    """The pipeline totals moved for a batch: one statement per bucket, not per record."""
    for sign, buckets in ((-1, before), (+1, after)):
        for key, (count, amount, weighted) in _sums(buckets).items():
            _totals_add((key, amount, weighted), sign, count=count)


def _create_write(ctx: ImportContext, rows: list[_Row]) -> None:
    actor = ctx.actor
    now = timezone.now()
    stage = ctx.cache.get("first_stage") or _first_stage(StageKind.OPEN)
    ctx.cache["first_stage"] = stage
    numbers = number_next_many(key="opportunity", count=len(rows))
    made: list[Opportunity] = []
    for w, number in zip(rows, numbers, strict=True):
        values = w.values
        opportunity = Opportunity(
            **{k: v for k, v in values.items() if k not in ("probability", "probability_manual")},
            stage=stage,
            status=OpportunityStatus.OPEN,
            probability=values.get("probability", stage.probability),
            probability_manual=values.get("probability_manual", False),
            stage_entered_at=now,
            created_by=actor,
            updated_by=actor,
            number=number,
        )
        opportunity_search_refresh(opportunity)
        made.append(opportunity)
    Opportunity.objects.bulk_create(made)
    StageChange.objects.bulk_create(
        StageChange(opportunity=o, from_stage=None, to_stage=stage, actor=actor, changed_at=now)
        for o in made
    )
    _totals([], [_bucket(o) for o in made])
    audit_record_many(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        entries=[(o, diff({}, _display_snapshot(o))) for o in made],
    )
    timeline_record_many(
        actor=actor,
        lines=[
            {
                "customer_id": o.customer_id,
                "kind": "opportunity_created",
                "owner_id": o.owner_id,
                "object_type": OBJECT_TYPE,
                "object_id": o.pk,
                "data": {
                    "opportunity": o.name,
                    "number": o.number,
                    "to": _stage_names(stage),
                    "amount": f"{o.amount:.2f}",
                },
            }
            for o in made
        ],
    )
    customers_activity_touch(customer_ids=[o.customer_id for o in made], at=now)


def _update_clean(ctx: ImportContext, memo: dict[str, Any], w: _Row, hit: str) -> bool:
    existing = w.existing
    assert existing is not None
    if existing.status != OpportunityStatus.OPEN and ctx.on_match != "skip":
        w.row.reject(hit, _("Only an open opportunity is changed by an import."))
        return False
    if not memo["can_edit"]:
        w.row.reject(
            hit, _("You may not edit opportunities; import with “skip” for the matched rows.")
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
            if value == existing.owner_id or ctx.on_match == "update_empty":
                continue  # an opportunity always has an owner: "empty" never applies
            if not memo["can_transfer"]:
                w.row.reject(
                    "owner",
                    _("You may not change the owner; ask someone with the transfer permission."),
                )
                return False
            fields["owner"] = value
            continue
        if name == "probability":
            if ctx.on_match == "update_empty" and existing.probability_manual:
                continue
        elif ctx.keeps(getattr(existing, name, None)):
            continue
        fields[name] = value
    if not fields:
        w.row.outcome = "skip"
        return False
    try:
        values = opportunity_clean(
            actor=ctx.actor, data=fields, current=existing, owner_choices=memo["owners"]
        )
    except ValidationFailed as exc:
        _fail(ctx, w.row, exc)
        return False
    before = _display_snapshot(existing)
    existing._bucket_before = _bucket(existing)  # type: ignore[attr-defined]
    existing._owner_before = existing.owner_id  # type: ignore[attr-defined]
    for name, value in values.items():
        setattr(existing, name, value)
    if "name" in values:
        opportunity_search_refresh(existing)
    changes = diff(before, _display_snapshot(existing))
    if not changes:
        w.row.outcome = "skip"
        return False
    w.changes = changes
    w.row.outcome = "update"
    return True


def _update_write(ctx: ImportContext, rows: list[_Row]) -> None:
    actor = ctx.actor
    now = timezone.now()
    items = [w.existing for w in rows if w.existing is not None]
    for o in items:
        o.version += 1
        o.updated_by = actor
        o.updated_at = now
    Opportunity.objects.bulk_update(
        items,
        [
            *[f for f in INPUT if f != "probability"],
            "probability",
            "probability_manual",
            "custom",
            "version",
            "updated_by",
            "updated_at",
            "pinyin",
            "search_blob",
        ],
    )
    _totals(
        [o._bucket_before for o in items],  # type: ignore[attr-defined]
        [_bucket(o) for o in items],
    )
    audit_record_many(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        entries=[(w.existing, w.changes) for w in rows if w.existing is not None],
    )
    moved: dict[int, list[int]] = defaultdict(list)
    for o in items:
        if o.owner_id != o._owner_before:  # type: ignore[attr-defined]
            moved[o.owner_id].append(o.pk)
    for owner_id, ids in moved.items():
        timeline_owner_set(object_type=OBJECT_TYPE, object_ids=ids, owner_id=owner_id)


def opportunity_import_example() -> dict[str, Any]:
    return {
        "name": "示例科技 CRM 采购",
        "customer.name": "示例科技有限公司",
        "amount": "120000",
        "expected_close_date": timezone.localdate().replace(day=28).isoformat(),
        "probability": "",
        "description": "50 个用户，含实施",
    }


IMPORT_SPEC = ImportSpec(
    match_keys=MATCH_KEYS,
    default_match=DEFAULT_MATCH,
    write_batch=opportunities_write_batch,
    action="create",
    example=opportunity_import_example,
)
