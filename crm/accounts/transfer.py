"""Bulk transfer of a leaving user's records (ORG-3).

Each module registers a handler; deactivation calls them all in one transaction, so later
modules (opportunities, tasks ...) join the transfer by registering, not by editing accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TransferHandler = Callable[..., int]
_HANDLERS: dict[str, TransferHandler] = {}


def transfer_handler_register(module: str, handler: TransferHandler) -> None:
    _HANDLERS[module] = handler


def transfer_handlers() -> dict[str, TransferHandler]:
    return dict(_HANDLERS)


def transfer_refused_modules(*, actor: Any, to_user: Any) -> list[str]:
    """The modules whose records `to_user` could not own (a transfer there would hand the
    records to someone who cannot work them: a finance clerk, an executive who only reads)."""
    from crm.core.permissions import MODULES
    from crm.core.scope import users_who_can_own

    return [
        module
        for module in _HANDLERS
        if module in MODULES
        and not users_who_can_own(actor=actor, module=module).filter(pk=to_user.pk).exists()
    ]


def transfer_recipients(*, actor: Any, exclude: Any = None):
    """Active users who could own the records of every module that transfers (ORG-3)."""
    from crm.accounts.models import User
    from crm.core.permissions import MODULES
    from crm.core.scope import users_who_can_own

    qs = User.objects.filter(is_active=True)
    for module in _HANDLERS:
        if module in MODULES:
            qs = qs.filter(pk__in=users_who_can_own(actor=actor, module=module).values("pk"))
    return qs.exclude(pk=exclude.pk) if exclude is not None else qs


def records_transfer_all(*, from_user: Any, to_user: Any, actor: Any) -> dict[str, int]:
    """Move every record owned by from_user to to_user; returns counts per module."""
    return {
        module: handler(from_user=from_user, to_user=to_user, actor=actor)
        for module, handler in _HANDLERS.items()
    }
