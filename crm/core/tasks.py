"""Periodic sweeps: idempotent, safe to re-run, enqueued hourly by the worker and run by
`crm sweep` (cron-friendly)."""

from __future__ import annotations

from django.tasks import task


def sweeps_run_now() -> dict[str, int]:
    """Run every module's sweep once; returns how many records each touched."""
    from crm.customers.services import customers_purge_expired

    return {"recycle_bin_purge": customers_purge_expired()}


@task()
def sweeps_run() -> dict[str, int]:
    return sweeps_run_now()
