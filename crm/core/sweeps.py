"""Periodic sweeps, registered by each app (DESIGN: core imports no app).

A sweep is `func(*, now) -> int`: it does what is due as of `now` (so `crm sweep --now` can run
it as of any time), is idempotent, and returns how many records it touched. Apps call
`sweep_register` from their AppConfig.ready(); the worker's hourly task and `crm sweep` run
them all through `sweeps_run_now`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.utils import timezone

Sweep = Callable[..., int]
_SWEEPS: dict[str, Sweep] = {}
logger = logging.getLogger(__name__)


class SweepsFailed(RuntimeError):
    """Raised after all sweeps ran when some failed, so one broken sweep starves no other."""


def sweep_register(name: str, func: Sweep) -> None:
    _SWEEPS[name] = func


def sweeps_registered() -> dict[str, Sweep]:
    return dict(_SWEEPS)


def sweeps_run_now(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Run every registered sweep once as of `now` (default: the present); counts per sweep."""
    moment = now or timezone.now()
    results: dict[str, int] = {}
    failed: list[str] = []
    for name, func in _SWEEPS.items():
        try:
            results[name] = func(now=moment)
        except Exception:
            logger.exception("sweep %s failed", name)
            failed.append(name)
    if failed:
        raise SweepsFailed(f"sweeps failed: {', '.join(failed)} (the others ran: {results})")
    return results
