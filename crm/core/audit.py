"""Audit trail (SYS-2): every service write records who, when, what, before -> after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext as _

from crm.core.middleware import client_ip_var, request_id_var
from crm.core.models import AuditEntry


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a field value for the before/after columns."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    """Field values by name; foreign keys as their id (compared cheaply, shown by label)."""
    data: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        data[name] = getattr(instance, attname)
    return data


def _blank(value: Any) -> bool:
    return value is None or value == ""


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields of `after` whose value differs from `before`, in `after`'s order.

    Empty and missing are the same thing to a reader (a create does not list every blank
    field, and '' -> None is no change); values are made JSON-safe for the audit row.
    """
    return [
        {"field": name, "before": _plain(before.get(name)), "after": _plain(after.get(name))}
        for name in after
        if before.get(name) != after.get(name)
        and not (_blank(before.get(name)) and _blank(after.get(name)))
    ]


def audit_record(
    *,
    actor: Any,
    action: str,
    instance: models.Model | None = None,
    changes: list[dict[str, Any]] | None = None,
    object_repr: str = "",
) -> AuditEntry:
    actor_obj = actor if getattr(actor, "pk", None) else None
    return AuditEntry.objects.create(
        actor=actor_obj,
        actor_name=(actor_obj.display_name if actor_obj else str(actor or ""))[:150],
        action=action,
        content_type=ContentType.objects.get_for_model(instance) if instance is not None else None,
        object_id=instance.pk if instance is not None else None,
        object_repr=(object_repr or (str(instance) if instance is not None else ""))[:200],
        changes=changes or [],
        request_id=request_id_var.get(),
        ip=client_ip_var.get(),
    )


def audit_history(instance: models.Model):
    """Entries about one record, newest first, with the actor fetched in the same query."""
    return (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(instance), object_id=instance.pk
        )
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


def audit_record_many(
    *, actor: Any, action: str, entries: list[tuple[models.Model, list[dict[str, Any]]]]
) -> list[AuditEntry]:
    """One audit entry per (record, changes), written in one INSERT: a bulk action on a
    hundred records must not cost a hundred round trips, yet each record keeps its history."""
    actor_obj = actor if getattr(actor, "pk", None) else None
    actor_name = (actor_obj.display_name if actor_obj else str(actor or ""))[:150]
    request_id, ip = request_id_var.get(), client_ip_var.get()
    rows = [
        AuditEntry(
            actor=actor_obj,
            actor_name=actor_name,
            action=action,
            content_type=ContentType.objects.get_for_model(instance),
            object_id=instance.pk,
            object_repr=str(instance)[:200],
            changes=changes or [],
            request_id=request_id,
            ip=ip,
        )
        for instance, changes in entries
    ]
    return AuditEntry.objects.bulk_create(rows)


def audit_field_label(model: type[models.Model] | None, name: str) -> str:
    """How a changed field reads in a history: the field's verbose name; for a list of related
    records (a customer's "contacts", an opportunity's "milestones") the related model's plural
    name; the code itself when the model no longer has such a field."""
    from django.core.exceptions import FieldDoesNotExist

    if model is None or not name:
        return name
    if name.startswith("custom."):  # a custom field (crm.core.customfields): its label
        from crm.core.customfields import custom_field_label

        return custom_field_label(model, name) or name
    if name == "merged_from":  # a merge (crm.core.merge): the record merged into this one
        return _("merged from")
    if name == "keep":  # ... the values taken from it
        return _("values kept")
    if name.startswith("moved."):  # ... and what moved with it
        from crm.core.models import Approval, Attachment, TimelineEntry

        what = name.removeprefix("moved.")
        generic = {"attachments": Attachment, "timeline": TimelineEntry, "approvals": Approval}
        label = (
            str(generic[what]._meta.verbose_name_plural)
            if what in generic
            else audit_field_label(model, what)
        )
        return _("moved: %(what)s") % {"what": label}
    if name == "approval":  # the approval a change was made by (crm.core.approvals)
        from crm.core.models import Approval

        return str(Approval._meta.verbose_name)
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    if getattr(field, "verbose_name", None):
        return str(field.verbose_name)
    related = getattr(field, "related_model", None)
    return str(related._meta.verbose_name_plural) if related is not None else name
