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
        # Optional, for the customer page's files tab (one query per record type, not one
        # per file) and for labels and links in the file lists:
        visible=lambda user: opportunities_visible_to(user),  # the scoped queryset
        label=_("Opportunity"),
        url=lambda instance: reverse("sales:detail", args=[instance.pk]),
    )

`get` is the module's scoped selector (raises NotFoundError outside the viewer's scope): the
upload, the list and the download all go through it, so a file is never reachable by someone
who cannot open its record. `visible(user)` is the same scope as a queryset; without it a
list that spans record types (the customer's files tab) asks `get` once per record.

The services and selectors that use the registry are in crm.core.files.
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
    visible: Callable[[Any], Any] | None = None
    label: Any = ""
    url: Callable[[Any], str] | None = None


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
    visible: Callable[[Any], Any] | None = None,
    label: Any = "",
    url: Callable[[Any], str] | None = None,
) -> None:
    _TARGETS[object_type] = AttachmentTarget(
        object_type=object_type,
        model=model,
        get=get,
        can_attach=can_attach,
        customer_id=customer_id,
        owner_id=owner_id,
        module=module,
        visible=visible,
        label=label or object_type,
        url=url,
    )


def attachment_targets() -> dict[str, AttachmentTarget]:
    return dict(_TARGETS)


def attachment_target(object_type: str) -> AttachmentTarget | None:
    return _TARGETS.get(object_type)


def attachment_target_for_model(model: type) -> AttachmentTarget | None:
    """The target whose records are rows of `model` (an attachment knows its content type)."""
    return next((t for t in _TARGETS.values() if t.model is model), None)
