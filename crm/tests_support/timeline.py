"""Test helpers for the customer timeline (crm.core.timeline)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from crm.core import timeline as core_timeline
from crm.core.models import TimelineEntry
from crm.core.timeline import timeline_kind_register, timeline_record


@contextlib.contextmanager
def kinds_registered(*kinds: tuple[str, str]) -> Iterator[None]:
    """Register throwaway kinds (code, module) for the duration of a test; each renders as
    "<code>: <data['note']>"."""
    saved = dict(core_timeline._KINDS)
    try:
        for code, module in kinds:
            timeline_kind_register(
                code,
                module=module,
                label=f"label {code}",
                render=lambda data, code=code: f"{code}: {data.get('note', '')}",
            )
        yield
    finally:
        core_timeline._KINDS.clear()
        core_timeline._KINDS.update(saved)


def timeline_line_make(
    *,
    customer: Any,
    kind: str,
    owner: Any = None,
    actor: Any = None,
    at: dt.datetime | None = None,
    data: dict[str, Any] | None = None,
    object_type: str = "test",
    object_id: int = 1,
) -> TimelineEntry:
    return timeline_record(
        customer_id=customer.pk,
        kind=kind,
        actor=actor,
        owner_id=(owner or customer.owner).pk,
        object_type=object_type,
        object_id=object_id,
        data=data,
        at=at or timezone.now(),
    )
