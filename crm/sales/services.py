"""Every write to the pipeline (OPP-1..5): stages (Settings) and opportunities.

Each service is atomic, checks the actor's permission, locks the row it changes within the
actor's scope, compares the version the caller read, validates every field at once and leaves
an audit entry; what a customer's timeline shows is written in the same transaction
(crm.core.timeline). The pipeline totals (models.PipelineTotal) are adjusted by one helper,
`_totals_move`, in every service that moves an opportunity in or out of a bucket.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crm.core.audit import audit_record, diff
from crm.core.config import setting_get
from crm.core.configstate import config_changed
from crm.core.customfields import custom_audit_snapshot, custom_clean_into
from crm.core.dictionaries import dictionary_is_valid, dictionary_label
from crm.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.files import attachments_purge_for
from crm.core.models import AuditEntry, TimelineEntry
from crm.core.numbering import number_next
from crm.core.scope import user_can, users_who_can_own
from crm.core.text import name_fold, pinyin_initials
from crm.core.text import typed_text as _text
from crm.core.timeline import timeline_owner_set, timeline_record
from crm.core.versioning import version_check
from crm.customers.clocks import customer_activity_touch
from crm.customers.models import Contact, Customer
from crm.sales.models import (
    Milestone,
    Opportunity,
    OpportunityStatus,
    PipelineTotal,
    Stage,
    StageChange,
    StageKind,
)
from crm.sales.selectors import opportunity_scope_q
from crm.sales.stages import stage_first

MODULE = "opportunities"
OBJECT_TYPE = "opportunity"
MAX_AMOUNT = Decimal("1e12")
CENT = Decimal("0.01")
TEXT_LIMITS = {"description": 5000, "competitors": 2000}
NAME_LIMIT = 120


def _require(actor: Any, action: str, module: str = MODULE) -> None:
    if not user_can(actor, module, action):
        raise PermissionDeniedError()


def weighted_of(amount: Decimal, probability: int) -> Decimal:
    """amount × probability, in yuan and fen: rounded half up, as PostgreSQL's round()."""
    return (Decimal(amount) * probability / Decimal(100)).quantize(CENT, ROUND_HALF_UP)


def _amount_parse(raw: Any) -> Decimal:
    """A money amount from input ("120000", "120,000.00", 120000); ValueError when not one."""
    try:
        value = Decimal(str(raw).replace(",", "").replace("¥", "").strip())
    except (InvalidOperation, ValueError):
        raise ValueError from None
    if not value.is_finite() or value < 0 or value >= MAX_AMOUNT:
        raise ValueError
    return value.quantize(CENT)


