"""Attachments on any record (issue 6 §3): the registry of what files can hang on.

Each module registers its record types from AppConfig.ready() (core imports no app):

    attachment_target_register(
        "opportunity",
        model=Opportunity,
        get=lambda *, user, object_id: opportunity_get(user=user, opportunity_id=object_id),
        can_attach=lambda *, user, instance: user_can(user, "opportunities", "edit"),
        customer_id=lambda instance: instance.customer_id,
        owner_id=lambda instance: instance.owner_id,
        module="opportunities",
    )

`get` is the module's scoped selector (raises NotFoundError outside the viewer's scope): the
upload, the list and the download all go through it, so a file is never reachable by someone
who cannot open its record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AttachmentTarget:
    object_type: str
    model: type
    get: Callable[..., Any]
    can_attach: Callable[..., bool]
    customer_id: Callable[[Any], int | None]
    owner_id: Callable[[Any], int | None]
    module: str


_TARGETS: dict[str, AttachmentTarget] = {}


def attachment_target_register(
    object_type: str,
    *,
    model: type,
    get: Callable[..., Any],
    can_attach: Callable[..., bool],
    customer_id: Callable[[Any], int | None],
    owner_id: Callable[[Any], int | None],
    module: str,
) -> None:
    _TARGETS[object_type] = AttachmentTarget(
        object_type=object_type,
        model=model,
        get=get,
        can_attach=can_attach,
        customer_id=customer_id,
        owner_id=owner_id,
        module=module,
    )


def attachment_targets() -> dict[str, AttachmentTarget]:
    return dict(_TARGETS)


def attachment_target(object_type: str) -> AttachmentTarget | None:
    return _TARGETS.get(object_type)
