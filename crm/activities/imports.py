"""Follow-ups in imports (issue 8 §2): the batch writer (a history of calls kept in a
spreadsheet). Create only: a follow-up is a fact logged once, an import never matches one.

Per batch: the customers the rows name (by number, else by name) read and locked at once
among those the importer sees; the opportunities (by number) and contacts (by name) of those
customers read at once; every row validated by followup_clean with those choices (and the
authors read once per import); then one bulk_create, one audit INSERT, one timeline INSERT,
and per customer of the batch its times refreshed and followup_logged sent once, for its
latest follow-up (the receivers settle the customer's clocks from it).

A row must name a customer (customer number or name): one that does not exist or is out of
the importer's scope is rejected at that column; follow-ups on leads are logged on the lead's
page (the lead number column is refused).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from crm.activities.models import FollowUp
from crm.activities.services import (
    MODULE,
    _audit_snapshot,
    followup_clean,
    followup_timeline_line,
    followups_customer_times_refresh,
)
from crm.activities.signals import followup_logged
from crm.core.audit import audit_record_many, diff
from crm.core.errors import NotFoundError, ValidationFailed
from crm.core.models import AuditEntry
from crm.core.scope import scope_filter, users_who_can_own
from crm.core.text import name_key
from crm.core.timeline import timeline_record_many
from crm.customers.models import Contact, Customer
from crm.dataio.registry import ImportContext, ImportRow, ImportSpec

INPUT = (
    "author",
    "method",
    "occurred_at",
    "summary",
    "feedback",
    "next_action",
    "due_on",
    "next_at",
    "next_method",
    "next_goal",
)


def _customer_column(ctx: ImportContext) -> str:
    return "customer.number" if "customer.number" in ctx.columns else "customer.name"


def _customers(ctx: ImportContext, rows: list[ImportRow]) -> dict[int, Customer]:
    """Each row's customer (row.line -> customer), one query per key, locked; rows naming
    none, an unknown one or one out of scope rejected at the customer column."""
    numbers = {str(r.values.get("customer.number") or "").strip() for r in rows} - {""}
    names = {name_key(str(r.values.get("customer.name") or "")) for r in rows} - {""}
    base = (
        Customer.objects.select_for_update(of=("self",))
        .filter(scope_filter(ctx.actor, "customers"), deleted_at__isnull=True)
        .only("id", "name", "number", "name_key", "owner_id")
        .order_by("id")
    )
    by_number = {c.number: c for c in base.filter(number__in=sorted(numbers))} if numbers else {}
    by_name: dict[str, list[Customer]] = defaultdict(list)
    if names:
        for customer in base.filter(name_key__in=sorted(names)):
            by_name[customer.name_key].append(customer)
    found: dict[int, Customer] = {}
    for row in rows:
        if row.values.get("lead.number"):
            row.reject("lead.number", _("Log a lead's follow-ups on the lead's page."))
            continue
        number = str(row.values.get("customer.number") or "").strip()
        name = str(row.values.get("customer.name") or "")
        if number:
            customer = by_number.get(number)
            column = "customer.number"
        elif name:
            hits = by_name.get(name_key(name), [])
            if len(hits) > 1:
                row.reject(
                    "customer.name", _("Several customers have this name; enter its number.")
                )
                continue
            customer = hits[0] if hits else None
            column = "customer.name"
        else:
            row.reject(_customer_column(ctx), _("Choose the customer."))
            continue
        if customer is None:
            row.reject(column, _("Choose a customer within your data scope."))
        else:
            found[row.line] = customer
    return found


def followups_write_batch(ctx: ImportContext, rows: list[ImportRow]) -> None:
    from crm.sales.models import Opportunity

    memo = ctx.cache
    if "authors" not in memo:
        memo["authors"] = {u.pk: u for u in users_who_can_own(actor=ctx.actor, module=MODULE)}
    customers = _customers(ctx, rows)
    ids = sorted({c.pk for c in customers.values()})
    numbers = {str(r.values.get("opportunity.number") or "").strip() for r in rows} - {""}
    opportunities: dict[str, Any] = {}
    if numbers and ids:
        for o in Opportunity.objects.filter(
            scope_filter(ctx.actor, "opportunities"),
            number__in=sorted(numbers),
            customer_id__in=ids,
            deleted_at__isnull=True,
        ).only("id", "name", "number", "customer_id", "owner_id"):
            opportunities[o.number] = o
    contacts: dict[tuple[int, str], Contact] = {}
    if ids and any(r.values.get("contact.name") for r in rows):
        for c in Contact.objects.filter(customer_id__in=ids).order_by("-is_primary", "id"):
            contacts.setdefault((c.customer_id, c.name.strip().casefold()), c)
    choices = {
        "author": memo["authors"],
        "customer": {c.pk: c for c in customers.values()},
        "opportunity": {o.pk: o for o in opportunities.values()},
        "contact": {c.pk: c for c in contacts.values()},
    }
    now = timezone.now()
    made: list[FollowUp] = []
    for row in rows:
        customer = customers.get(row.line)
        if customer is None:
            continue
        data: dict[str, Any] = {k: v for k, v in row.values.items() if k in INPUT}
        if "custom" in row.values:
            data["custom"] = row.values["custom"]
        data["customer"] = customer.pk
        number = str(row.values.get("opportunity.number") or "").strip()
        if number:
            opportunity = opportunities.get(number)
            if opportunity is None:
                row.reject(
                    "opportunity.number", _("Choose an opportunity of this customer, or none.")
                )
                continue
            data["opportunity"] = opportunity.pk
        contact_name = str(row.values.get("contact.name") or "").strip()
        if contact_name:
            contact = contacts.get((customer.pk, contact_name.casefold()))
            if contact is None:
                row.reject("contact.name", _("Choose a contact of this customer, or none."))
                continue
            data["contact"] = contact.pk
        try:
            values, _customer = followup_clean(actor=ctx.actor, data=data, now=now, choices=choices)
        except ValidationFailed as exc:
            names = {"customer": _customer_column(ctx), "opportunity": "opportunity.number"}
            names["contact"] = "contact.name"
            row.reject_all(exc, names)
            continue
        except NotFoundError:
            row.reject(_customer_column(ctx), _("Choose a customer within your data scope."))
            continue
        made.append(FollowUp(**values, created_by=ctx.actor, updated_by=ctx.actor))
        row.outcome = "create"
    if made:
        _write(ctx, made)


def _write(ctx: ImportContext, made: list[FollowUp]) -> None:
    actor = ctx.actor
    FollowUp.objects.bulk_create(made)
    audit_record_many(
        actor=actor,
        action=AuditEntry.Action.CREATE,
        entries=[(f, diff({}, _audit_snapshot(f))) for f in made],
    )
    timeline_record_many(
        actor=actor,
        lines=[followup_timeline_line(f) for f in made],
    )
    latest: dict[int, FollowUp] = {}
    for f in made:
        if f.customer_id not in latest or f.occurred_at > latest[f.customer_id].occurred_at:
            latest[f.customer_id] = f
    for customer_id, followup in sorted(latest.items()):
        followups_customer_times_refresh(customer_id)
        followup_logged.send(sender=FollowUp, followup=followup, actor=actor)


def followup_import_example() -> dict[str, Any]:
    return {
        "customer.name": "示例科技有限公司",
        "contact.name": "张三",
        "method": "电话",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        "summary": "电话沟通报价，客户希望下周演示",
        "next_action": "准备演示环境",
    }


IMPORT_SPEC = ImportSpec(
    match_keys=(),  # create only
    default_match=(),
    write_batch=followups_write_batch,
    action="create",
    example=followup_import_example,
)
