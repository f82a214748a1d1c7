"""Exports (SYS-4, SYS-5, issue 8 §3): what a list shows, as xlsx or csv, streamed.

One path for every module: the module's declaration (crm.dataio.registry) gives the rows its
list page shows for the user and the query string (scope, filters, search, sort: the list's
own selector) and the columns; this file turns them into cells and files.

- Rows are read with .iterator(chunk_size=2000): the list's prefetches run once per chunk,
  so memory and the query count per chunk stay flat at a million rows.
- csv streams through StreamingHttpResponse, UTF-8 with a BOM (Excel then reads Chinese);
  xlsx is written by XlsxWriter in constant_memory mode to a temporary file.
- Up to CRM_EXPORT_SYNC_LIMIT rows (10,000) the file is the answer; beyond, an ExportJob
  runs in the worker, writes the file to storage and tells its owner.
- Phone and email are masked without view_contact exactly as the list masks them; text cells
  starting with = + - @ tab or CR get a leading ' so no spreadsheet reads them as formulas.
- Every export is audited: who, module, filters, row count, the file's SHA-256.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from crm.core.audit import audit_record
from crm.core.dictionaries import dictionary_labels
from crm.core.errors import PermissionDeniedError
from crm.core.masking import contact_details_shown, mask_email, mask_phone
from crm.core.scope import user_can
from crm.dataio.models import ExportJob
from crm.dataio.registry import Column, DataModule, dataio_module

CHUNK = 2000
FORMATS = ("xlsx", "csv")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def sync_limit() -> int:
    """Rows answered at once; more go to the worker (a setting so tests can lower it)."""
    return int(getattr(settings, "CRM_EXPORT_SYNC_LIMIT", 10_000))


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


# --- who may export what ----------------------------------------------------------------------


def export_allowed(user: Any, module: DataModule, *, recycle_bin: bool = False) -> bool:
    """The module's view and export permissions; the recycle bin also needs delete (those
    who may empty it, administrators by default)."""
    if not (
        user_can(user, module.permission, "view") and user_can(user, module.permission, "export")
    ):
        return False
    if recycle_bin:
        return module.deleted_rows is not None and user_can(user, module.permission, "delete")
    return True


def export_module(user: Any, key: str, *, recycle_bin: bool = False) -> DataModule:
    """The declared module if the user may export it; KeyError for an unknown one,
    PermissionDeniedError otherwise."""
    module = dataio_module(key)
    if not export_allowed(user, module, recycle_bin=recycle_bin):
        raise PermissionDeniedError()
    return module


def export_queryset(user: Any, module: DataModule, params: QueryDict, *, recycle_bin: bool):
    return (module.deleted_rows if recycle_bin else module.rows)(user, params)


# --- cells ------------------------------------------------------------------------------------


@dataclass
class CellContext:
    """What turning values into cells needs once per export (not per cell)."""

    can_view_contact: bool
    labels: dict[tuple[str, str], str] = field(default_factory=dictionary_labels)
    users: dict[int, str] = field(default_factory=dict)

    def user_name(self, user_id: int) -> str:
        if user_id not in self.users:  # custom user fields: a handful of people, cached
            from crm.accounts.models import User

            found = User.objects.filter(pk=user_id).first()
            self.users[user_id] = found.display_name if found else f"#{user_id}"
        return self.users[user_id]


def _label(column: Column, code: Any, ctx: CellContext) -> str:
    code = str(code)
    if column.choices:
        return str(dict(column.choices).get(code, code))
    if column.dictionary:
        return ctx.labels.get((column.dictionary, code), code)
    return code


def cell(module: DataModule, column: Column, obj: Any, ctx: CellContext) -> Any:
    """A cell as the file shows it: labels for choices, names for users, 是/否, masked
    contact details, numbers and dates as such (None: empty)."""
    raw = module.value(obj, column)
    if raw is None or raw == "" or raw == []:
        return None
    kind = column.kind
    if column.personal and not ctx.can_view_contact:
        return mask_email(str(raw)) if kind == "email" else mask_phone(str(raw))
    if kind == "choice":
        return _label(column, raw, ctx)
    if kind == "multichoice":
        return "、".join(_label(column, c, ctx) for c in (raw if isinstance(raw, list) else [raw]))
    if kind == "bool":
        return _("Yes") if raw is True else _("No")
    if kind == "user":
        return raw.display_name if hasattr(raw, "display_name") else ctx.user_name(int(raw))
    if kind == "integer":
        return raw if isinstance(raw, int) else _number(raw)
    if kind == "decimal":
        return raw if isinstance(raw, Decimal) else _number(raw)
    if kind == "datetime":
        moment = raw if isinstance(raw, dt.datetime) else parse_datetime(str(raw))
        if moment is None:
            return str(raw)
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return moment.replace(tzinfo=None, microsecond=0)
    if kind == "date":
        day = raw if isinstance(raw, dt.date) else parse_date(str(raw))
        return day if day is not None else str(raw)
    return str(raw)


def _number(raw: Any) -> Any:
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return str(raw)


def rows_iter(
    module: DataModule, columns: list[Column], queryset: Any, ctx: CellContext
) -> Iterator[list[Any]]:
    """Cells row by row; the list's prefetches run once per chunk of CHUNK rows."""
    for obj in queryset.iterator(chunk_size=CHUNK):
        yield [cell(module, column, obj, ctx) for column in columns]


def csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class _Echo:
    """A file-like object whose write returns the line (csv.writer into a generator)."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(header: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """The csv file as UTF-8 byte chunks, the BOM first; a few hundred rows per chunk."""
    writer = csv.writer(_Echo())
    yield "\ufeff".encode()
    yield writer.writerow([neutralise(h) for h in header]).encode()
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([csv_text(v) for v in row]))
        if len(buffer) >= 500:
            yield "".join(buffer).encode()
            buffer = []
    if buffer:
        yield "".join(buffer).encode()


def xlsx_write(target: Any, header: list[str], rows: Iterator[list[Any]]) -> int:
    """Write an xlsx to `target` (a path or a file) row by row in constant_memory mode;
    returns the number of data rows. Text goes in with write_string (never a formula) and the
    same leading apostrophe as the csv; numbers stay numbers, dates dates."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        target,
        {"constant_memory": True, "tmpdir": tempfile.gettempdir(), "strings_to_formulas": False},
    )
    sheet = book.add_worksheet()
    bold = book.add_format({"bold": True})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for c, label in enumerate(header):
        sheet.write_string(0, c, neutralise(label), bold)
        sheet.set_column(c, c, max(10, min(40, len(label) * 2 + 2)))
    count = 0
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(r, c, neutralise(value))
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, (int, Decimal, float)):
                sheet.write_number(r, c, float(value))
            elif isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value, moment)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, value, day)
            else:
                sheet.write_string(r, c, neutralise(str(value)))
        count = r
    sheet.freeze_panes(1, 0)
    book.close()
    return count


# --- the export as one unit -------------------------------------------------------------------


@dataclass
class ExportPlan:
    """Everything an export needs, built once from the user and the query string."""

    module: DataModule
    user: Any
    format: str
    params: QueryDict
    recycle_bin: bool = False

    def columns(self) -> list[Column]:
        return self.module.columns()

    def queryset(self) -> Any:
        return export_queryset(self.user, self.module, self.params, recycle_bin=self.recycle_bin)

    def context(self) -> CellContext:
        # Exactly what the lists show: clear only with view_contact and reveal on demand off.
        return CellContext(can_view_contact=contact_details_shown(self.user))

    def file_name(self) -> str:
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        bin_part = "-recycle-bin" if self.recycle_bin else ""
        return f"{self.module.key}{bin_part}-{stamp}.{self.format}"


def filters_of(params: QueryDict) -> dict[str, list[str]]:
    """The query string as stored and audited, without the format and the page.

    NUL characters are dropped (as the lists' filter parsing drops them): PostgreSQL's jsonb
    cannot store them, and an odd query string must not turn into a server error."""
    return {
        k.replace("\x00", ""): [v.replace("\x00", "") for v in values]
        for k, values in params.lists()
        if k not in ("format", "page", "page_size", "bin") and any(values)
    }


