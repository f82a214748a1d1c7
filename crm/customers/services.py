"""Every write to the customer archive (CUS-1..7). One function per use case.

Each service is atomic, checks the actor's function permission, validates every field at once
(so the user sees all problems together), and leaves an audit entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.core.audit import audit_record, audit_record_many, diff
from crm.core.config import setting_get
from crm.core.customfields import custom_audit_snapshot, custom_clean_into
from crm.core.dictionaries import dictionary_is_valid, dictionary_label
from crm.core.duplicates import duplicate_keys_lock
from crm.core.errors import (
    ConflictError,
    DuplicateError,
    DuplicateWarning,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.files import attachments_purge_for
from crm.core.merge import merged_restore_refuse
from crm.core.models import AuditEntry, TimelineEntry
from crm.core.numbering import number_next
from crm.core.scope import scope_filter, user_can, users_who_can_own
from crm.core.text import name_fold, name_key, pinyin_initials, search_document
from crm.core.text import typed_text as _text
from crm.core.timeline import timeline_owner_set, timeline_record, timeline_record_many
from crm.core.validators import (
    credit_code_normalize,
    customer_name_validate,
    digits_only,
    email_normalize,
    ids_clean,
    person_name_validate,
    phone_normalize,
)
from crm.core.versioning import version_check
from crm.customers.models import Contact, Customer, CustomerType, Grade
from crm.customers.timeline import OBJECT_TYPE, timeline_lines

MODULE = "customers"
TEXT_FIELDS = {
    "address": 200,
    "background": 5000,
    "remarks": 5000,
    "requirement": 5000,
    "decision_chain": 2000,
    "competitors": 2000,
}
# The fields a user edits, in the order the audit trail lists them.
EDITABLE_FIELDS = [
    "type",
    "name",
    "industry",
    "source",
    "grade",
    "status",
    "owner",
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
    "custom",
]
CONTACT_FIELDS = ["name", "title", "phone", "email", "notes", "is_primary"]
CONTACTS_MODULE = "contacts"  # contacts take their own custom fields


def _owner_refused() -> str:
    return _("Choose an active user within your data scope whose role gives access to customers.")


def _require(actor: Any, action: str) -> None:
    if not user_can(actor, MODULE, action):
        raise PermissionDeniedError()


def _locked(actor: Any, customer_id: int) -> Customer:
    """The customer row, locked for this transaction, if the actor may see it (else 404).

    Views already fetch the record through a selector; checking the scope again here keeps a
    service called from anywhere (API, import, CLI) from writing outside the actor's scope.
    `of=("self",)` locks only the customer row: PostgreSQL refuses FOR UPDATE on the nullable
    side of the outer joins select_related makes.
    """
    locked = (
        Customer.objects.select_for_update(of=("self",))
        .filter(scope_filter(actor, MODULE), pk=customer_id)
        .select_related("owner", "updated_by")
        .first()
    )
    if locked is None:
        raise NotFoundError()
    return locked


def _owner_input(data: dict[str, Any]) -> str:
    """The owner id the input asks for, as text; '' when the input leaves it blank."""
    value = data.get("owner_id")
    if value in (None, ""):
        value = data.get("owner")
    value = getattr(value, "pk", value)
    return "" if value is None else str(value).strip()


# --- validation -----------------------------------------------------------------------------


def customer_clean(
    *,
    actor: Any,
    data: dict[str, Any],
    current: Customer | None = None,
    owner_choices: dict[int, Any] | None = None,
) -> dict[str, Any]:
    """Validate the user's input (full record on create, changed fields on update).

    Returns cleaned values; raises ValidationFailed naming every bad field at once.
    `owner_choices` ({id: user} of users_who_can_own for the actor) spares a query per
    record when many are cleaned at once (an import).
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def merged(name: str) -> Any:
        if name in data:
            return data[name]
        return getattr(current, name, None) if current is not None else None

    def fail(name: str, message: Any) -> None:
        errors.setdefault(name, []).append(str(message))

    ctype = _text(merged("type")) or CustomerType.ENTERPRISE
    if ctype not in CustomerType.values:
        fail("type", _("Choose enterprise or individual."))
    if "type" in data or current is None:
        cleaned["type"] = ctype

    if "name" in data or current is None or "type" in data:
        try:
            cleaned["name"] = customer_name_validate(_text(merged("name")), customer_type=ctype)
        except ValidationError as exc:
            fail("name", exc.messages[0])

    for name, kind, required in (
        ("industry", "industry", True),
        ("source", "source", False),
        ("status", "customer_status", True),
    ):
        if name not in data and current is not None:
            continue
        code = _text(data.get(name))
        if not code and name == "status":
            code = "potential"
        if not code:
            if required:
                fail(name, _("This field is required."))
            else:
                cleaned[name] = ""
            continue
        unchanged = current is not None and code == getattr(current, name)
        if not unchanged and not dictionary_is_valid(kind, code):
            # The current value stays acceptable after an administrator retires it from the
            # list, so a full form re-submitted with it does not fail.
            fail(
                name,
                _("“%(value)s” is not in the list; choose one of the offered values.")
                % {"value": code},
            )
        else:
            cleaned[name] = code

    if "grade" in data or current is None:
        grade = _text(data.get("grade")).upper()
        if grade not in Grade.values:
            fail("grade", _("Choose grade A, B or C."))
        else:
            cleaned["grade"] = grade

    if "owner" in data or "owner_id" in data or current is None:
        owner_id = _owner_input(data)
        if current is not None and owner_id in ("", str(current.owner_id)):
            pass  # unchanged (a blank owner on an edit keeps the current one)
        else:
            if not owner_id:
                owner_id = actor.pk  # a new record belongs to its creator unless told otherwise
            try:
                if owner_choices is not None:
                    owner = owner_choices.get(int(owner_id))
                else:
                    owners = users_who_can_own(actor=actor, module=MODULE)
                    owner = owners.filter(pk=int(owner_id)).first()
            except (TypeError, ValueError):
                owner = None
            if owner is None:
                fail("owner", _owner_refused())
            else:
                cleaned["owner"] = owner

    for name, normalize in (
        ("phone", phone_normalize),
        ("email", email_normalize),
        ("credit_code", credit_code_normalize),
    ):
        if name not in data and current is not None:
            continue
        raw = _text(data.get(name))
        if not raw:
            cleaned[name] = ""
            continue
        try:
            cleaned[name] = normalize(raw)
        except ValidationError as exc:
            fail(name, exc.messages[0])
    credit_code = cleaned.get("credit_code", merged("credit_code"))
    if (
        credit_code
        and ctype != CustomerType.ENTERPRISE
        and "credit_code" not in errors
        and ("credit_code" in data or "type" in data or current is None)
    ):
        fail("credit_code", _("Only enterprise customers have a unified social credit code."))
    phone = cleaned.get("phone", merged("phone"))
    email = cleaned.get("email", merged("email"))
    if not phone and not email and "phone" not in errors and "email" not in errors:
        fail("phone", _("Enter a valid phone number or email address (at least one)."))

    for name, limit in TEXT_FIELDS.items():
        if name in data or current is None:
            value = _text(data.get(name))
            if len(value) > limit:
                fail(name, _("At most %(limit)d characters.") % {"limit": limit})
            cleaned[name] = value

    if "first_contact_date" in data or current is None:
        raw = data.get("first_contact_date")
        if raw in (None, ""):
            cleaned["first_contact_date"] = None
        elif isinstance(raw, dt.date):
            cleaned["first_contact_date"] = raw
        else:
            parsed = parse_date(str(raw)) if _looks_like_date(str(raw)) else None
            if parsed is None:
                fail("first_contact_date", _("Enter a date as YYYY-MM-DD."))
            elif parsed > timezone.localdate():
                fail("first_contact_date", _("The first contact date cannot be in the future."))
            else:
                cleaned["first_contact_date"] = parsed

    if "budget" in data or current is None:
        raw = data.get("budget")
        if raw in (None, ""):
            cleaned["budget"] = None
        else:
            try:
                budget = Decimal(str(raw).replace(",", "").replace("¥", "").strip())
                if not budget.is_finite() or budget < 0 or budget >= Decimal("1e12"):
                    raise InvalidOperation
                cleaned["budget"] = budget.quantize(Decimal("0.01"))
            except (InvalidOperation, ValueError):
                fail("budget", _("Enter an amount in yuan, e.g. 150000 or 150000.00."))

    custom_clean_into(module=MODULE, data=data, current=current, cleaned=cleaned, errors=errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _looks_like_date(value: str) -> bool:
    try:
        return parse_date(value) is not None
    except ValueError:
        return False


def contact_clean(
    *, data: dict[str, Any], current: Contact | None = None, prefix: str = ""
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    partial = current is not None

    def fail(name: str, message: Any) -> None:
        errors.setdefault(prefix + name, []).append(str(message))

    if "name" in data or not partial:
        name = _text(data.get("name"))
        try:
            name = person_name_validate(name, max_length=60)
        except ValidationError as exc:
            required = exc.code == "required"
            fail("name", _("Enter the contact's name.") if required else exc.messages[0])
        cleaned["name"] = name
    if "title" in data or not partial:
        title = _text(data.get("title"))
        if len(title) > 60:
            fail("title", _("At most %(limit)d characters.") % {"limit": 60})
        cleaned["title"] = title
    for name, normalize in (("phone", phone_normalize), ("email", email_normalize)):
        if name in data or not partial:
            raw = _text(data.get(name))
            if not raw:
                cleaned[name] = ""
                continue
            try:
                cleaned[name] = normalize(raw)
            except ValidationError as exc:
                fail(name, exc.messages[0])
    if "notes" in data or not partial:
        notes = _text(data.get("notes"))
        if len(notes) > 2000:
            fail("notes", _("At most %(limit)d characters.") % {"limit": 2000})
        cleaned["notes"] = notes
    if "is_primary" in data or not partial:
        cleaned["is_primary"] = bool(data.get("is_primary"))
    phone = cleaned.get("phone", getattr(current, "phone", ""))
    email = cleaned.get("email", getattr(current, "email", ""))
    if (
        not phone
        and not email
        and prefix + "phone" not in errors
        and prefix + "email" not in errors
    ):
        fail("phone", _("Enter the contact's phone number or email address."))
    custom_clean_into(
        module=CONTACTS_MODULE,
        data=data,
        current=current,
        cleaned=cleaned,
        errors=errors,
        prefix=prefix,
    )
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


# --- duplicate check (CUS-6) ----------------------------------------------------------------


def _describe(actor: Any, customer: Customer) -> dict[str, Any]:
    """How a matching record is shown: a link if the actor may see it, else only the owner."""
    visible = Customer.objects.filter(scope_filter(actor, MODULE), pk=customer.pk).exists()
    if visible:
        return {
            "id": customer.pk,
            "number": customer.number,
            "name": customer.name,
            "visible": True,
        }
    # A customer in the public pool has no owner.
    owner = customer.owner.display_name if customer.owner_id else ""
    return {"owner": owner, "visible": False}


def _describe_text(item: dict[str, Any]) -> str:
    if item["visible"]:
        return f"{item['number']} {item['name']}"
    if not item.get("owner"):
        return _("in the public pool")
    return _("owned by %(owner)s") % {"owner": item["owner"]}


def customer_duplicate_matches(
    *,
    actor: Any,
    values: dict[str, Any],
    exclude_id: int | None = None,
    contact_phones: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The live customers matching `values` by the duplicate rules (Settings), one per field:
    [{"field", "rule" (block|warn), "visible", and "id"/"number"/"name" or "owner"}].

    Runs inside the caller's transaction and first locks the keys it looks for
    (crm.core.duplicates), so two saves of the same company at the same moment cannot both
    pass: the second waits for the first to commit, then finds its row. The customer archive
    refuses or warns on these (customer_duplicates_check); a lead only warns (crm.leads).
    """
    rules = setting_get("duplicate_rules")
    live = Customer.objects.filter(deleted_at__isnull=True).select_related("owner")
    if exclude_id:
        live = live.exclude(pk=exclude_id)
    checks: list[tuple[str, str, Any]] = []
    keys: dict[str, set[str]] = {}

    def key(field: str, rule: str, *values_: str) -> None:
        if rule != "off":
            keys.setdefault(field, set()).update(values_)

    if values.get("name"):
        rule = rules.get("name", "block")
        if values.get("type") == CustomerType.INDIVIDUAL and rule == "block":
            rule = "warn"  # many people share a name; never block on it
        folded = name_key(values["name"])
        key("name", rule, folded)
        checks.append(("name", rule, Q(name_key=folded)))
    if values.get("credit_code"):
        rule = rules.get("credit_code", "block")
        key("credit_code", rule, values["credit_code"])
        checks.append(("credit_code", rule, Q(credit_code=values["credit_code"])))
    phones = {digits_only(p) for p in [values.get("phone") or "", *(contact_phones or [])] if p}
    if phones:
        key("phone", rules.get("phone", "warn"), *phones)
        # Two conditions, each answered by its own index; an OR across the contacts join
        # would scan the whole table on PostgreSQL.
        checks.append(("phone", rules.get("phone", "warn"), Q(phone_digits__in=phones)))
        checks.append(
            (
                "phone",
                rules.get("phone", "warn"),
                Q(pk__in=Contact.objects.filter(phone_digits__in=phones).values("customer_id")),
            )
        )
    if values.get("email"):
        key("email", rules.get("email", "warn"), values["email"].lower())
        checks.append(("email", rules.get("email", "warn"), Q(email_key=values["email"].lower())))
    # Warned keys are locked too, so that a warning is not missed by a race either.
    duplicate_keys_lock(module=MODULE, keys=keys)

    found: list[dict[str, Any]] = []
    matched: set[str] = set()
    for field, rule, condition in checks:
        if rule == "off" or field in matched:
            continue
        match = live.filter(condition).order_by("id").first()
        if match is None:
            continue
        matched.add(field)
        found.append({"field": field, "rule": rule, **_describe(actor, match)})
    return found


def customer_duplicates_check(
    *,
    actor: Any,
    values: dict[str, Any],
    exclude_id: int | None,
    confirmed: bool,
    contact_phones: list[str] | None = None,
) -> None:
    """Refuse blocking matches; raise a warning the user may confirm for the others.

    Every writer of customers that checks duplicates (create, update, restore, import) comes
    through here; the matching and its lock are customer_duplicate_matches'.
    """
    blocks: dict[str, list[str]] = {}
    block_items: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for found in customer_duplicate_matches(
        actor=actor, values=values, exclude_id=exclude_id, contact_phones=contact_phones
    ):
        item = {k: v for k, v in found.items() if k != "rule"}
        if found["rule"] == "block":
            blocks.setdefault(item["field"], []).append(
                _("A customer with the same %(what)s already exists: %(who)s.")
                % {"what": _field_label(item["field"]), "who": _describe_text(item)}
            )
            block_items.append(item)
        else:
            warnings.append(item)
    if blocks:
        existing = block_items[0]
        raise DuplicateError(fields=blocks, extra={"existing": existing, "matches": block_items})
    if warnings and not confirmed:
        raise DuplicateWarning(
            fields={
                w["field"]: [
                    _("Another customer has the same %(what)s: %(who)s.")
                    % {"what": _field_label(w["field"]), "who": _describe_text(w)}
                ]
                for w in warnings
            },
            extra={"warnings": warnings},
        )


def _field_label(field: str) -> str:
    return {
        "name": _("name"),
        "credit_code": _("unified social credit code"),
        "phone": _("phone"),
        "email": _("email"),
    }[field]


# --- search columns -------------------------------------------------------------------------


SEARCH_FIELDS = [
    "name_key",
    "phone_digits",
    "email_key",
    "pinyin",
    "search_blob",
    "search_document",
]


def customer_search_values(customer: Any, contacts: list[Any]) -> dict[str, str]:
    """The derived search/duplicate keys of a customer and its contacts.

    `search_blob` holds the folded texts a search may match (the exact check);
    `search_document` holds the index tokens derived from exactly those texts, so the
    PostgreSQL index never misses a row the exact check would find. Reads plain attributes
    only, so migrations can call it with historical models.
    """
    phone_digits = digits_only(customer.phone)
    email_key = (customer.email or "").lower()
    pinyin = pinyin_initials(customer.name)[:100]
    parts = [
        name_fold(customer.name),
        (customer.number or "").lower(),
        pinyin,
        phone_digits,
        name_fold(customer.phone),  # as shown: 010-12345678, +16502530000
        email_key,
        (customer.credit_code or "").lower(),
    ]
    for contact in contacts:
        parts += [
            name_fold(contact.name),
            pinyin_initials(contact.name),
            digits_only(contact.phone),
            name_fold(contact.phone),
            (contact.email or "").lower(),
        ]
    parts = list(dict.fromkeys(p for p in parts if p))
    return {
        "name_key": name_key(customer.name)[:100],
        "phone_digits": phone_digits,
        "email_key": email_key,
        "pinyin": pinyin,
        "search_blob": " | ".join(parts),
        "search_document": search_document(parts),
    }


def customer_search_fields_refresh(
    customer: Customer, contacts: list[Contact] | None = None, *, save: bool = True
) -> None:
    """Recompute the derived search/duplicate keys from the customer and its contacts."""
    if contacts is None:
        contacts = list(customer.contacts.all()) if customer.pk else []
    values = customer_search_values(customer, contacts)
    for name, value in values.items():
        setattr(customer, name, value)
    if save and customer.pk:
        Customer.objects.filter(pk=customer.pk).update(**values)


def customers_search_reindex(
    *, customer_model: Any = None, contact_model: Any = None, batch_size: int = 1000
) -> int:
    """Recompute every customer's search keys (after the index format changed).

    Idempotent; walks the table in primary-key batches. The model arguments let a data
    migration pass its historical models.
    """
    customer_model = customer_model or Customer
    contact_model = contact_model or Contact
    done = 0
    last_pk = 0
    while True:
        batch = list(
            customer_model.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .only("pk", "name", "number", "phone", "email", "credit_code")[:batch_size]
        )
        if not batch:
            return done
        contacts: dict[int, list[Any]] = {}
        for row in contact_model.objects.filter(customer_id__in=[c.pk for c in batch]).only(
            "customer_id", "name", "phone", "email"
        ):
            contacts.setdefault(row.customer_id, []).append(row)
        for customer in batch:
            for name, value in customer_search_values(
                customer, contacts.get(customer.pk, [])
            ).items():
                setattr(customer, name, value)
        with transaction.atomic():
            customer_model.objects.bulk_update(batch, SEARCH_FIELDS)
        done += len(batch)
        last_pk = batch[-1].pk


# --- audit helpers --------------------------------------------------------------------------


def _display_snapshot(customer: Customer) -> dict[str, Any]:
    """Field values as a person reads them in the history tab."""
    return {
        "type": customer.get_type_display(),
        "name": customer.name,
        "industry": dictionary_label("industry", customer.industry),
        "source": dictionary_label("source", customer.source),
        "grade": customer.grade,
        "status": dictionary_label("customer_status", customer.status),
        "owner": customer.owner.display_name if customer.owner_id else "",
        "phone": customer.phone,
        "email": customer.email,
        "credit_code": customer.credit_code,
        "address": customer.address,
        "background": customer.background,
        "remarks": customer.remarks,
        "first_contact_date": customer.first_contact_date,
        "requirement": customer.requirement,
        "budget": customer.budget,
        "decision_chain": customer.decision_chain,
        "competitors": customer.competitors,
        **custom_audit_snapshot(MODULE, customer.custom),
    }


def _contact_snapshot(contact: Contact) -> dict[str, Any]:
    return {
        **{name: getattr(contact, name) for name in CONTACT_FIELDS},
        **custom_audit_snapshot(CONTACTS_MODULE, contact.custom),
    }


def _timeline_lines(
    customer: Customer, action: str, changes: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The customer timeline lines (CUS-11) of one audited write, from the audit's changes."""
    return [
        {
            "customer_id": customer.pk,
            "kind": kind,
            "owner_id": customer.owner_id,
            "object_type": OBJECT_TYPE,
            "object_id": customer.pk,
            "data": data,
        }
        for kind, data in timeline_lines(
            action=action, changes=changes, name=customer.name, number=customer.number
        )
    ]


def _timeline(
    actor: Any, customer: Customer, action: str, changes: list[dict[str, Any]] | None = None
) -> None:
    for line in _timeline_lines(customer, action, changes):
        timeline_record(actor=actor, **line)


# --- owner changes and the pool's clocks (issue 7 §4) ---------------------------------------

# What a new owner resets: the pool's clocks count from the day they got the customer.
OWNER_CLOCKS = ["owned_since", "pool_entered_at", "pool_notice_at"]


def _owner_clocks_reset() -> dict[str, Any]:
    return {"owned_since": timezone.now(), "pool_entered_at": None, "pool_notice_at": None}


def _owner_changed(customer: Customer) -> None:
    for name, value in _owner_clocks_reset().items():
        setattr(customer, name, value)


def _assigned_from_pool(actor: Any, ids: list[int], owner: Any) -> None:
    """A transfer of pool customers (an administrator assigning them) is a pool move too."""
    from crm.customers.models import PoolMove

    now = timezone.now()
    PoolMove.objects.bulk_create(
        PoolMove(customer_id=pk, kind=PoolMove.Kind.ASSIGN, user=owner, actor=actor, at=now)
        for pk in ids
    )


# --- customers ------------------------------------------------------------------------------


@transaction.atomic
def customer_create(
    *,
    actor: Any,
    data: dict[str, Any],
    contacts: list[dict[str, Any]] | None = None,
    confirm_duplicates: bool = False,
) -> Customer:
    """Create a customer with its contacts; numbered KH+yyyymm+seq in the same transaction."""
    _require(actor, "create")
    errors: dict[str, list[str]] = {}
    try:
        values = customer_clean(actor=actor, data=data)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values = {}
    contact_rows = list(contacts or [])
    cleaned_contacts: list[dict[str, Any]] = []
    for i, row in enumerate(contact_rows):
        try:
            cleaned_contacts.append(contact_clean(data=row, prefix=f"contacts.{i}."))
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if not contact_rows and _text(data.get("type")) != CustomerType.INDIVIDUAL:
        errors.setdefault("contacts", []).append(_("Add at least one contact."))
    if sum(1 for c in cleaned_contacts if c["is_primary"]) > 1:
        errors.setdefault("contacts", []).append(_("Only one contact can be the primary contact."))
    if errors:
        raise ValidationFailed(fields=errors)
    if not cleaned_contacts:
        # An individual customer is their own contact.
        cleaned_contacts = [
            {
                "name": values["name"],
                "title": "",
                "phone": values["phone"],
                "email": values["email"],
                "notes": "",
                "is_primary": True,
            }
        ]
    if not any(c["is_primary"] for c in cleaned_contacts):
        cleaned_contacts[0]["is_primary"] = True

    customer_duplicates_check(
        actor=actor,
        values=values,
        exclude_id=None,
        confirmed=confirm_duplicates,
        contact_phones=[c["phone"] for c in cleaned_contacts],
    )

    customer = Customer(**values, created_by=actor, updated_by=actor)
    customer.owned_since = timezone.now()
    customer.number = number_next(key="customer")
    contact_objs = [Contact(**c, phone_digits=digits_only(c["phone"])) for c in cleaned_contacts]
    customer_search_fields_refresh(customer, contact_objs, save=False)
    customer.save()
    for contact in contact_objs:
        contact.customer = customer
    Contact.objects.bulk_create(contact_objs)
    changes = diff({}, _display_snapshot(customer))
    changes += [{"field": "contacts", "before": None, "after": c.name} for c in contact_objs]
    audit_record(actor=actor, action=AuditEntry.Action.CREATE, instance=customer, changes=changes)
    _timeline(actor, customer, AuditEntry.Action.CREATE, changes)
    return customer


@transaction.atomic
def customer_update(
    *,
    actor: Any,
    customer: Customer,
    data: dict[str, Any],
    version: Any,
    confirm_duplicates: bool = False,
) -> Customer:
    """Apply the changed fields, refusing an edit made from a stale copy (409)."""
    _require(actor, "edit")
    locked = _locked(actor, customer.pk)
    if locked.deleted_at is not None:
        raise ConflictError(_("This customer is in the recycle bin; restore it first."))
    version_check(locked=locked, version=version, label=_("this customer"))
    fields = {k: v for k, v in data.items() if k in EDITABLE_FIELDS or k == "owner_id"}
    if "status" in fields:
        # The lifecycle status changes only through the lifecycle action (CUS-8): some
        # transitions wait for approval, a loss needs a reason. The unchanged value (a whole
        # form sent back) passes.
        if _text(fields["status"]) not in ("", locked.status):
            raise ValidationFailed(
                fields={
                    "status": [
                        _(
                            "Change the status with the “Change status” action on the customer "
                            "page (POST /api/v1/customers/{id}/lifecycle): some changes need "
                            "approval and a loss needs a reason."
                        )
                    ]
                }
            )
        fields.pop("status")
    if ("owner" in fields or "owner_id" in fields) and not user_can(actor, MODULE, "transfer"):
        if _owner_input(fields) not in ("", str(locked.owner_id)):
            raise ValidationFailed(
                fields={
                    "owner": [
                        _("You may not change the owner; ask someone with the transfer permission.")
                    ]
                }
            )
        fields.pop("owner", None)
        fields.pop("owner_id", None)
    values = customer_clean(actor=actor, data=fields, current=locked)
    before = _display_snapshot(locked)
    before_owner_id = locked.owner_id
    for name, value in values.items():
        setattr(locked, name, value)
    duplicate_values = {
        k: values[k]
        for k in ("name", "credit_code", "phone", "email")
        if k in values and values[k] != before.get(k)
    }
    if duplicate_values:
        duplicate_values["type"] = locked.type
        customer_duplicates_check(
            actor=actor, values=duplicate_values, exclude_id=locked.pk, confirmed=confirm_duplicates
        )
    changes = diff(before, _display_snapshot(locked))
    if not changes:
        return locked
    locked.version += 1
    locked.updated_by = actor
    if locked.owner_id != before_owner_id:
        _owner_changed(locked)
    customer_search_fields_refresh(locked, save=False)
    locked.save()
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=locked, changes=changes)
    _timeline(actor, locked, AuditEntry.Action.UPDATE, changes)
    if locked.owner_id != before_owner_id:
        timeline_owner_set(
            object_type=OBJECT_TYPE, object_ids=[locked.pk], owner_id=locked.owner_id
        )
        if before_owner_id is None:
            _assigned_from_pool(actor, [locked.pk], locked.owner)
    return locked


@transaction.atomic
def customer_delete(*, actor: Any, customer: Customer, version: Any = None) -> Customer:
    """Move a customer to the recycle bin (restorable until the purge sweep).

    With `version`, the row is locked and compared first, like an edit, so of several deletes
    sent from the same copy exactly one passes and the others get 409 (a delete after it, too).
    Without one, deleting a customer already in the recycle bin changes nothing and succeeds:
    the caller's wish, "not among the live customers", holds.
    """
    _require(actor, "delete")
    locked = _locked(actor, customer.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this customer"))
    if locked.deleted_at is not None:
        return locked
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    locked.version += 1
    locked.save(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
    audit_record(actor=actor, action=AuditEntry.Action.DELETE, instance=locked)
    _timeline(actor, locked, AuditEntry.Action.DELETE)
    return locked


@transaction.atomic
def customer_restore(*, actor: Any, customer: Customer, version: Any = None) -> Customer:
    """Bring a customer back from the recycle bin.

    With `version` (the one the recycle bin showed), checked like an edit: of several restores
    sent from the same copy exactly one passes, the others get 409. Without one, restoring a
    live customer changes nothing and succeeds.
    """
    _require(actor, "delete")
    locked = _locked(actor, customer.pk)
    if version is not None:
        version_check(locked=locked, version=version, label=_("this customer"))
    if locked.deleted_at is None:
        return locked
    merged_restore_refuse(locked)
    # While it was in the bin, someone may have created the same company again; bringing it
    # back must not make a duplicate that creating it would have refused (CUS-6). Warnings
    # (same phone or email) do not stop a restore.
    customer_duplicates_check(
        actor=actor,
        values={
            "type": locked.type,
            "name": locked.name,
            "credit_code": locked.credit_code,
            "phone": locked.phone,
            "email": locked.email,
        },
        exclude_id=locked.pk,
        confirmed=True,
    )
    locked.deleted_at = None
    locked.deleted_by = None
    locked.version += 1
    locked.updated_by = actor
    locked.save(update_fields=["deleted_at", "deleted_by", "version", "updated_by", "updated_at"])
    audit_record(actor=actor, action=AuditEntry.Action.RESTORE, instance=locked)
    _timeline(actor, locked, AuditEntry.Action.RESTORE)
    return locked


# Lifecycle statuses a won deal moves on to 成交 (issue 6 §1): the ones before it.
DEAL_STATUS = "deal"
BEFORE_DEAL_STATUSES = ("potential", "intent")


@transaction.atomic
def customer_mark_deal(*, actor: Any, customer_id: int) -> bool:
    """A won opportunity moves its customer's lifecycle status to 成交 (deal) when the
    customer was earlier in the lifecycle (潜在, 意向); later statuses stay as they are.

    A consequence of the win, not an edit by the actor: no customers permission is needed
    (the actor could open the opportunity, so the customer is within their scope). Audited on
    the customer. Returns whether the status changed.
    """
    locked = (
        Customer.objects.select_for_update(of=("self",))
        .filter(pk=customer_id, deleted_at__isnull=True)
        .first()
    )
    if locked is not None:
        # The pool's "no won opportunity for M days" clock (issue 7 §4) starts again.
        locked.last_won_at = timezone.now()
        Customer.objects.filter(pk=locked.pk).update(
            last_won_at=locked.last_won_at, pool_notice_at=None
        )
    if locked is None or locked.status not in BEFORE_DEAL_STATUSES:
        return False
    before = dictionary_label("customer_status", locked.status)
    locked.status = DEAL_STATUS
    locked.status_changed_at = timezone.now()
    locked.version += 1
    locked.updated_by = actor if getattr(actor, "pk", None) else None
    locked.save(
        update_fields=["status", "status_changed_at", "version", "updated_by", "updated_at"]
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=locked,
        changes=[
            {
                "field": "status",
                "before": before,
                "after": dictionary_label("customer_status", DEAL_STATUS),
            }
        ],
    )
    return True


@transaction.atomic
def customer_transfer(*, actor: Any, customer: Customer, to_user: Any) -> Customer:
    """Hand one customer to another owner (audited as a transfer)."""
    _require(actor, "transfer")
    if not users_who_can_own(actor=actor, module=MODULE).filter(pk=to_user.pk).exists():
        raise ValidationFailed(fields={"owner": [_owner_refused()]})
    locked = _locked(actor, customer.pk)
    if locked.owner_id == to_user.pk:
        return locked
    before = locked.owner.display_name if locked.owner_id else ""
    from_pool = locked.owner_id is None
    locked.owner = to_user
    locked.version += 1
    locked.updated_by = actor
    _owner_changed(locked)
    locked.save(update_fields=["owner", "version", "updated_by", "updated_at", *OWNER_CLOCKS])
    if from_pool:
        _assigned_from_pool(actor, [locked.pk], to_user)
    changes = [{"field": "owner", "before": before, "after": to_user.display_name}]
    audit_record(actor=actor, action=AuditEntry.Action.TRANSFER, instance=locked, changes=changes)
    # The customer's lines follow its new owner's scope, this one included.
    timeline_owner_set(object_type=OBJECT_TYPE, object_ids=[locked.pk], owner_id=to_user.pk)
    _timeline(actor, locked, AuditEntry.Action.TRANSFER, changes)
    return locked


@transaction.atomic
def customers_transfer_all(*, from_user: Any, to_user: Any, actor: Any) -> int:
    """Transfer every customer of a leaving user (ORG-3); one audit entry per customer."""
    moved = 0
    rows = list(Customer.objects.filter(owner=from_user).only("id", "name", "number"))
    changes = [{"field": "owner", "before": from_user.display_name, "after": to_user.display_name}]
    for customer in rows:
        audit_record(
            actor=actor, action=AuditEntry.Action.TRANSFER, instance=customer, changes=changes
        )
        moved += 1
    Customer.objects.filter(pk__in=[c.pk for c in rows]).update(
        owner=to_user,
        updated_by=actor,
        updated_at=timezone.now(),
        version=F("version") + 1,
        **_owner_clocks_reset(),
    )
    ids = [c.pk for c in rows]
    timeline_owner_set(object_type=OBJECT_TYPE, object_ids=ids, owner_id=to_user.pk)
    for customer in rows:
        customer.owner_id = to_user.pk
    timeline_record_many(
        actor=actor,
        lines=[
            line for c in rows for line in _timeline_lines(c, AuditEntry.Action.TRANSFER, changes)
        ],
    )
    return moved


# The customer's records that carry files and go with it when it is purged (cascade):
# (attachment object type, reverse accessor on Customer).
RECORDS_WITH_FILES = (("opportunity", "opportunities"), ("followup", "followups"))


def customers_purge_expired(*, now: dt.datetime | None = None) -> int:
    """The recycle-bin sweep: remove customers deleted longer ago than the retention period.

    Idempotent and safe to re-run; each purge leaves an audit entry. The customer's files go
    with it, and those of its opportunities and follow-ups (which the delete cascades to):
    their ids are collected first, the stored files removed once the purge is committed.
    """
    days = int(setting_get("recycle_bin_days"))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    purged = 0
    for customer in Customer.objects.filter(
        deleted_at__lt=cutoff, merged_into__isnull=True
    ).iterator():
        with transaction.atomic():
            audit_record(actor="system", action=AuditEntry.Action.PURGE, instance=customer)
            # Its timeline goes with it: no page can show a purged customer's lines.
            TimelineEntry.objects.filter(customer_id=customer.pk).delete()
            attachments_purge_for(object_type="customer", object_ids=[customer.pk])
            for object_type, related in (
                ("opportunity", "opportunities"),
                ("followup", "followups"),
            ):
                manager = getattr(customer, related, None)
                if manager is not None:
                    ids = list(manager.values_list("pk", flat=True))
                    attachments_purge_for(object_type=object_type, object_ids=ids)
            customer.delete()
            purged += 1
    return purged


# --- contacts (CUS-3) -----------------------------------------------------------------------


def _contacts_changed(customer: Customer) -> None:
    customer_search_fields_refresh(customer)


@transaction.atomic
def contact_create(*, actor: Any, customer: Customer, data: dict[str, Any]) -> Contact:
    _require(actor, "edit")
    values = contact_clean(data=data)
    existing = _locked(actor, customer.pk)
    if existing.deleted_at is not None:
        raise ConflictError(_("This customer is in the recycle bin; restore it first."))
    has_contacts = existing.contacts.exists()
    if values["is_primary"]:
        existing.contacts.filter(is_primary=True).update(is_primary=False)
    elif not has_contacts:
        values["is_primary"] = True
    contact = Contact.objects.create(
        customer=existing, phone_digits=digits_only(values["phone"]), **values
    )
    _contacts_changed(existing)
    changes = [{"field": "contacts", "before": None, "after": contact.name}]
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=existing, changes=changes)
    _timeline(actor, existing, AuditEntry.Action.UPDATE, changes)
    return contact


@transaction.atomic
def contact_update(*, actor: Any, contact: Contact, data: dict[str, Any]) -> Contact:
    _require(actor, "edit")
    customer = _locked(actor, contact.customer_id)
    if customer.deleted_at is not None:
        raise ConflictError(_("This customer is in the recycle bin; restore it first."))
    locked = Contact.objects.select_for_update().filter(pk=contact.pk, customer=customer).first()
    if locked is None:
        raise NotFoundError()
    values = contact_clean(data=data, current=locked)
    before = _contact_snapshot(locked)
    if values.get("is_primary") is False and locked.is_primary:
        values.pop("is_primary")  # one contact stays primary: choose another to change it
    if values.get("is_primary"):
        customer.contacts.exclude(pk=locked.pk).filter(is_primary=True).update(is_primary=False)
    for name, value in values.items():
        setattr(locked, name, value)
    locked.phone_digits = digits_only(locked.phone)
    locked.save()
    _contacts_changed(customer)
    changes = [
        {**c, "field": f"contact.{c['field']}", "contact": locked.name}
        for c in diff(before, _contact_snapshot(locked))
    ]
    if changes:
        audit_record(
            actor=actor, action=AuditEntry.Action.UPDATE, instance=customer, changes=changes
        )
        _timeline(actor, customer, AuditEntry.Action.UPDATE, changes)
    return locked


@transaction.atomic
def contact_delete(*, actor: Any, contact: Contact) -> None:
    _require(actor, "edit")
    customer = _locked(actor, contact.customer_id)
    if customer.deleted_at is not None:
        raise ConflictError(_("This customer is in the recycle bin; restore it first."))
    current = customer.contacts.filter(pk=contact.pk).first()
    if current is None:
        raise NotFoundError()
    others = list(customer.contacts.exclude(pk=contact.pk).order_by("id"))
    if not others and customer.type == CustomerType.ENTERPRISE:
        raise ValidationFailed(
            fields={
                "contacts": [
                    _(
                        "A customer needs at least one contact; "
                        "add another before removing this one."
                    )
                ]
            }
        )
    name = current.name
    was_primary = current.is_primary
    current.delete()
    if was_primary and others:
        Contact.objects.filter(pk=others[0].pk).update(is_primary=True)
    _contacts_changed(customer)
    changes = [{"field": "contacts", "before": name, "after": None}]
    audit_record(actor=actor, action=AuditEntry.Action.UPDATE, instance=customer, changes=changes)
    _timeline(actor, customer, AuditEntry.Action.UPDATE, changes)


# --- bulk actions on a selection of the list (issue 5 §4) -----------------------------------

BULK_MAX = 500  # a page shows at most 100; a few pages' worth, never "the whole table"


@dataclasses.dataclass
class BulkResult:
    """What a bulk action did: the ids changed, and the ids it left alone (outside the actor's
    scope, already deleted, unknown, or already in the requested state)."""

    changed: list[int] = dataclasses.field(default_factory=list)
    skipped: list[int] = dataclasses.field(default_factory=list)


def _bulk_ids(ids: Any) -> list[int]:
    """The requested ids, de-duplicated in their order; anything not an id is refused."""
    return ids_clean(
        ids,
        field="ids",
        limit=BULK_MAX,
        empty=_("Select at least one customer."),
        too_many=_("Select at most %(max)s customers at a time."),
    )


def _bulk_locked(actor: Any, ids: list[int]) -> list[Customer]:
    """The live customers among `ids` inside the actor's scope, locked in id order (the same
    order for every caller, so two bulk actions cannot deadlock each other)."""
    return list(
        Customer.objects.select_for_update(of=("self",))
        .filter(scope_filter(actor, MODULE), deleted_at__isnull=True, pk__in=ids)
        .select_related("owner")
        .only("id", "number", "name", "grade", "owner_id", "owner__full_name", "owner__username")
        .order_by("pk")
    )


def _timeline_many(
    actor: Any, action: str, entries: list[tuple[Customer, list[dict[str, Any]]]]
) -> None:
    """The timeline lines of a bulk action, in one INSERT like its audit entries."""
    timeline_record_many(
        actor=actor,
        lines=[line for c, changes in entries for line in _timeline_lines(c, action, changes)],
    )


def _bulk_result(ids: list[int], changed: list[int]) -> BulkResult:
    done = set(changed)
    return BulkResult(changed=changed, skipped=[i for i in ids if i not in done])


# Each bulk action and the permission it needs; the UI and the API both check it first, so a
# caller without it gets 403 whatever else it sent.
BULK_ACTIONS = {"transfer": "transfer", "grade": "edit", "delete": "delete"}


@transaction.atomic
def customers_bulk_transfer(*, actor: Any, ids: Any, to_user: Any) -> BulkResult:
    """Hand the selected customers to one owner: all or nothing, one audit entry each."""
    _require(actor, "transfer")
    wanted = _bulk_ids(ids)
    owner_id = getattr(to_user, "pk", to_user)
    if isinstance(owner_id, bool) or not isinstance(owner_id, int):
        raise ValidationFailed(fields={"owner": [_owner_refused()]})
    owner = users_who_can_own(actor=actor, module=MODULE).filter(pk=owner_id).first()
    if owner is None:
        raise ValidationFailed(fields={"owner": [_owner_refused()]})
    rows = [c for c in _bulk_locked(actor, wanted) if c.owner_id != owner.pk]
    entries = [
        (
            c,
            [
                {
                    "field": "owner",
                    "before": c.owner.display_name if c.owner_id else "",
                    "after": owner.display_name,
                }
            ],
        )
        for c in rows
    ]
    audit_record_many(actor=actor, action=AuditEntry.Action.TRANSFER, entries=entries)
    ids = [c.pk for c in rows]
    from_pool = [c.pk for c in rows if c.owner_id is None]
    Customer.objects.filter(pk__in=ids).update(
        owner=owner,
        updated_by=actor,
        updated_at=timezone.now(),
        version=F("version") + 1,
        **_owner_clocks_reset(),
    )
    if from_pool:
        _assigned_from_pool(actor, from_pool, owner)
    timeline_owner_set(object_type=OBJECT_TYPE, object_ids=ids, owner_id=owner.pk)
    for c in rows:
        c.owner_id = owner.pk
    _timeline_many(actor, AuditEntry.Action.TRANSFER, entries)
    return _bulk_result(wanted, ids)


@transaction.atomic
def customers_bulk_grade_set(*, actor: Any, ids: Any, grade: Any) -> BulkResult:
    """Give the selected customers one grade: all or nothing, one audit entry each."""
    _require(actor, "edit")
    wanted = _bulk_ids(ids)
    if grade not in Grade.values:
        raise ValidationFailed(fields={"grade": [_("Choose a grade.")]})
    rows = [c for c in _bulk_locked(actor, wanted) if c.grade != grade]
    entries = [(c, [{"field": "grade", "before": c.grade, "after": grade}]) for c in rows]
    audit_record_many(actor=actor, action=AuditEntry.Action.UPDATE, entries=entries)
    _timeline_many(actor, AuditEntry.Action.UPDATE, entries)
    Customer.objects.filter(pk__in=[c.pk for c in rows]).update(
        grade=grade, updated_by=actor, updated_at=timezone.now(), version=F("version") + 1
    )
    return _bulk_result(wanted, [c.pk for c in rows])


@transaction.atomic
def customers_bulk_delete(*, actor: Any, ids: Any) -> BulkResult:
    """Move the selected customers to the recycle bin: all or nothing, one audit entry each."""
    _require(actor, "delete")
    wanted = _bulk_ids(ids)
    rows = _bulk_locked(actor, wanted)
    entries: list[tuple[Customer, list[dict[str, Any]]]] = [(c, []) for c in rows]
    audit_record_many(actor=actor, action=AuditEntry.Action.DELETE, entries=entries)
    _timeline_many(actor, AuditEntry.Action.DELETE, entries)
    now = timezone.now()
    Customer.objects.filter(pk__in=[c.pk for c in rows]).update(
        deleted_at=now, deleted_by=actor, updated_at=now, version=F("version") + 1
    )
    return _bulk_result(wanted, [c.pk for c in rows])


def customers_bulk_summary(*, action: str, result: BulkResult) -> str:
    """The sentence a person reads after a bulk action (UI message, API `message`)."""
    count = len(result.changed)
    if action == "transfer":
        text = ngettext(
            "%(count)s customer transferred.", "%(count)s customers transferred.", count
        )
    elif action == "grade":
        text = ngettext(
            "Grade changed for %(count)s customer.", "Grade changed for %(count)s customers.", count
        )
    else:
        text = ngettext(
            "%(count)s customer moved to the recycle bin.",
            "%(count)s customers moved to the recycle bin.",
            count,
        )
    text %= {"count": count}
    if result.skipped:
        text += " " + ngettext(
            "%(count)s selected customer was left unchanged (already so, or not yours to change).",
            "%(count)s selected customers were left unchanged (already so, or not yours to "
            "change).",
            len(result.skipped),
        ) % {"count": len(result.skipped)}
    return text
