"""The customer timeline (CUS-11): services write a line for what they did; the customer page
reads them newest first (crm.core.models.TimelineEntry).

Modules declare their kinds here with the module whose data scope governs them; core imports
no app. The line's text is made at read time from `data`, in the reader's language, by the
renderer the module registered.

Writing (from a service, inside its transaction):

    timeline_record(customer_id=..., kind="stage_change", actor=actor, owner_id=opp.owner_id,
                    object_type="opportunity", object_id=opp.pk, data={...})
    timeline_record_many(actor=actor, lines=[{...same keys...}, ...])   # bulk actions

Reading (the customer page's timeline tab, GET /api/v1/customers/{id}/timeline):

    page = timeline_for_customer(user=request.user, customer=customer, kinds=["won"], page=1)
    page.items  -> [TimelineItem(kind, kind_label, icon, at, actor_id, actor_name, text, ...)]

A reader sees a line only when they may view the line's module and their data scope in that
module covers the line's owner: a rep who sees a customer does not see, on its timeline, the
stage changes of a colleague's opportunity on that customer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from crm.core.models import TimelineEntry
from crm.core.pagination import Page, paginate
from crm.core.permissions import MODULES
from crm.core.scope import NOTHING, scope_covers, scope_filter, user_scope

logger = logging.getLogger(__name__)

Renderer = Callable[[dict[str, Any]], str]
# (data, reader) -> the data this reader may read (e.g. phone numbers masked).
Redactor = Callable[[dict[str, Any], Any], dict[str, Any]]

DEFAULT_PAGE_SIZE = 30
# The icons (crm.web.templatetags.crm.icon) of the agreed kinds, for modules that register
# without naming one.
DEFAULT_ICONS = {
    "created": "plus",
    "field_change": "pencil",
    "contact_change": "user",
    "transfer": "swap",
    "deleted": "trash",
    "restored": "restore",
    "followup": "message",
    "opportunity_created": "target",
    "stage_change": "arrow-right",
    "won": "trophy",
    "lost": "x-circle",
    "reopened": "restore",
    "milestone": "flag",
    "file": "paperclip",
}
FALLBACK_ICON = "clock"


@dataclass(frozen=True)
class TimelineKind:
    code: str
    module: str
    label: Any
    render: Renderer
    icon: str = FALLBACK_ICON
    redact: Redactor | None = None


_KINDS: dict[str, TimelineKind] = {}


def timeline_kind_register(
    code: str,
    *,
    module: str,
    label: Any,
    render: Renderer,
    icon: str | None = None,
    redact: Redactor | None = None,
) -> None:
    """Declare a kind of timeline line (from an AppConfig.ready()).

    `render(data) -> str` words a line in the current language; `redact(data, reader)`, when
    given, runs first and returns what that reader may read (the renderer cannot know who
    reads). `icon` names an icon of crm.web.templatetags.crm.icon.
    """
    _KINDS[code] = TimelineKind(
        code=code,
        module=module,
        label=label,
        render=render,
        icon=icon or DEFAULT_ICONS.get(code, FALLBACK_ICON),
        redact=redact,
    )


def timeline_kinds() -> dict[str, TimelineKind]:
    return dict(_KINDS)


def timeline_kinds_for(user: Any) -> list[TimelineKind]:
    """The kinds `user` may see lines of (their module's view permission), for filter chips."""
    return [k for k in _KINDS.values() if user_scope(user, k.module) is not None]


def _entry(
    *,
    customer_id: int,
    kind: str,
    actor: Any,
    owner_id: int | None,
    object_type: str,
    object_id: int,
    data: dict[str, Any] | None,
    at: dt.datetime,
) -> TimelineEntry:
    if kind not in _KINDS:
        raise ValueError(f"unknown timeline kind {kind!r}: register it first")
    return TimelineEntry(
        customer_id=customer_id,
        kind=kind,
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        module=_KINDS[kind].module,
        owner_id=owner_id,
        object_type=object_type,
        object_id=object_id,
        data=data or {},
    )


def timeline_record(
    *,
    customer_id: int,
    kind: str,
    actor: Any,
    owner_id: int | None,
    object_type: str,
    object_id: int,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    module: str | None = None,
) -> TimelineEntry:
    """Write one timeline line, inside the caller's transaction (it rolls back with it).

    `module` overrides the kind's module for kinds that hang on records of several modules
    (a "file" line is governed by the scope of the module whose record the file is on).
    """
    entry = _entry(
        customer_id=customer_id,
        kind=kind,
        actor=actor,
        owner_id=owner_id,
        object_type=object_type,
        object_id=object_id,
        data=data,
        at=at or timezone.now(),
    )
    if module:
        entry.module = module
    entry.save()
    return entry


def timeline_record_many(
    *, actor: Any, lines: Iterable[dict[str, Any]], at: dt.datetime | None = None
) -> list[TimelineEntry]:
    """Write many lines in one INSERT (a bulk action on 500 customers is one round trip).

    Each line is a dict of timeline_record's keywords other than `actor`: customer_id, kind,
    owner_id, object_type, object_id and optionally data and at (the line's own moment, e.g.
    a follow-up's time; else `at`, else now).
    """
    when = at or timezone.now()
    rows = [
        _entry(actor=actor, at=line.get("at") or when, data=line.get("data"), **_line_keys(line))
        for line in lines
    ]
    return TimelineEntry.objects.bulk_create(rows) if rows else []


def _line_keys(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer_id": line["customer_id"],
        "kind": line["kind"],
        "owner_id": line["owner_id"],
        "object_type": line["object_type"],
        "object_id": line["object_id"],
    }


def timeline_owner_set(*, object_type: str, object_ids: list[int], owner_id: int) -> int:
    """After a transfer: the record's lines follow its new owner's scope."""
    return TimelineEntry.objects.filter(object_type=object_type, object_id__in=object_ids).update(
        owner_id=owner_id
    )


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineItem:
    """One line as a reader sees it: worded in the current language, redacted for them."""

    id: int
    kind: str
    kind_label: str
    icon: str
    module: str
    at: dt.datetime
    actor_id: int | None
    actor_name: str
    text: str
    object_type: str
    object_id: int


def timeline_scope_q(user: Any, *, customer_owner: Any = None) -> Q:
    """Lines of the registered kinds whose module `user` may view and whose owner their scope
    in that module covers: OR over modules of (module = m AND scope of m by owner).

    With `customer_owner` (the owner of the customer whose timeline it is): a module marked
    `follows_customer` (crm.core.permissions) whose scope covers the customer's owner shows all
    its lines of that customer, as its own lists do (the follow-ups a manager logged on a
    rep's customer).
    """
    modules = sorted({k.module for k in _KINDS.values()})
    everything: list[str] = []
    parts: list[Q] = []
    for module in modules:
        scope = scope_filter(user, module, owner_field="owner")
        if scope == NOTHING:
            continue
        wide = module in MODULES and MODULES[module].follows_customer
        if not scope or (wide and scope_covers(user, module, customer_owner)):
            everything.append(module)
        else:
            parts.append(Q(module=module) & scope)
    if everything:
        parts.append(Q(module__in=everything))
    condition = NOTHING
    for i, part in enumerate(parts):
        condition = part if i == 0 else condition | part
    return condition


def timeline_kinds_clean(kinds: Iterable[str] | None) -> tuple[list[str], list[str]]:
    """(known, unknown) codes of a kind filter; commas split a value ("won,lost")."""
    known: list[str] = []
    unknown: list[str] = []
    for value in kinds or ():
        for code in str(value).split(","):
            code = code.strip()
            if not code:
                continue
            target = known if code in _KINDS else unknown
            if code not in target:
                target.append(code)
    return known, unknown


def timeline_for_customer(
    *,
    user: Any,
    customer: Any,
    kinds: Iterable[str] | None = None,
    page: Any = 1,
    size: Any = DEFAULT_PAGE_SIZE,
) -> Page:
    """A page of `customer`'s timeline as `user` may see it, newest first (at, id desc).

    `customer` must come from the customers selector (customer_get): its own visibility is
    the caller's check. Lines are limited by `timeline_scope_q`; `kinds` filters by kind code
    (unknown codes are ignored here: the API refuses them with 422 before calling). No count:
    one row more than the page says whether an older page exists. Two queries whatever the
    page size: the lines with their actors (select_related), and nothing else.
    """
    known, _unknown = timeline_kinds_clean(kinds)
    wanted = known or list(_KINDS)
    rows = (
        TimelineEntry.objects.filter(customer_id=customer.pk, kind__in=wanted)
        .filter(timeline_scope_q(user, customer_owner=getattr(customer, "owner", None)))
        .select_related("actor")
        .order_by("-at", "-id")
    )
    result = paginate(rows, page=page, size=size)
    result.items = [_item(entry, user) for entry in result.items]
    return result


def _item(entry: TimelineEntry, user: Any) -> TimelineItem:
    kind = _KINDS.get(entry.kind)
    label = str(kind.label) if kind else entry.kind
    data = entry.data if isinstance(entry.data, dict) else {}
    try:
        if kind is not None and kind.redact is not None:
            data = kind.redact(dict(data), user)
        text = kind.render(data) if kind is not None else label
    except Exception:  # a line written before its renderer changed must not break the page
        logger.exception("timeline line %s (%s) cannot be rendered", entry.pk, entry.kind)
        text = label
    actor = entry.actor
    return TimelineItem(
        id=entry.pk,
        kind=entry.kind,
        kind_label=label,
        icon=kind.icon if kind else FALLBACK_ICON,
        module=entry.module,
        at=entry.at,
        actor_id=entry.actor_id,
        actor_name=actor.display_name if actor is not None else "",
        text=str(text),
        object_type=entry.object_type,
        object_id=entry.object_id,
    )
