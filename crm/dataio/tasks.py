"""Background work of imports and exports (run by `crm worker`)."""

from __future__ import annotations

from django.tasks import task


@task()
def export_job_run(*, job_id: int) -> int:
    """Write one large export (crm.dataio.exports); returns its row count."""
    from crm.dataio.exports import export_job_run_now

    job = export_job_run_now(job_id)
    return job.rows if job is not None else 0


@task()
def import_job_run(*, job_id: int) -> int:
    """Run (or resume) one import (crm.dataio.imports); returns the rows done."""
    from crm.dataio.imports import import_job_run_now

    return import_job_run_now(job_id).done
