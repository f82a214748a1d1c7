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


def records_transfer_all(*, from_user: Any, to_user: Any, actor: Any) -> dict[str, int]:
    """Move every record owned by from_user to to_user; returns counts per module."""
    return {
        module: handler(from_user=from_user, to_user=to_user, actor=actor)
        for module, handler in _HANDLERS.items()
    }
