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
# Sweeps that need not run on every round (a full recomputation): the shortest time between
# two scheduled runs. The worker's round is short (CRM_SWEEP_INTERVAL, 5 minutes by default)
# so that a reminder due in 30 minutes goes out on time.
_EVERY: dict[str, dt.timedelta] = {}
logger = logging.getLogger(__name__)


class SweepsFailed(RuntimeError):
    """Raised after all sweeps ran when some failed, so one broken sweep starves no other."""


def sweep_register(name: str, func: Sweep, *, every: dt.timedelta | None = None) -> None:
    """Register a sweep; with `every`, scheduled rounds run it at most that often (the last
    run is kept in the shared cache: losing it only means one run more, sweeps are
    idempotent). `crm sweep` runs every sweep whatever its `every`."""
    _SWEEPS[name] = func
    if every is not None:
        _EVERY[name] = every
    else:
        _EVERY.pop(name, None)


def sweeps_registered() -> dict[str, Sweep]:
    return dict(_SWEEPS)


def _due(name: str, moment: dt.datetime) -> bool:
    from django.core.cache import cache

    every = _EVERY.get(name)
    if every is None:
        return True
    last = cache.get(f"crm:sweep:last:{name}")
    return last is None or not (last <= moment < last + every)


def _ran(name: str, moment: dt.datetime) -> None:
    from django.core.cache import cache

    if name in _EVERY:
        cache.set(f"crm:sweep:last:{name}", moment, timeout=int(_EVERY[name].total_seconds()))


def sweeps_run_now(*, now: dt.datetime | None = None, force: bool = True) -> dict[str, int]:
    """Run the registered sweeps once as of `now` (default: the present); counts per sweep.

    `force=False` (the worker's scheduled round) skips sweeps run within their `every`.
    """
    moment = now or timezone.now()
    results: dict[str, int] = {}
    failed: list[str] = []
    for name, func in _SWEEPS.items():
        if not force and not _due(name, moment):
            continue
        try:
            results[name] = func(now=moment)
            _ran(name, moment)
        except Exception:
            logger.exception("sweep %s failed", name)
            failed.append(name)
    if failed:
        raise SweepsFailed(f"sweeps failed: {', '.join(failed)} (the others ran: {results})")
    return results
