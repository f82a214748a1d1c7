"""The customer timeline (CUS-11): services write a line for what they did; the customer page
reads them newest first (crm.core.models.TimelineEntry).

Modules declare their kinds here with the module whose data scope governs them; core imports
no app. The line's text is made at read time from `data`, in the reader's language, by the
renderer the module registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from crm.core.models import TimelineEntry

Renderer = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class TimelineKind:
    code: str
    module: str
    label: Any
    render: Renderer


_KINDS: dict[str, TimelineKind] = {}


def timeline_kind_register(code: str, *, module: str, label: Any, render: Renderer) -> None:
    """Declare a kind of timeline line (from an AppConfig.ready())."""
    _KINDS[code] = TimelineKind(code=code, module=module, label=label, render=render)


def timeline_kinds() -> dict[str, TimelineKind]:
    return dict(_KINDS)


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
    if kind not in _KINDS:
        raise ValueError(f"unknown timeline kind {kind!r}: register it first")
    return TimelineEntry.objects.create(
        customer_id=customer_id,
        kind=kind,
        at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        module=module or _KINDS[kind].module,
        owner_id=owner_id,
        object_type=object_type,
        object_id=object_id,
        data=data or {},
    )


def timeline_owner_set(*, object_type: str, object_ids: list[int], owner_id: int) -> int:
    """After a transfer: the record's lines follow its new owner's scope."""
    return TimelineEntry.objects.filter(object_type=object_type, object_id__in=object_ids).update(
        owner_id=owner_id
    )