def export_audit(plan: ExportPlan, *, rows: int, sha256: str, job: ExportJob | None = None) -> None:
    """Who exported which module with which filters, how many rows, the file's hash (SYS-2)."""
    values = {
        "module": plan.module.key,
        "recycle_bin": plan.recycle_bin,
        "format": plan.format,
        "filters": filters_of(plan.params),
        "rows": rows,
        "sha256": sha256,
    }
    audit_record(
        actor=plan.user,
        action="export",
        instance=job,
        object_repr=f"{plan.module.label} ({plan.format}, {rows})",
        changes=[{"field": k, "before": None, "after": v} for k, v in values.items()],
    )


def export_is_large(plan: ExportPlan) -> bool:
    """More rows than the synchronous limit? One count bounded at the limit + 1 rows. Not the
    lists' total_approx: on PostgreSQL its planner estimate may be far off for a small,
    recently filled table, and a wrong guess would send a small export to the worker."""
    limit = sync_limit()
    counted = plan.queryset().order_by().select_related(None).prefetch_related(None)
    return counted.values("pk")[: limit + 1].count() > limit


def export_csv_stream(plan: ExportPlan) -> Iterator[bytes]:
    """The csv answer's chunks; the audit entry (rows, hash of the bytes sent) is written
    when the last chunk has gone, or with the rows sent so far if the client went away."""
    digest = hashlib.sha256()
    counter = {"rows": 0}
    columns = plan.columns()

    def counted(rows: Iterator[list[Any]]) -> Iterator[list[Any]]:
        for row in rows:
            counter["rows"] += 1
            yield row

    rows = counted(rows_iter(plan.module, columns, plan.queryset(), plan.context()))
    try:
        for chunk in csv_chunks([str(c.label) for c in columns], rows):
            digest.update(chunk)
            yield chunk
    finally:
        export_audit(plan, rows=counter["rows"], sha256=digest.hexdigest())


def export_xlsx_file(plan: ExportPlan) -> tuple[Any, int, str]:
    """(an open temporary file, rows, sha256) of the xlsx; the file goes away when closed."""
    columns = plan.columns()
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115  (FileResponse closes it)
    rows = rows_iter(plan.module, columns, plan.queryset(), plan.context())
    count = xlsx_write(handle, [str(c.label) for c in columns], rows)
    handle.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    handle.seek(0)
    export_audit(plan, rows=count, sha256=digest.hexdigest())
    return handle, count, digest.hexdigest()


# --- background exports -----------------------------------------------------------------------


@transaction.atomic
def export_job_start(plan: ExportPlan) -> ExportJob:
    """Queue a large export; the worker writes it (crm.dataio.tasks) once this commits."""
    from crm.dataio.tasks import export_job_run

    job = ExportJob.objects.create(
        actor=plan.user,
        module=plan.module.key,
        recycle_bin=plan.recycle_bin,
        format=plan.format,
        filters=filters_of(plan.params),
    )
    transaction.on_commit(lambda: export_job_run.enqueue(job_id=job.pk))
    return job


def _params_of(filters: dict[str, list[str]]) -> QueryDict:
    params = QueryDict(mutable=True)
    for name, values in (filters or {}).items():
        params.setlist(name, [str(v) for v in values])
    return params