def _date_parse(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise ValueError
    if isinstance(raw, dt.date):
        return raw
    try:
        parsed = parse_date(str(raw).strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError
    return parsed


def _close_month(day: dt.date | None) -> int:
    return day.year * 100 + day.month if day else 0


# --- stages (Settings → Stages) ---------------------------------------------------------------

STAGE_KINDS = {k.value for k in StageKind}


def _require_configure(actor: Any) -> None:
    if not user_can(actor, "settings", "configure"):
        raise PermissionDeniedError()


def _stage_snapshot(stage: Stage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "name_en": stage.name_en,
        "probability": stage.probability,
        "kind": stage.kind,
        "entry_criteria": stage.entry_criteria,
        "position": stage.position,
        "is_active": stage.is_active,
    }


def stage_in_use(stage: Stage) -> bool:
    """Whether any opportunity (live or in the recycle bin) or any stage change uses it."""
    return (
        Opportunity.objects.filter(stage=stage).exists()
        or StageChange.objects.filter(Q(from_stage=stage) | Q(to_stage=stage)).exists()
    )


def _stage_code(name: str, name_en: str) -> str:
    base = slugify(name_en)[:30] or pinyin_initials(name)[:30] or "stage"
    code, n = base, 1
    while Stage.objects.filter(code=code).exists():
        n += 1
        code = f"{base}-{n}"
    return code


def _stage_clean(data: dict[str, Any], current: Stage | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    partial = current is not None

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if "name" in data or not partial:
        name = _text(data.get("name"))
        if not name:
            fail("name", _("Enter the stage's Chinese name."))
        elif len(name) > 40:
            fail("name", _("At most %(limit)d characters.") % {"limit": 40})
        elif Stage.objects.filter(name=name).exclude(pk=getattr(current, "pk", None)).exists():
            fail("name", _("Another stage already has this name."))
        cleaned["name"] = name
    if "name_en" in data or not partial:
        name_en = _text(data.get("name_en"))
        if len(name_en) > 40:
            fail("name_en", _("At most %(limit)d characters.") % {"limit": 40})
        cleaned["name_en"] = name_en
    if "probability" in data or not partial:
        raw = data.get("probability")
        try:
            if isinstance(raw, bool) or raw in (None, ""):
                raise ValueError
            probability = int(str(raw).strip().rstrip("%"))
            if not 0 <= probability <= 100:
                raise ValueError
            cleaned["probability"] = probability
        except (TypeError, ValueError):
            fail("probability", _("Enter a whole number from 0 to 100."))
    if "kind" in data or not partial:
        kind = _text(data.get("kind")) or StageKind.OPEN
        if kind not in STAGE_KINDS:
            fail("kind", _("Choose open, won or lost."))
        elif partial and kind != current.kind and stage_in_use(current):
            fail(
                "kind",
                _(
                    "Opportunities use this stage, so its kind cannot change. Add a new stage "
                    "of the kind you need instead."
                ),
            )
        cleaned["kind"] = kind
    if "entry_criteria" in data or not partial:
        criteria = _text(data.get("entry_criteria"))
        if len(criteria) > 1000:
            fail("entry_criteria", _("At most %(limit)d characters.") % {"limit": 1000})
        cleaned["entry_criteria"] = criteria
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _stages_invariants_check(*, field: str = "kind") -> None:
    """At least one active open stage, one active won stage and one active lost stage: new
    opportunities start somewhere, and a deal can always be won or lost."""
    active = set(Stage.objects.filter(is_active=True).values_list("kind", flat=True))
    missing = [
        kind for kind in (StageKind.OPEN, StageKind.WON, StageKind.LOST) if kind not in active
    ]
    if missing:
        labels = {
            StageKind.OPEN: _("The pipeline needs at least one active open stage."),
            StageKind.WON: _("The pipeline needs at least one active won stage."),
            StageKind.LOST: _("The pipeline needs at least one active lost stage."),
        }
        raise ValidationFailed(fields={field: [labels[k] for k in missing]})


def _stage_locked(stage: Stage | int) -> Stage:
    pk = getattr(stage, "pk", stage)
    locked = Stage.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFoundError()
    return locked


def _stage_changed(actor: Any, stage: Stage, before: dict[str, Any], action: str) -> None:
    audit_record(
        actor=actor,
        action=action,
        instance=stage,
        object_repr=f"{_('stage')}: {stage.name}",
        changes=diff(before, _stage_snapshot(stage)),
    )
    config_changed()


@transaction.atomic
def stage_create(*, actor: Any, data: dict[str, Any]) -> Stage:
    """Add a stage at the end of the pipeline (Settings; OPP-2)."""
    _require_configure(actor)
    values = _stage_clean(data, None)
    last = Stage.objects.aggregate(m=Max("position"))["m"]
    stage = Stage.objects.create(
        code=_stage_code(values["name"], values["name_en"]),
        position=(last or 0) + 10,
        **values,
    )
    _stage_changed(actor, stage, {}, AuditEntry.Action.CREATE)
    return stage


@transaction.atomic
def stage_update(*, actor: Any, stage: Stage, data: dict[str, Any]) -> Stage:
    """Rename (Chinese, English), set the win probability, the entry criteria or the kind.

    A new probability carries over to the open opportunities in the stage whose probability
    follows the stage (not set by hand), and to the pipeline totals.
    """
    _require_configure(actor)
    locked = _stage_locked(stage)
    values = _stage_clean(data, locked)
    before = _stage_snapshot(locked)
    for name, value in values.items():
        setattr(locked, name, value)
    if _stage_snapshot(locked) == before:
        return locked
    locked.save()
    if "kind" in values and values["kind"] != before["kind"]:
        _stages_invariants_check()
    if locked.probability != before["probability"]:
        Opportunity.objects.filter(
            stage=locked, probability_manual=False, status=OpportunityStatus.OPEN
        ).update(probability=locked.probability)
        _totals_rebuild_stage(locked.pk)
    _stage_changed(actor, locked, before, AuditEntry.Action.UPDATE)
    return locked


@transaction.atomic
def stages_reorder(*, actor: Any, ordered_ids: Any) -> list[Stage]:
    """Put the stages in the order given (drag and drop in Settings): every stage's id once."""
    _require_configure(actor)
    stages = {s.pk: s for s in Stage.objects.select_for_update().order_by("position", "id")}
    try:
        ids = [int(str(i)) for i in ordered_ids if not isinstance(i, bool)]
    except (TypeError, ValueError):
        ids = []
    if sorted(ids) != sorted(stages) or len(set(ids)) != len(ids):
        raise ValidationFailed(
            fields={"ordered_ids": [_("Send every stage's id once, in the new order.")]}
        )
    before = [stages[pk].name for pk in stages]
    changed = []
    for index, pk in enumerate(ids):
        stage = stages[pk]
        position = (index + 1) * 10
        if stage.position != position:
            stage.position = position
            changed.append(stage)
    if changed:
        Stage.objects.bulk_update(changed, ["position"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            object_repr=_("Pipeline stages"),
            changes=[
                {
                    "field": "order",
                    "before": " → ".join(before),
                    "after": " → ".join(stages[pk].name for pk in ids),
                }
            ],
        )
        config_changed()
    return [stages[pk] for pk in ids]


def _stage_set_active(*, actor: Any, stage: Stage, active: bool) -> Stage:
    _require_configure(actor)
    locked = _stage_locked(stage)
    if locked.is_active == active:
        return locked
    before = _stage_snapshot(locked)
    locked.is_active = active
    locked.save(update_fields=["is_active", "updated_at"])
    if not active:
        _stages_invariants_check(field="is_active")
    _stage_changed(
        actor, locked, before, AuditEntry.Action.UPDATE if active else AuditEntry.Action.DEACTIVATE
    )
    return locked


@transaction.atomic
def stage_retire(*, actor: Any, stage: Stage) -> Stage:
    """Offer the stage for nothing new; opportunities in it and their history keep it."""
    return _stage_set_active(actor=actor, stage=stage, active=False)


@transaction.atomic
def stage_reactivate(*, actor: Any, stage: Stage) -> Stage:
    return _stage_set_active(actor=actor, stage=stage, active=True)


@transaction.atomic
def stage_delete(*, actor: Any, stage: Stage) -> None:
    """Remove a stage nothing ever used; a used one can only be retired (409)."""
    _require_configure(actor)
    locked = _stage_locked(stage)
    if stage_in_use(locked):
        raise ConflictError(
            _(
                "Opportunities use the stage “%(name)s” (now or in their history), so it "
                "cannot be deleted. Retire it instead: it is then offered for nothing new."
            )
            % {"name": locked.name}
        )
    before = _stage_snapshot(locked)
    name = locked.name
    PipelineTotal.objects.filter(stage=locked).delete()
    locked.delete()
    _stages_invariants_check()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETE,
        object_repr=f"{_('stage')}: {name}",
        changes=diff(before, {}),
    )
    config_changed()


# --- pipeline totals --------------------------------------------------------------------------

Bucket = tuple[tuple[int, int, int], Decimal, Decimal] | None


def _bucket(opportunity: Opportunity) -> Bucket:
    """Where a live open opportunity counts: (owner, stage, close month) and its amounts."""
    if opportunity.status != OpportunityStatus.OPEN or opportunity.deleted_at is not None:
        return None
    return (
        (
            opportunity.owner_id,
            opportunity.stage_id,
            _close_month(opportunity.expected_close_date),
        ),
        Decimal(opportunity.amount),
        weighted_of(opportunity.amount, opportunity.probability),
    )


def _totals_add(bucket: Bucket, sign: int, count: int = 1) -> None:
    """`count` opportunities (an import's batch: their summed amounts) in or out of a bucket."""
    if bucket is None:
        return
    (owner_id, stage_id, month), amount, weighted = bucket
    key = {"owner_id": owner_id, "stage_id": stage_id, "close_month": month}
    change = {
        "count": F("count") + sign * count,
        "amount": F("amount") + sign * amount,
        "weighted_amount": F("weighted_amount") + sign * weighted,
    }
    if PipelineTotal.objects.filter(**key).update(**change) or sign < 0:
        return
    try:
        with transaction.atomic():
            PipelineTotal.objects.create(
                **key, count=count, amount=amount, weighted_amount=weighted
            )
    except IntegrityError:  # a concurrent writer created the row first
        PipelineTotal.objects.filter(**key).update(**change)


def _totals_move(before: Bucket, after: Bucket) -> None:
    """Adjust the pipeline totals for one opportunity that went from `before` to `after`
    (either None: not counted). Called by every service that changes what counts."""
    if before == after:
        return
    _totals_add(before, -1)
    _totals_add(after, +1)


def _open_rows(stage_id: int | None = None):
    rows = Opportunity.objects.filter(status=OpportunityStatus.OPEN, deleted_at__isnull=True)
    return rows.filter(stage_id=stage_id) if stage_id is not None else rows


def _totals_insert(stage_id: int | None = None) -> int:
    """Insert the totals of the open opportunities (of one stage, or all), computed in SQL on
    PostgreSQL (exact numeric rounding, like `weighted_of`), in Python elsewhere."""
    table = PipelineTotal._meta.db_table
    opp = Opportunity._meta.db_table
    if connection.vendor == "postgresql":
        where = "AND stage_id = %s" if stage_id is not None else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} (owner_id, stage_id, close_month, count, amount,
                                     weighted_amount)
                SELECT owner_id, stage_id,
                       COALESCE(EXTRACT(YEAR FROM expected_close_date)::int * 100
                                + EXTRACT(MONTH FROM expected_close_date)::int, 0),
                       COUNT(*), SUM(amount), SUM(ROUND(amount * probability / 100.0, 2))
                FROM {opp}
                WHERE status = 'open' AND deleted_at IS NULL {where}
                GROUP BY 1, 2, 3
                """,
                [stage_id] if stage_id is not None else [],
            )
            return cursor.rowcount
    sums: dict[tuple[int, int, int], list[Any]] = {}
    for owner_id, sid, close, amount, probability in _open_rows(stage_id).values_list(
        "owner_id", "stage_id", "expected_close_date", "amount", "probability"
    ):
        row = sums.setdefault((owner_id, sid, _close_month(close)), [0, Decimal(0), Decimal(0)])
        row[0] += 1
        row[1] += amount
        row[2] += weighted_of(amount, probability)
    PipelineTotal.objects.bulk_create(
        PipelineTotal(owner_id=o, stage_id=s, close_month=m, count=c, amount=a, weighted_amount=w)
        for (o, s, m), (c, a, w) in sums.items()
    )
    return len(sums)


def _totals_lock() -> None:
    """Writers wait while the totals are rebuilt (readers do not); on SQLite the write
    transaction already excludes every other writer."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {PipelineTotal._meta.db_table} IN EXCLUSIVE MODE")


def _totals_rebuild_stage(stage_id: int) -> None:
    _totals_lock()
    PipelineTotal.objects.filter(stage_id=stage_id).delete()
    _totals_insert(stage_id)


@transaction.atomic
def pipeline_totals_rebuild(*, now: dt.datetime | None = None) -> int:
    """Recompute every pipeline total from the opportunities (the bench generator after a
    bulk load; the sweep, which also corrects what writes outside the services left behind,
    such as opportunities purged together with their customer). Idempotent."""
    _totals_lock()
    PipelineTotal.objects.all().delete()
    return _totals_insert()


# --- opportunities: validation ------------------------------------------------------------------


def _owner_refused() -> str:
    return _(
        "Choose an active user within your data scope whose role lets them work on opportunities."
    )


def _customer_for(actor: Any, customer_id: Any) -> Customer | None:
    from crm.customers.selectors import customers_visible_to

    try:
        pk = int(str(getattr(customer_id, "pk", customer_id)))
    except (TypeError, ValueError):
        return None
    return customers_visible_to(actor).filter(pk=pk).first()


def opportunity_clean(
    *,
    actor: Any,
    data: dict[str, Any],
    current: Opportunity | None = None,
    owner_choices: dict[int, Any] | None = None,
    customer_choices: dict[int, Customer] | None = None,
) -> dict[str, Any]:
    """Validate the input (every field on create, the fields sent on update); raise
    ValidationFailed naming every bad field at once.

    An import reads once per batch what a form reads per record: `owner_choices` ({id: user}
    of users_who_can_own for the actor), `customer_choices` ({id: customer} of the customers
    the actor sees among those the batch names)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    creating = current is None

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(str(message))

    def given(*names: str) -> bool:
        return creating or any(n in data for n in names)

    customer = current.customer if current is not None else None
    if creating:
        raw = data.get("customer_id", data.get("customer"))
        if raw in (None, ""):
            fail("customer_id", _("Choose the customer."))
        else:
            if customer_choices is not None:
                customer = customer_choices.get(getattr(raw, "pk", raw))  # type: ignore[arg-type]
            else:
                customer = _customer_for(actor, raw)
            if customer is None:
                fail("customer_id", _("Choose a customer within your data scope."))
            else:
                cleaned["customer"] = customer
    elif "customer_id" in data or "customer" in data:
        raw = data.get("customer_id", data.get("customer"))
        if str(getattr(raw, "pk", raw)) != str(current.customer_id):
            fail("customer_id", _("An opportunity stays with its customer."))

    if given("name"):
        name = _text(data.get("name"))
        if not name:
            fail("name", _("Enter the opportunity's name."))
        elif len(name) > NAME_LIMIT:
            fail("name", _("At most %(limit)d characters.") % {"limit": NAME_LIMIT})
        else:
            cleaned["name"] = name

    if given("contact_id", "contact"):
        raw = data.get("contact_id", data.get("contact"))
        raw = getattr(raw, "pk", raw)
        if raw in (None, ""):
            cleaned["contact"] = None
        elif customer is not None:
            try:
                contact = Contact.objects.filter(customer=customer, pk=int(str(raw))).first()
            except (TypeError, ValueError):
                contact = None
            if contact is None:
                fail("contact_id", _("Choose one of this customer's contacts."))
            else:
                cleaned["contact"] = contact

    if given("owner_id", "owner"):
        raw = data.get("owner_id", data.get("owner"))
        raw = getattr(raw, "pk", raw)
        owner_id = "" if raw is None else str(raw).strip()
        if current is not None and owner_id in ("", str(current.owner_id)):
            pass  # unchanged (a blank owner on an edit keeps the current one)
        else:
            if not owner_id:
                owner_id = str(actor.pk)  # a new opportunity is its creator's
            try:
                if owner_choices is not None:
                    owner = owner_choices.get(int(owner_id))
                else:
                    owner = (
                        users_who_can_own(actor=actor, module=MODULE)
                        .filter(pk=int(owner_id))
                        .first()
                    )
            except (TypeError, ValueError):
                owner = None
            if owner is None:
                fail("owner_id", _owner_refused())
            else:
                cleaned["owner"] = owner

    if given("amount"):
        raw = data.get("amount")
        if raw in (None, ""):
            cleaned["amount"] = Decimal("0.00")
        else:
            try:
                cleaned["amount"] = _amount_parse(raw)
            except ValueError:
                fail("amount", _("Enter an amount in yuan, e.g. 120000 or 120000.00."))

    if given("expected_close_date"):
        raw = data.get("expected_close_date")
        if raw in (None, ""):
            cleaned["expected_close_date"] = None
        else:
            try:
                cleaned["expected_close_date"] = _date_parse(raw)
            except ValueError:
                fail("expected_close_date", _("Enter a date as YYYY-MM-DD."))

    if "probability" in data:
        raw = data.get("probability")
        if raw in (None, ""):
            cleaned["probability_manual"] = False  # back to the stage's probability
        else:
            try:
                if isinstance(raw, bool):
                    raise ValueError
                probability = int(str(raw).strip().rstrip("%"))
                if not 0 <= probability <= 100:
                    raise ValueError
            except (TypeError, ValueError):
                fail("probability", _("Enter a whole number from 0 to 100."))
            else:
                cleaned["probability"] = probability
                cleaned["probability_manual"] = True

    for name, limit in TEXT_LIMITS.items():
        if given(name):
            value = _text(data.get(name))
            if len(value) > limit:
                fail(name, _("At most %(limit)d characters.") % {"limit": limit})
            else:
                cleaned[name] = value

    if given("source"):
        code = _text(data.get("source"))
        unchanged = current is not None and code == current.source
        if code and not unchanged and not dictionary_is_valid("source", code):
            fail(
                "source",
                _("“%(value)s” is not in the list; choose one of the offered values.")
                % {"value": code[:40]},
            )
        else:
            cleaned["source"] = code

    custom_clean_into(
        module=MODULE, data=data, current=current, cleaned=cleaned, errors=errors,
        only_if_sent=True,
    )  # fmt: skip
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


# --- opportunities: helpers ---------------------------------------------------------------------


def _locked(actor: Any, opportunity_id: int) -> Opportunity:
    """The opportunity row, locked for this transaction, if the actor may see it (else 404).
    Deleted ones too: delete and restore need them; the others refuse them (409)."""
    locked = (
        Opportunity.objects.select_for_update(of=("self",))
        .filter(opportunity_scope_q(actor), pk=opportunity_id)
        .select_related("customer", "owner", "stage", "contact", "updated_by", "deleted_by")
        .first()
    )
    if locked is None:
        raise NotFoundError()
    return locked


def _live_locked(actor: Any, opportunity: Opportunity, version: Any) -> Opportunity:
    locked = _locked(actor, opportunity.pk)
    version_check(locked=locked, version=version, label=_("this opportunity"))
    if locked.deleted_at is not None:
        raise ConflictError(_("This opportunity is in the recycle bin; restore it first."))
    return locked


def opportunity_search_refresh(opportunity: Opportunity) -> None:
    """The derived search columns: pinyin initials of the name; number, name and initials
    folded (the customer's name is matched through the customer's own search columns)."""
    opportunity.pinyin = pinyin_initials(opportunity.name)[:120]
    parts = [(opportunity.number or "").lower(), name_fold(opportunity.name), opportunity.pinyin]
    opportunity.search_blob = " | ".join(dict.fromkeys(p for p in parts if p))


def _display_snapshot(opportunity: Opportunity) -> dict[str, Any]:
    """Field values as a person reads them in the history tab."""
    return {
        "name": opportunity.name,
        "customer": opportunity.customer.name if opportunity.customer_id else "",
        "contact": opportunity.contact.name if opportunity.contact_id else "",
        "owner": opportunity.owner.display_name if opportunity.owner_id else "",
        "stage": opportunity.stage.name if opportunity.stage_id else "",
        "status": str(OpportunityStatus(opportunity.status).label),
        "amount": opportunity.amount,
        "probability": opportunity.probability,
        "expected_close_date": opportunity.expected_close_date,
        "source": dictionary_label("source", opportunity.source),
        "description": opportunity.description,
        "competitors": opportunity.competitors,
        "contract_no": opportunity.contract_no,
        "actual_amount": opportunity.actual_amount,
        "closed_on": opportunity.closed_on,
        "lost_reason": dictionary_label("opportunity_lost_reason", opportunity.lost_reason),
        "lost_note": opportunity.lost_note,
        **custom_audit_snapshot(MODULE, opportunity.custom),
    }


def _timeline(
    opportunity: Opportunity, *, kind: str, actor: Any, data: dict[str, Any] | None = None
) -> None:
    timeline_record(
        customer_id=opportunity.customer_id,
        kind=kind,
        actor=actor,
        owner_id=opportunity.owner_id,
        object_type=OBJECT_TYPE,
        object_id=opportunity.pk,
        data={"opportunity": opportunity.name, "number": opportunity.number, **(data or {})},
    )
    # Every line of an opportunity's story is activity with its customer (CUS-10: created,
    # moved, won, lost, reopened, a milestone): it wakes a dormant customer at once.
    customer_activity_touch(customer_id=opportunity.customer_id, at=timezone.now())


def _stage_names(stage: Stage | None) -> dict[str, Any]:
    if stage is None:
        return {"id": None, "name": "", "name_en": ""}
    return {"id": stage.pk, "name": stage.name, "name_en": stage.name_en}


def _enter_stage(
    opportunity: Opportunity, stage: Stage, *, actor: Any, now: dt.datetime
) -> StageChange:
    """Move the (locked) opportunity into `stage`: the stage change row with the time spent in
    the previous stage, the new entry time, and the stage's probability unless set by hand."""
    previous_id = opportunity.stage_id
    seconds = 0
    if previous_id is not None and opportunity.stage_entered_at is not None:
        seconds = max(0, int((now - opportunity.stage_entered_at).total_seconds()))
    change = StageChange.objects.create(
        opportunity=opportunity,
        from_stage_id=previous_id,
        to_stage=stage,
        actor=actor if getattr(actor, "pk", None) else None,
        changed_at=now,
        seconds_in_previous=seconds,
    )
    opportunity.stage = stage
    opportunity.stage_entered_at = now
    if not opportunity.probability_manual:
        opportunity.probability = stage.probability
    return change


def _saved(opportunity: Opportunity, actor: Any, before: dict[str, Any]) -> list[dict[str, Any]]:
    opportunity.version += 1
    opportunity.updated_by = actor if getattr(actor, "pk", None) else None
    opportunity.save()
    changes = diff(before, _display_snapshot(opportunity))
    audit_record(
        actor=actor, action=AuditEntry.Action.UPDATE, instance=opportunity, changes=changes
    )
    return changes


def _stage_row(stage: Any, *, field: str = "stage_id") -> Stage:
    pk = getattr(stage, "pk", stage)
    try:
        found = Stage.objects.filter(pk=int(str(pk))).first() if pk not in (None, "") else None
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise ValidationFailed(fields={field: [_("Choose a stage of the pipeline.")]})
    return found


def _first_stage(kind: str) -> Stage:
    info = stage_first(kind)
    stage = Stage.objects.filter(pk=info.id, is_active=True).first() if info else None
    if stage is None:  # the cache may lag a stage change made in this very transaction
        stage = Stage.objects.filter(kind=kind, is_active=True).order_by("position", "id").first()
    if stage is None:
        raise ConflictError(
            _("The pipeline has no active stage of this kind; ask an administrator to add one.")
        )
    return stage


# --- opportunities: create and edit -------------------------------------------------------------


@transaction.atomic
def opportunity_create(*, actor: Any, data: dict[str, Any]) -> Opportunity:
    """A new opportunity of a customer the actor can see (OPP-1); starts at the first open
    stage, numbered SJ+yyyymm+seq in the same transaction."""
    _require(actor, "create")
    values = opportunity_clean(actor=actor, data=data)
    values.setdefault("owner", actor)
    stage = _first_stage(StageKind.OPEN)
    now = timezone.now()
    opportunity = Opportunity(
        **{k: v for k, v in values.items() if k not in ("probability", "probability_manual")},
        stage=stage,
        status=OpportunityStatus.OPEN,
        probability=values.get("probability", stage.probability),
        probability_manual=values.get("probability_manual", False),
        stage_entered_at=now,
        created_by=actor,
        updated_by=actor,
    )
    opportunity.number = number_next(key="opportunity")
    opportunity_search_refresh(opportunity)
    opportunity.save()
    StageChange.objects.create(
        opportunity=opportunity, from_stage=None, to_stage=stage, actor=actor, changed_at=now
    )
    _totals_move(None, _bucket(opportunity))
    audit_record(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        instance=opportunity,
        changes=diff({}, _display_snapshot(opportunity)),
    )
    _timeline(
        opportunity,
        kind="opportunity_created",
        actor=actor,
        data={"to": _stage_names(stage), "amount": f"{opportunity.amount:.2f}"},
    )
    return opportunity


EDITABLE = {
    "name",
    "contact_id",
    "contact",
    "owner_id",
    "owner",
    "amount",
    "expected_close_date",
    "probability",
    "description",
    "competitors",
    "source",
    "customer_id",
    "customer",
    "custom",
}


@transaction.atomic
def opportunity_update(
    *, actor: Any, opportunity: Opportunity, data: dict[str, Any], version: Any
) -> Opportunity:
    """Change the fields sent; the stage and the status have their own services. Changing the
    owner needs the transfer permission."""
    _require(actor, "edit")
    locked = _live_locked(actor, opportunity, version)
    refused = sorted(k for k in data if k in ("stage", "stage_id", "status"))
    if refused:
        raise ValidationFailed(
            fields={
                name: [_("Use the stage path, win, lose or reopen to change this.")]
                for name in refused
            }
        )
    fields = {k: v for k, v in data.items() if k in EDITABLE}
    owner_raw = fields.get("owner_id", fields.get("owner"))
    owner_raw = getattr(owner_raw, "pk", owner_raw)
    owner_changes = owner_raw not in (None, "") and str(owner_raw) != str(locked.owner_id)
    if owner_changes and not user_can(actor, MODULE, "transfer"):
        raise ValidationFailed(
            fields={
                "owner_id": [
                    _("You may not change the owner; ask someone with the transfer permission.")
                ]
            }
        )
    values = opportunity_clean(actor=actor, data=fields, current=locked)
    before = _display_snapshot(locked)
    bucket = _bucket(locked)
    old_owner = locked.owner_id
    was_manual = locked.probability_manual
    for name, value in values.items():
        setattr(locked, name, value)
    if values.get("probability_manual") is False:
        locked.probability = locked.stage.probability
    if "name" in values:
        opportunity_search_refresh(locked)
    if diff(before, _display_snapshot(locked)) == [] and locked.probability_manual == was_manual:
        return locked
    _saved(locked, actor, before)
    _totals_move(bucket, _bucket(locked))
    if locked.owner_id != old_owner:
        timeline_owner_set(
            object_type=OBJECT_TYPE, object_ids=[locked.pk], owner_id=locked.owner_id
        )
    return locked


# --- opportunities: the stage path, win, loss, reopen -------------------------------------------


@transaction.atomic
def opportunity_move_stage(
    *, actor: Any, opportunity: Opportunity, stage: Any, version: Any
) -> Opportunity:
    """Move along the pipeline (OPP-2): an open opportunity between open stages, a won one
    between won stages. Winning and losing have their own services (they ask for the contract
    or the reason); a retired stage takes nothing new."""
    _require(actor, "edit")
    locked = _live_locked(actor, opportunity, version)
    target = _stage_row(stage)
    if target.pk == locked.stage_id:
        return locked
    if not target.is_active:
        raise ValidationFailed(
            fields={"stage_id": [_("This stage is retired; choose an active stage.")]}
        )
    if locked.status == OpportunityStatus.OPEN and target.kind != StageKind.OPEN:
        message = (
            _("To win the opportunity, use “Win” and enter the contract number and amount.")
            if target.kind == StageKind.WON
            else _("To close the opportunity as lost, use “Lose” and give the reason.")
        )
        raise ValidationFailed(fields={"stage_id": [message]})
    if locked.status == OpportunityStatus.WON and target.kind != StageKind.WON:
        raise ValidationFailed(
            fields={
                "stage_id": [_("A won opportunity moves only between won stages; reopen it first.")]
            }
        )
    if locked.status == OpportunityStatus.LOST:
        raise ValidationFailed(
            fields={"stage_id": [_("A lost opportunity does not move; reopen it first.")]}
        )
    before = _display_snapshot(locked)
    bucket = _bucket(locked)
    previous = locked.stage
    _enter_stage(locked, target, actor=actor, now=timezone.now())
    _saved(locked, actor, before)
    _totals_move(bucket, _bucket(locked))
    _timeline(
        locked,
        kind="stage_change",
        actor=actor,
        data={"from": _stage_names(previous), "to": _stage_names(target)},
    )
    return locked


def _require_open(opportunity: Opportunity) -> None:
    if opportunity.status == OpportunityStatus.WON:
        raise ConflictError(_("This opportunity has already been won."))
    if opportunity.status == OpportunityStatus.LOST:
        raise ConflictError(_("This opportunity has been closed as lost; reopen it first."))


@transaction.atomic
def opportunity_close_won(
    *,
    actor: Any,
    opportunity: Opportunity,
    contract_no: Any,
    actual_amount: Any,
    closed_on: Any = None,
    version: Any,
) -> Opportunity:
    """Close as won (OPP-3): contract number and actual amount required; lands on the first
    won stage with status won; the customer becomes 成交 when it was earlier in the lifecycle."""
    _require(actor, "edit")
    locked = _live_locked(actor, opportunity, version)
    _require_open(locked)
    errors: dict[str, list[str]] = {}
    number = _text(contract_no)
    if not number:
        errors["contract_no"] = [_("Enter the contract number.")]
    elif len(number) > 60:
        errors["contract_no"] = [_("At most %(limit)d characters.") % {"limit": 60}]
    amount = None
    if actual_amount in (None, ""):
        errors["actual_amount"] = [_("Enter the contract's actual amount.")]
    else:
        try:
            amount = _amount_parse(actual_amount)
        except ValueError:
            errors["actual_amount"] = [_("Enter an amount in yuan, e.g. 120000 or 120000.00.")]
    today = timezone.localdate()
    day = today
    if closed_on not in (None, ""):
        try:
            day = _date_parse(closed_on)
        except ValueError:
            errors["closed_on"] = [_("Enter a date as YYYY-MM-DD.")]
        else:
            if day > today:
                errors["closed_on"] = [_("The closing date cannot be in the future.")]
    if errors:
        raise ValidationFailed(fields=errors)
    target = _first_stage(StageKind.WON)
    before = _display_snapshot(locked)
    bucket = _bucket(locked)
    previous = locked.stage
    _enter_stage(locked, target, actor=actor, now=timezone.now())
    locked.status = OpportunityStatus.WON
    locked.contract_no = number
    locked.actual_amount = amount
    locked.closed_on = day
    locked.lost_reason = ""
    locked.lost_note = ""
    _saved(locked, actor, before)
    _totals_move(bucket, None)
    _timeline(
        locked,
        kind="won",
        actor=actor,
        data={
            "from": _stage_names(previous),
            "to": _stage_names(target),
            "amount": f"{amount:.2f}",
            "contract_no": number,
        },
    )
    from crm.customers.services import customer_mark_deal

    customer_mark_deal(actor=actor, customer_id=locked.customer_id)
    return locked


@transaction.atomic
def opportunity_close_lost(
    *,
    actor: Any,
    opportunity: Opportunity,
    lost_reason: Any,
    lost_note: Any = "",
    version: Any,
) -> Opportunity:
    """Close as lost (OPP-3): the reason (list 商机流失原因) is required; lands on the lost
    stage."""
    _require(actor, "edit")
    locked = _live_locked(actor, opportunity, version)
    _require_open(locked)
    errors: dict[str, list[str]] = {}
    reason = _text(lost_reason)
    if not reason:
        errors["lost_reason"] = [_("Choose why the opportunity was lost.")]
    elif not dictionary_is_valid("opportunity_lost_reason", reason):
        errors["lost_reason"] = [
            _("“%(value)s” is not in the list; choose one of the offered values.")
            % {"value": reason[:40]}
        ]
    note = _text(lost_note)
    if len(note) > 2000:
        errors["lost_note"] = [_("At most %(limit)d characters.") % {"limit": 2000}]
    if errors:
        raise ValidationFailed(fields=errors)
    target = _first_stage(StageKind.LOST)
    before = _display_snapshot(locked)
    bucket = _bucket(locked)
    previous = locked.stage
    _enter_stage(locked, target, actor=actor, now=timezone.now())
    locked.status = OpportunityStatus.LOST
    locked.lost_reason = reason
    locked.lost_note = note
    locked.closed_on = timezone.localdate()
    locked.contract_no = ""
    locked.actual_amount = None
    _saved(locked, actor, before)
    _totals_move(bucket, None)
    _timeline(
        locked,
        kind="lost",
        actor=actor,
        data={"from": _stage_names(previous), "to": _stage_names(target), "reason": reason},
    )
    return locked


def _reopen_stage(opportunity: Opportunity) -> Stage:
    """The open stage the opportunity was last in before it closed, if still active; else the
    first open stage."""
    history = (
        StageChange.objects.filter(opportunity=opportunity)
        .select_related("to_stage", "from_stage")
        .order_by("-changed_at", "-id")[:200]
    )
    for change in history:
        for stage in (change.to_stage, change.from_stage):
            if stage is not None and stage.kind == StageKind.OPEN and stage.is_active:
                return stage
    return _first_stage(StageKind.OPEN)


@transaction.atomic
def opportunity_reopen(*, actor: Any, opportunity: Opportunity, version: Any) -> Opportunity:
    """Reopen a won or lost opportunity (audited): back to the open stage it was last in."""
    _require(actor, "edit")
    locked = _live_locked(actor, opportunity, version)
    if locked.status == OpportunityStatus.OPEN:
        raise ConflictError(_("This opportunity is open already."))
    target = _reopen_stage(locked)
    before = _display_snapshot(locked)
    previous = locked.stage
    _enter_stage(locked, target, actor=actor, now=timezone.now())
    locked.status = OpportunityStatus.OPEN
    locked.contract_no = ""
    locked.actual_amount = None
    locked.closed_on = None
    locked.lost_reason = ""
    locked.lost_note = ""
    _saved(locked, actor, before)
    _totals_move(None, _bucket(locked))
    _timeline(
        locked,
        kind="reopened",
        actor=actor,
        data={"from": _stage_names(previous), "to": _stage_names(target)},
    )
    return locked


# --- recycle bin, transfer, purge ---------------------------------------------------------------


@transaction.atomic
def opportunity_delete(*, actor: Any, opportunity: Opportunity, version: Any = None) -> Opportunity:
    """Move to the recycle bin (restorable until the purge sweep); with `version`, checked
    like an edit, so of several deletes from the same copy exactly one passes."""
    _require(actor, "delete")
    locked = _locked(actor, opportunity.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this opportunity"))
    if locked.deleted_at is not None:
        return locked
    bucket = _bucket(locked)
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    locked.version += 1
    locked.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
    _totals_move(bucket, None)
    audit_record(actor=actor, action=AuditEntry.Action.DELETE, instance=locked)
    return locked


@transaction.atomic
def opportunity_restore(
    *, actor: Any, opportunity: Opportunity, version: Any = None
) -> Opportunity:
    _require(actor, "delete")
    locked = _locked(actor, opportunity.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this opportunity"))
    if locked.deleted_at is None:
        return locked
    locked.deleted_at = None
    locked.deleted_by = None
    locked.version += 1
    locked.updated_by = actor
    locked.save(update_fields=["deleted_at", "deleted_by", "version", "updated_by", "updated_at"])
    _totals_move(None, _bucket(locked))
    audit_record(actor=actor, action=AuditEntry.Action.RESTORE, instance=locked)
    return locked


@transaction.atomic
def opportunity_transfer(*, actor: Any, opportunity: Opportunity, to_user: Any) -> Opportunity:
    """Hand one opportunity to another owner (audited as a transfer); its timeline lines
    follow the new owner's scope."""
    _require(actor, "transfer")
    if not users_who_can_own(actor=actor, module=MODULE).filter(pk=to_user.pk).exists():
        raise ValidationFailed(fields={"owner_id": [_owner_refused()]})
    locked = _locked(actor, opportunity.pk)
    if locked.owner_id == to_user.pk:
        return locked
    bucket = _bucket(locked)
    before = locked.owner.display_name
    locked.owner = to_user
    locked.version += 1
    locked.updated_by = actor
    locked.save(update_fields=["owner", "version", "updated_by", "updated_at"])
    _totals_move(bucket, _bucket(locked))
    timeline_owner_set(object_type=OBJECT_TYPE, object_ids=[locked.pk], owner_id=to_user.pk)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.TRANSFER,
        instance=locked,
        changes=[{"field": "owner", "before": before, "after": to_user.display_name}],
    )
    return locked


@transaction.atomic
def opportunities_transfer_all(*, from_user: Any, to_user: Any, actor: Any) -> int:
    """Transfer every opportunity of a leaving user (ORG-3); one audit entry each."""
    rows = list(
        Opportunity.objects.select_for_update()
        .filter(owner=from_user)
        .only("id", "name", "number", "owner_id", "stage_id", "status", "deleted_at")
        .order_by("pk")
    )
    if not rows:
        return 0
    for opportunity in rows:
        audit_record(
            actor=actor,
            action=AuditEntry.Action.TRANSFER,
            instance=opportunity,
            changes=[
                {"field": "owner", "before": from_user.display_name, "after": to_user.display_name}
            ],
        )
    ids = [o.pk for o in rows]
    Opportunity.objects.filter(pk__in=ids).update(
        owner=to_user, updated_by=actor, updated_at=timezone.now(), version=F("version") + 1
    )
    timeline_owner_set(object_type=OBJECT_TYPE, object_ids=ids, owner_id=to_user.pk)
    # The leaver's buckets move to the new owner whole: rebuild theirs and the recipient's.
    _totals_lock()
    PipelineTotal.objects.filter(owner_id__in=[from_user.pk, to_user.pk]).delete()
    _totals_insert_owners([from_user.pk, to_user.pk])
    return len(rows)


def _totals_insert_owners(owner_ids: list[int]) -> None:
    sums: dict[tuple[int, int, int], list[Any]] = {}
    for owner_id, sid, close, amount, probability in (
        _open_rows()
        .filter(owner_id__in=owner_ids)
        .values_list("owner_id", "stage_id", "expected_close_date", "amount", "probability")
    ):
        row = sums.setdefault((owner_id, sid, _close_month(close)), [0, Decimal(0), Decimal(0)])
        row[0] += 1
        row[1] += amount
        row[2] += weighted_of(amount, probability)
    PipelineTotal.objects.bulk_create(
        PipelineTotal(owner_id=o, stage_id=s, close_month=m, count=c, amount=a, weighted_amount=w)
        for (o, s, m), (c, a, w) in sums.items()
    )


def opportunities_purge_expired(*, now: dt.datetime | None = None) -> int:
    """The recycle-bin sweep: remove opportunities deleted longer ago than the retention
    period ("recycle_bin_days"). Idempotent; each purge leaves an audit entry."""
    days = int(setting_get("recycle_bin_days"))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    purged = 0
    for opportunity in Opportunity.objects.filter(deleted_at__lt=cutoff).iterator():
        with transaction.atomic():
            audit_record(actor="system", action=AuditEntry.Action.PURGE, instance=opportunity)
            # Its files and timeline lines go with it; its follow-ups stay in the customer's
            # log (they lose the link to it).
            attachments_purge_for(object_type=OBJECT_TYPE, object_ids=[opportunity.pk])
            TimelineEntry.objects.filter(object_type=OBJECT_TYPE, object_id=opportunity.pk).delete()
            opportunity.delete()  # deleted ones count in no total
            purged += 1
    return purged


# --- milestones (OPP-5) -------------------------------------------------------------------------


@transaction.atomic
def milestone_create(
    *, actor: Any, opportunity: Opportunity, kind: Any, occurred_on: Any, note: Any = ""
) -> Milestone:
    """Mark a key milestone (提交合同, 收到首付款, 完成签约 ...) with its date and a note; it is
    shown on the customer's timeline."""
    _require(actor, "edit")
    locked = _locked(actor, opportunity.pk)
    if locked.deleted_at is not None:
        raise ConflictError(_("This opportunity is in the recycle bin; restore it first."))
    errors: dict[str, list[str]] = {}
    code = _text(kind)
    if not code:
        errors["kind"] = [_("Choose the milestone.")]
    elif not dictionary_is_valid("milestone", code):
        errors["kind"] = [
            _("“%(value)s” is not in the list; choose one of the offered values.")
            % {"value": code[:40]}
        ]
    day = None
    if occurred_on in (None, ""):
        errors["occurred_on"] = [_("Enter the date.")]
    else:
        try:
            day = _date_parse(occurred_on)
        except ValueError:
            errors["occurred_on"] = [_("Enter a date as YYYY-MM-DD.")]
        else:
            if day > timezone.localdate():
                errors["occurred_on"] = [_("A milestone cannot be in the future.")]
    text = _text(note)
    if len(text) > 2000:
        errors["note"] = [_("At most %(limit)d characters.") % {"limit": 2000}]
    if errors:
        raise ValidationFailed(fields=errors)
    milestone = Milestone.objects.create(
        opportunity=locked,
        kind=code,
        occurred_on=day,
        note=text,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=locked,
        changes=[
            {
                "field": "milestones",
                "before": None,
                "after": f"{dictionary_label('milestone', code)} {day.isoformat()}",
            }
        ],
    )
    _timeline(
        locked,
        kind="milestone",
        actor=actor,
        data={"milestone": code, "occurred_on": day.isoformat(), "note": text[:200]},
    )
    return milestone
