"""The customer archive's own lines on the customer timeline (CUS-11): created, fields
changed, contacts changed, transferred, deleted, restored.

The lines are made from the same `changes` the audit trail records ({field, before, after},
values as a person reads them: dictionary labels, owner names), by `timeline_lines`, so the
services (live) and the backfill migration (from existing audit entries) write the same
lines. The text is worded when the line is read, in the reader's language; phone numbers and
emails are masked then for readers without customers/view_contact.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit_field_label
from crm.core.masking import mask_email, mask_phone
from crm.core.timeline import timeline_kind_register

MODULE = "customers"
OBJECT_TYPE = "customer"
KINDS = ("created", "field_change", "contact_change", "transfer", "deleted", "restored")
# Long texts (background, requirement ...) are cut on the timeline; the history tab has them
# whole.
VALUE_CHARS = 60
MASKS = {"phone": mask_phone, "email": mask_email}


# --- from audit changes to lines -----------------------------------------------------------


def _contact_field(name: str) -> str | None:
    return name.split(".", 1)[1] if name.startswith("contact.") else None


def timeline_lines(
    *, action: str, changes: list[dict[str, Any]] | None, name: str = "", number: str = ""
) -> list[tuple[str, dict[str, Any]]]:
    """(kind, data) of the lines one audited customer write makes.

    `action` is the AuditEntry action (create, update, transfer, delete, restore); `changes`
    the audit entry's changes. `name`/`number` describe the customer for a "created" line.
    """
    changes = [c for c in (changes or []) if isinstance(c, dict)]
    if action == "create":
        return [("created", {"name": name, "number": number})]
    if action == "delete":
        return [("deleted", {})]
    if action == "restore":
        return [("restored", {})]
    if action == "transfer":
        owner = next((c for c in changes if c.get("field") == "owner"), {})
        return [("transfer", {"before": owner.get("before"), "after": owner.get("after")})]
    if action != "update":
        return []
    lines: list[tuple[str, dict[str, Any]]] = []
    fields = []
    by_contact: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        field = str(change.get("field", ""))
        if field == "contacts":
            if change.get("after") and not change.get("before"):
                lines.append(("contact_change", {"action": "added", "contact": change["after"]}))
            elif change.get("before") and not change.get("after"):
                lines.append(("contact_change", {"action": "removed", "contact": change["before"]}))
        elif _contact_field(field):
            by_contact.setdefault(str(change.get("contact") or ""), []).append(
                {
                    "field": _contact_field(field),
                    "before": change.get("before"),
                    "after": change.get("after"),
                }
            )
        elif field:
            fields.append(
                {"field": field, "before": change.get("before"), "after": change.get("after")}
            )
    for contact, contact_changes in by_contact.items():
        lines.append(
            (
                "contact_change",
                {"action": "changed", "contact": contact, "changes": contact_changes},
            )
        )
    if fields:
        lines.insert(0, ("field_change", {"changes": fields}))
    return lines


# --- wording ------------------------------------------------------------------------------


def _label(name: str, *, contact: bool = False) -> str:
    from crm.customers.models import Contact, Customer

    model = Contact if contact else Customer
    return audit_field_label(model, name)


def _value(name: str, value: Any) -> str:
    if value is None or value == "":
        return _("(empty)")
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if name == "budget":
        from crm.web.templatetags.crm import cny

        return cny(value)
    text = " ".join(str(value).split())
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _changes_text(changes: list[dict[str, Any]], *, contact: bool = False) -> str:
    parts = []
    for change in changes:
        if not isinstance(change, dict):
            continue
        name = str(change.get("field", ""))
        parts.append(
            _("%(field)s: %(before)s → %(after)s")
            % {
                "field": _label(name, contact=contact),
                "before": _value(name, change.get("before")),
                "after": _value(name, change.get("after")),
            }
        )
    return "; ".join(parts)


def render_created(data: dict[str, Any]) -> str:
    return _("Created the customer %(name)s (%(number)s)") % {
        "name": data.get("name") or "",
        "number": data.get("number") or "",
    }


def render_field_change(data: dict[str, Any]) -> str:
    return _("Changed %(changes)s") % {"changes": _changes_text(data.get("changes") or [])}


def render_contact_change(data: dict[str, Any]) -> str:
    name = data.get("contact") or ""
    action = data.get("action")
    if action == "added":
        return _("Added the contact %(name)s") % {"name": name}
    if action == "removed":
        return _("Removed the contact %(name)s") % {"name": name}
    return _("Changed the contact %(name)s: %(changes)s") % {
        "name": name,
        "changes": _changes_text(data.get("changes") or [], contact=True),
    }


def render_transfer(data: dict[str, Any]) -> str:
    return _("Transferred the customer from %(before)s to %(after)s") % {
        "before": data.get("before") or _("(nobody)"),
        "after": data.get("after") or _("(nobody)"),
    }


def render_deleted(data: dict[str, Any]) -> str:
    return _("Moved the customer to the recycle bin")


def render_restored(data: dict[str, Any]) -> str:
    return _("Restored the customer from the recycle bin")


def redact_contact_details(data: dict[str, Any], reader: Any) -> dict[str, Any]:
    """Phone numbers and emails masked for a reader without customers/view_contact (SYS-5)."""
    from crm.core.masking import contact_details_shown

    if contact_details_shown(reader):
        return data
    masked = []
    for change in data.get("changes") or []:
        if not isinstance(change, dict):
            continue
        field = str(change.get("field", ""))
        mask = MASKS.get(_contact_field(field) or field)
        if mask is not None:
            change = {
                **change,
                **{
                    side: mask(change[side])
                    for side in ("before", "after")
                    if isinstance(change.get(side), str)
                },
            }
        masked.append(change)
    return {**data, "changes": masked}


def customer_timeline_kinds_register() -> None:
    """Called from CustomersConfig.ready()."""
    for code, label, render, redact in (
        ("created", gettext_lazy("Customer created"), render_created, None),
        (
            "field_change",
            gettext_lazy("Fields changed"),
            render_field_change,
            redact_contact_details,
        ),
        (
            "contact_change",
            gettext_lazy("Contacts changed"),
            render_contact_change,
            redact_contact_details,
        ),
        ("transfer", gettext_lazy("Transferred"), render_transfer, None),
        ("deleted", gettext_lazy("Moved to the recycle bin"), render_deleted, None),
        ("restored", gettext_lazy("Restored"), render_restored, None),
    ):
        timeline_kind_register(code, module=MODULE, label=label, render=render, redact=redact)


# --- backfill from the audit trail (migration 0007) ------------------------------------------


def timeline_backfill(
    *,
    audit_model: Any,
    timeline_model: Any,
    customer_model: Any,
    content_type_id: int,
    batch_size: int = 1000,
) -> int:
    """Write timeline lines for the audit entries of customers that have no line yet.

    Walks the customers in primary-key batches; a customer with any line of the customer
    module is skipped (it has been backfilled, or recorded live), so a re-run writes nothing
    twice. Takes the models as arguments so the migration can pass its historical ones.
    Returns the number of lines written.
    """
    written = 0
    last_pk = 0
    while True:
        customers = list(
            customer_model.objects.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "owner_id", "name", "number")[:batch_size]
        )
        if not customers:
            return written
        last_pk = customers[-1][0]
        done = set(
            timeline_model.objects.filter(
                customer_id__in=[c[0] for c in customers], module=MODULE
            ).values_list("customer_id", flat=True)
        )
        todo = {
            pk: (owner, name, number) for pk, owner, name, number in customers if pk not in done
        }
        if not todo:
            continue
        rows = []
        for entry in (
            audit_model.objects.filter(content_type_id=content_type_id, object_id__in=list(todo))
            .order_by("created_at", "id")
            .only("object_id", "action", "changes", "actor_id", "created_at")
        ):
            owner_id, name, number = todo[entry.object_id]
            created_name = next(
                (
                    c.get("after")
                    for c in entry.changes or []
                    if isinstance(c, dict) and c.get("field") == "name"
                ),
                None,
            )
            for kind, data in timeline_lines(
                action=entry.action,
                changes=entry.changes,
                name=created_name or name,
                number=number,
            ):
                rows.append(
                    timeline_model(
                        customer_id=entry.object_id,
                        kind=kind,
                        at=entry.created_at,
                        actor_id=entry.actor_id,
                        module=MODULE,
                        owner_id=owner_id,
                        object_type=OBJECT_TYPE,
                        object_id=entry.object_id,
                        data=data,
                    )
                )
        timeline_model.objects.bulk_create(rows, batch_size=1000)
        written += len(rows)