def export_job_run_now(job_id: int) -> ExportJob | None:
    """Write a queued export's file to storage, audit it and tell its owner. The permission is
    checked again: a right withdrawn meanwhile fails the job instead of exporting."""
    from django.urls import reverse

    from crm.notify.services import notification_send

    job = ExportJob.objects.select_related("actor").filter(pk=job_id).first()
    if job is None or job.state not in (ExportJob.State.QUEUED, ExportJob.State.RUNNING):
        return job
    ExportJob.objects.filter(pk=job.pk).update(state=ExportJob.State.RUNNING)
    try:
        module = export_module(job.actor, job.module, recycle_bin=job.recycle_bin)
        plan = ExportPlan(
            module=module,
            user=job.actor,
            format=job.format,
            params=_params_of(job.filters),
            recycle_bin=job.recycle_bin,
        )
        digest = hashlib.sha256()
        with tempfile.TemporaryFile() as handle:
            columns = plan.columns()
            rows = rows_iter(module, columns, plan.queryset(), plan.context())
            header = [str(c.label) for c in columns]
            if job.format == "csv":
                count = 0

                def counted(rows: Iterator[list[Any]]) -> Iterator[list[Any]]:
                    nonlocal count
                    for row in rows:
                        count += 1
                        yield row

                for chunk in csv_chunks(header, counted(rows)):
                    handle.write(chunk)
            else:
                count = xlsx_write(handle, header, rows)
            handle.seek(0)
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            handle.seek(0)
            job.file.save(f"{job.pk}-{plan.file_name()}", File(handle), save=False)
        job.rows, job.sha256 = count, digest.hexdigest()
        job.state, job.finished_at = ExportJob.State.DONE, timezone.now()
        job.save(update_fields=["rows", "sha256", "state", "finished_at", "file"])
        export_audit(plan, rows=count, sha256=job.sha256, job=job)
        notification_send(
            recipient=job.actor,
            kind="export_done",
            text=_("Your export of %(module)s is ready: %(rows)s rows.")
            % {"module": module.label, "rows": count},
            link=reverse("dataio:export_download", args=[job.pk]),
            dedup_key=f"export:{job.pk}",
        )
    except Exception as exc:  # the job says it failed; the worker's log has the rest
        ExportJob.objects.filter(pk=job.pk).update(
            state=ExportJob.State.FAILED, finished_at=timezone.now(), message=str(exc)[:500]
        )
        raise
    return job


def exports_purge_expired(*, now: dt.datetime | None = None) -> int:
    """The sweep: files of exports older than CRM_EXPORT_KEEP_DAYS (7) leave storage; the
    row stays (who exported what is also in the audit log) as expired."""
    moment = now or timezone.now()
    days = int(getattr(settings, "CRM_EXPORT_KEEP_DAYS", 7))
    old = ExportJob.objects.filter(created_at__lt=moment - dt.timedelta(days=days)).exclude(
        state=ExportJob.State.EXPIRED
    )
    count = 0
    for job in old.iterator(chunk_size=500):
        if job.file:
            job.file.delete(save=False)
        ExportJob.objects.filter(pk=job.pk).update(state=ExportJob.State.EXPIRED, file="")
        count += 1
    return count


def export_response(plan: ExportPlan) -> Any:
    """The file as the answer: csv streamed as it is produced, xlsx from its temporary file."""
    from django.http import FileResponse, StreamingHttpResponse

    name = plan.file_name()
    if plan.format == "csv":
        response = StreamingHttpResponse(export_csv_stream(plan), content_type=CONTENT_TYPES["csv"])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    handle, _rows, _sha = export_xlsx_file(plan)
    return FileResponse(
        handle, as_attachment=True, filename=name, content_type=CONTENT_TYPES["xlsx"]
    )


def export_job_get(*, user: Any, job_id: Any) -> ExportJob:
    """One of the user's own exports; anybody else's is not found (never 403)."""
    from crm.core.errors import NotFoundError

    try:
        pk = int(job_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    job = ExportJob.objects.filter(pk=pk, actor_id=getattr(user, "pk", None)).first()
    if job is None:
        raise NotFoundError()
    return job


def export_file_response(job: ExportJob) -> Any:
    """The finished file of a large export (web download and API); 404 before it is done."""
    from django.http import FileResponse

    from crm.core.errors import NotFoundError

    if job.state != ExportJob.State.DONE or not job.file:
        raise NotFoundError()
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=job.file.name.rsplit("/", 1)[-1].split("-", 1)[-1],
        content_type=CONTENT_TYPES[job.format],
    )
