"""Exports in the API (issue 8 §7): GET /{module}/export and GET /exports/{id}.

The list's own query parameters select the rows (the same parsing as the list page, so a
value the list ignores is ignored here too); `format` is xlsx (default) or csv. Up to
CRM_EXPORT_SYNC_LIMIT rows (10,000) the answer is the file; beyond, 202 with the job's id,
polled at /exports/{id} and downloaded from its `file_url` when done.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from crm.core.api import ParamInt
from crm.core.errors import NotFoundError, ValidationFailed
from crm.dataio.exports import (
    ExportPlan,
    export_file_response,
    export_is_large,
    export_job_get,
    export_job_start,
    export_module,
    export_response,
)
from crm.dataio.models import ExportJob

router = Router(tags=["exports"])

# The modules with an export route, and those whose recycle bin has one too.
EXPORTABLE = ("customers", "contacts", "leads", "opportunities", "followups")
RECYCLE_BINS = ("customers", "leads", "opportunities", "followups")


class ExportStartedOut(Schema):
    id: int


class ExportJobOut(Schema):
    id: int
    state: Literal["queued", "running", "done", "failed", "expired"]
    module: str
    recycle_bin: bool
    format: Literal["xlsx", "csv"]
    rows: int
    file_url: str | None = Field(description="The download in the web app (signed-in session).")
    api_file_url: str | None = Field(
        description="The same file for API clients: GET it with the token (200 the file)."
    )
    created_at: dt.datetime
    finished_at: dt.datetime | None


FILE_RESPONSE = {
    "responses": {
        200: {
            "description": "The file (up to 10,000 rows).",
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
    "parameters": [
        {
            "in": "query",
            "name": "format",
            "schema": {"type": "string", "enum": ["xlsx", "csv"], "default": "xlsx"},
        }
    ],
}


def _export(request: HttpRequest, key: str, *, recycle_bin: bool) -> Any:
    user = request.auth
    module = export_module(user, key, recycle_bin=recycle_bin)
    fmt = request.GET.get("format") or "xlsx"
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed(fields={"format": [_("Choose xlsx or csv.")]})
    plan = ExportPlan(
        module=module, user=user, format=fmt, params=request.GET, recycle_bin=recycle_bin
    )
    if export_is_large(plan):
        return Status(202, {"id": export_job_start(plan).pk})
    return export_response(plan)


def _route(key: str, *, recycle_bin: bool) -> None:
    path = f"/recycle-bin/{key}/export" if recycle_bin else f"/{key}/export"
    name = f"{key}_recycle_bin_export" if recycle_bin else f"{key}_export"

    def view(request: HttpRequest):
        return _export(request, key, recycle_bin=recycle_bin)

    view.__name__ = name
    where = "deleted records in the recycle bin" if recycle_bin else "the list"
    router.get(
        path,
        response={200: None, 202: ExportStartedOut},
        operation_id=name,
        summary=f"Export {where} of {key} as xlsx or csv",
        description=(
            f"What {where} shows the caller: the data scope, and the list's own query "
            "parameters (filters, `q`, `sort`). Needs the module's export permission"
            + (" and delete (the recycle bin's)" if recycle_bin else "")
            + "; phone and email are masked without view_contact; cells starting with "
            "= + - @ tab or CR get a leading apostrophe. Up to 10,000 rows: 200 with the "
            "file; more: 202 `{id}`, see `GET /exports/{id}`."
        ),
        openapi_extra=FILE_RESPONSE,
    )(view)


for _key in EXPORTABLE:
    _route(_key, recycle_bin=False)
for _key in RECYCLE_BINS:
    _route(_key, recycle_bin=True)


def export_job_out(job: ExportJob) -> dict[str, Any]:
    done = job.state == ExportJob.State.DONE and bool(job.file)
    return {
        "id": job.pk,
        "state": job.state,
        "module": job.module,
        "recycle_bin": job.recycle_bin,
        "format": job.format,
        "rows": job.rows,
        "file_url": reverse("dataio:export_download", args=[job.pk]) if done else None,
        "api_file_url": f"/api/v1/exports/{job.pk}/file" if done else None,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


@router.get(
    "/exports/{job_id}",
    response={200: ExportJobOut},
    operation_id="export_get",
    summary="A large export's state and, when done, its download link",
    description="Only the user who started the export sees it (404 for anyone else).",
)
def export_get_api(request: HttpRequest, job_id: ParamInt):
    if job_id is None:
        raise NotFoundError()
    return export_job_out(export_job_get(user=request.auth, job_id=job_id))


@router.get(
    "/exports/{job_id}/file",
    operation_id="export_file",
    summary="Download a finished large export",
    description="Only the user who started the export (404 for anyone else, or before it is "
    "done, or after it expired).",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file.",
                "content": FILE_RESPONSE["responses"][200]["content"],
            },
        }
    },
)
def export_file_api(request: HttpRequest, job_id: ParamInt):
    if job_id is None:
        raise NotFoundError()
    job = export_job_get(user=request.auth, job_id=job_id)
    return export_file_response(job)
