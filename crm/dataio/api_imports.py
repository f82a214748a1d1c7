"""Imports in the API (issue 8 §7).

- GET  /imports/{module}/template?format=xlsx|csv: the module's template (Chinese headers, an
  example row, drop-downs for the choice columns, the custom fields included);
- POST /imports/{module} (multipart `file`, `dry_run`, `match`, `on_match`, `mapping`) → 202
  {id}; the worker runs the job;
- GET  /imports/{import_id}: state and counts, the first 100 errors, the error file's URL;
- GET  /imports/{import_id}/errors.xlsx: the rejected rows with an error column;
- GET  /imports?module=: the imports the caller may see, newest first.

Permission: the module's import action (`create` for the modules so far: permissions.MODULES
has no `import` action). A job is seen by its creator and by whoever may import into the
module with a data scope that covers the creator (a manager sees the team's imports); anyone
else gets 404.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from crm.core.api import OutSchema, PageParams, ParamBool, ParamInt, Text, errors, page_envelope
from crm.core.body_limit import api_upload_path_register
from crm.core.errors import NotFoundError, TooLargeError, ValidationFailed
from crm.core.pagination import paginate
from crm.dataio.imports import (
    import_job_commit,
    import_job_get,
    import_job_start,
    import_jobs_visible,
    import_module,
    template_file,
)
from crm.dataio.models import ImportJob

router = Router(tags=["imports"])
# The modules with (or soon with) an importer; uploads to them may carry a file.
IMPORTABLE = ("customers", "leads", "opportunities", "followups")
for _key in IMPORTABLE:
    api_upload_path_register(f"/api/v1/imports/{_key}")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportStartedOut(Schema):
    id: int


class ImportErrorOut(OutSchema):
    row: int = Field(description="The spreadsheet's row number (the header is row 1).")
    column: str = Field(description="The column's header in the file.")
    message: str


class ImportJobOut(OutSchema):
    id: int
    module: str
    state: Literal["queued", "running", "done", "failed"]
    dry_run: bool
    match: list[str]
    on_match: Literal["skip", "update_empty", "overwrite"]
    file_name: str
    total: int
    done: int
    created: int
    updated: int
    skipped: int
    rejected: int
    errors: list[ImportErrorOut] = Field(description="The first 100 rejections.")
    error_file_url: str | None = Field(description="The rejected rows as xlsx, when any.")
    message: str = Field(description="Why a failed job failed.")
    created_by_id: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ImportPageOut(OutSchema):
    items: list[ImportJobOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None


class ImportListParams(PageParams):
    module: Text | None = Field(default=None, max_length=40)


class ImportOptions(Schema):
    dry_run: ParamBool = Field(default=False, description="true: validate and count only.")
    match: Text = Field(default="", max_length=200, description="e.g. number,name,phone")
    on_match: Text = Field(default="skip", max_length=20)
    mapping: Text = Field(default="", max_length=100_000, description="JSON {header: key}")


def import_job_out(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "module": job.module,
        "state": job.state,
        "dry_run": job.dry_run,
        "match": list(job.match or []),
        "on_match": job.on_match,
        "file_name": job.file_name,
        "total": job.total,
        "done": job.done,
        "created": job.created,
        "updated": job.updated,
        "skipped": job.skipped,
        "rejected": job.rejected,
        "errors": list(job.errors or [])[:100],
        "error_file_url": f"/api/v1/imports/{job.pk}/errors.xlsx" if job.error_file else None,
        "message": job.message,
        "created_by_id": job.created_by_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _module(request: HttpRequest, key: str):
    try:
        return import_module(request.auth, key)
    except KeyError:
        raise NotFoundError() from None


@router.get(
    "/imports",
    response={200: ImportPageOut},
    operation_id="import_list",
    summary="The imports the caller may see, newest first",
    description="The caller's own imports and, for those who may import into a module, the "
    "imports of the users their data scope covers. `module` filters.",
)
def import_list_api(request: HttpRequest, params: Query[ImportListParams]):
    rows = import_jobs_visible(user=request.auth, module_key=params.module or None)
    page = paginate(rows, page=params.page, size=params.page_size)
    return page_envelope(request, page, [import_job_out(j) for j in page.items])


@router.get(
    "/imports/{int:import_id}",
    response={200: ImportJobOut},
    operation_id="import_get",
    summary="An import's state, counts and first errors",
    description="Poll while `state` is queued or running; `done` of `total` rows so far.",
)
def import_get_api(request: HttpRequest, import_id: ParamInt):
    return import_job_out(import_job_get(user=request.auth, job_id=import_id))


@router.post(
    "/imports/{int:import_id}",
    response={202: ImportStartedOut, **errors(404, 409)},
    operation_id="import_commit",
    summary="Import for real what a dry run checked",
    description="A finished dry run of the caller's: a new import of the same file with the "
    "same options starts (202 with its id). Anything else: 409; another user's: 404.",
)
def import_commit_api(request: HttpRequest, import_id: ParamInt):
    dry = import_job_get(user=request.auth, job_id=import_id)
    return Status(202, {"id": import_job_commit(actor=request.auth, dry=dry).pk})


@router.get(
    "/imports/{import_id}/errors.xlsx",
    operation_id="import_errors_file",
    summary="The rejected rows of an import with an error column (xlsx)",
    description="404 when the import rejected nothing (or is not the caller's to see).",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file.",
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def import_errors_file_api(request: HttpRequest, import_id: ParamInt):
    from django.http import FileResponse

    job = import_job_get(user=request.auth, job_id=import_id)
    if not job.error_file:
        raise NotFoundError()
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"{job.module}-import-{job.pk}-errors.xlsx",
        content_type=XLSX,
    )


@router.get(
    "/imports/{module}/template",
    operation_id="import_template",
    summary="The import template of a module (xlsx or csv)",
    description="Chinese headers (the labels the import reads back), an example row, the "
    "choice and list values as drop-downs (xlsx), the active custom fields included. Needs "
    "the module's import permission; 404 for a module without imports.",
    openapi_extra={
        "parameters": [
            {
                "in": "query",
                "name": "format",
                "schema": {"type": "string", "enum": ["xlsx", "csv"], "default": "xlsx"},
            }
        ],
        "responses": {
            200: {
                "description": "The template.",
                "content": {
                    XLSX: {"schema": {"type": "string", "format": "binary"}},
                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    },
)
def import_template_api(request: HttpRequest, module: str):
    declared = _module(request, module)
    fmt = request.GET.get("format") or "xlsx"
    if fmt not in ("xlsx", "csv"):
        raise ValidationFailed(fields={"format": [_("Choose xlsx or csv.")]})
    content, name = template_file(declared, fmt)
    response = HttpResponse(
        content, content_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get(
    "/imports/{module}",
    response={200: ImportPageOut, **errors(404)},
    operation_id="import_list_module",
    summary="The imports of one module the caller may see (as GET /imports?module=)",
)
def import_list_module_api(request: HttpRequest, module: str, params: Query[PageParams]):
    _module(request, module)
    rows = import_jobs_visible(user=request.auth, module_key=module)
    page = paginate(rows, page=params.page, size=params.page_size)
    return page_envelope(request, page, [import_job_out(j) for j in page.items])


@router.post(
    "/imports/{module}",
    response={202: ImportStartedOut, **errors(404)},
    operation_id="import_start",
    summary="Upload a spreadsheet to import (runs in the background)",
    description=(
        "multipart/form-data: `file` (xlsx, or csv in UTF-8, UTF-8 with BOM or GB18030), "
        "`dry_run` (true: validate and count, write nothing), `match` (comma list of "
        "number, credit_code, name, phone, email: the order existing records are matched "
        "in), `on_match` (skip, update_empty, overwrite), `mapping` (a JSON object "
        '{header: column key or ""}; headers are otherwise matched by label or key). '
        "202 with the job's id; poll GET /imports/{import_id}. 422 naming the field for a "
        "bad option or a file that is not a spreadsheet, 413 over the upload limit."
    ),
)
def import_start_api(
    request: HttpRequest,
    module: str,
    file: File[UploadedFile],
    options: Form[ImportOptions],
):
    from crm.core.files import attachment_max_bytes, attachment_too_large_message

    _module(request, module)
    dry_run, match, on_match, mapping = (
        options.dry_run,
        options.match,
        options.on_match,
        options.mapping,
    )
    parsed: Any = None
    if mapping.strip():
        try:
            parsed = json.loads(mapping)
        except ValueError:
            raise ValidationFailed(
                fields={"mapping": [_("Send the mapping as an object of header: column key.")]}
            ) from None
    size = getattr(file, "size", None)
    if size is not None and size > attachment_max_bytes():
        message = attachment_too_large_message(file.name or "", size)
        raise TooLargeError(message, fields={"file": [message]})
    job = import_job_start(
        actor=request.auth,
        module_key=module,
        upload=file,
        dry_run=dry_run,
        match=match or None,
        on_match=on_match or "skip",
        mapping=parsed,
    )
    return Status(202, {"id": job.pk})
