"""Background tasks of the core: the periodic sweeps that the apps registered (core/sweeps.py),
enqueued every few minutes by `crm worker` (CRM_SWEEP_INTERVAL) and whenever a change makes a
sweep due at once."""

from __future__ import annotations

from django.tasks import task

from crm.core.sweeps import sweeps_run_now


@task()
def sweeps_run() -> dict[str, int]:
    return sweeps_run_now(force=False)
