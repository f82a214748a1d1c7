"""Imports (SYS-4, issue 8 §2): a spreadsheet in, records out, one engine for every module.

The module declares its part (crm.dataio.registry.ImportSpec on its DataModule): the keys a
row may match an existing record by, and a batch writer that validates with the module's own
services and writes. This file does the rest, the same for every module:

- reading: xlsx streamed by openpyxl (read_only), csv in UTF-8, UTF-8 with a BOM or GB18030
  (detected); the header is row 1, rows are numbered as the spreadsheet numbers them;
- mapping: each header to a column by its label (zh-Hans or en) or its key, adjustable by a
  {header: key or ""} mapping (""/missing: the column is ignored);
- cells: parsed per Column.kind (choices by label or code, users by username or name, dates,
  numbers, custom fields by crm.core.customfields.custom_value_parse; a leading apostrophe the
  export put before a formula-looking text is taken off again, the text stays text);
- batches of BATCH rows, each in its own transaction together with the job's counts and its
  progress (the last committed row): a killed import leaves no half batch, and resuming the
  job continues after the last committed row; a dry run runs the same writer in a savepoint
  that is rolled back, so it validates exactly like the real run and writes nothing;
- the result: counts, the first 100 errors {row, column (the header), message}, every
  rejected row stored (ImportRejection) and an xlsx of them with an error column to fix and
  upload again; audited (who, file, counts) and notified to the importer.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.core.audit import audit_record
from crm.core.errors import PermissionDeniedError, ValidationFailed
from crm.core.scope import user_can
from crm.core.text import typed_text
from crm.dataio.models import ImportJob, ImportRejection
from crm.dataio.registry import Column, DataModule, ImportContext, ImportRow, dataio_module

BATCH = 500
MAX_ERRORS = 100
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ON_MATCH = ("skip", "update_empty", "overwrite")
# What the CLI and the issue call "update": the empty fields only.
ON_MATCH_ALIASES = {"update": "update_empty"}
EXTENSIONS = ("xlsx", "csv")


# --- the module and who may import -------------------------------------------------------------


def import_module(user: Any, key: str) -> DataModule:
    """The declared module if it imports and the user may import it; KeyError for a module
    nobody declared or one without an importer (404), PermissionDeniedError without the
    permission (the module's ImportSpec.action, `create` for the modules so far)."""
    module = dataio_module(key)
    if module.importer is None:
        raise KeyError(key)
    if not import_allowed(user, module):
        raise PermissionDeniedError()
    return module


def import_allowed(user: Any, module: DataModule) -> bool:
    spec = module.importer
    return spec is not None and user_can(user, module.permission, spec.action)


def import_columns(module: DataModule) -> list[Column]:
    return [c for c in module.columns() if c.importable or c.key == "number"]


# --- mapping headers to columns ----------------------------------------------------------------


def _fold(text: Any) -> str:
    return re.sub(r"[\s*＊]+", "", str(text or "")).casefold()


def column_names(column: Column) -> set[str]:
    """What a header may say to mean this column: its key, its zh-Hans and en labels."""
    names = {_fold(column.key)}
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            label = str(column.label)
        names.add(_fold(label))
        # "预算（元）" also as "预算", "budget (¥)" as "budget".
        bare = re.sub(r"[(（][^)）]*[)）]", "", label)
        if bare.strip():
            names.add(_fold(bare))
    return names


def mapping_auto(module: DataModule, headers: list[str]) -> dict[str, str]:
    """{header: column key or ""}: each header matched by a column's label or key."""
    by_name: dict[str, str] = {}
    for column in import_columns(module):
        for name in column_names(column):
            by_name.setdefault(name, column.key)
    result: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = by_name.get(_fold(header), "")
        if key in used:
            key = ""  # a second column with the same meaning is ignored
        used.add(key)
        result[str(header)] = key
    return result


def mapping_clean(module: DataModule, mapping: Any) -> dict[str, str]:
    """A mapping the user sent, checked: {header: a column key of the module or ""}."""
    if mapping in (None, ""):
        return {}
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str | None) for k, v in mapping.items()
    ):
        raise ValidationFailed(
            fields={"mapping": [_("Send the mapping as an object of header: column key.")]}
        )
    keys = {c.key for c in import_columns(module)}
    bad = sorted(v for v in mapping.values() if v and v not in keys)
    if bad:
        raise ValidationFailed(
            fields={
                "mapping": [
                    _("Unknown column %(keys)s; choose among %(choices)s.")
                    % {"keys": ", ".join(bad), "choices": ", ".join(sorted(keys))}
                ]
            }
        )
    return {k: v or "" for k, v in mapping.items()}


def match_clean(module: DataModule, match: Any) -> list[str]:
    """The match keys asked for (a list or a comma list), in order; the module's default
    order when none is given."""
    spec = module.importer
    assert spec is not None
    if match in (None, "", []):
        return list(spec.default_match)
    parts = match.split(",") if isinstance(match, str) else match
    if not isinstance(parts, list):
        parts = [parts]
    keys = [str(p).strip() for p in parts if str(p).strip()]
    bad = [k for k in keys if k not in spec.match_keys]
    if bad:
        raise ValidationFailed(
            fields={
                "match": [
                    _("Match by %(choices)s (a comma-separated list).")
                    % {"choices": ", ".join(spec.match_keys)}
                ]
            }
        )
    return list(dict.fromkeys(keys))


def on_match_clean(value: Any) -> str:
    value = ON_MATCH_ALIASES.get(str(value or "skip"), str(value or "skip"))
    if value not in ON_MATCH:
        raise ValidationFailed(fields={"on_match": [_("Choose skip, update_empty or overwrite.")]})
    return value


# --- reading files -------------------------------------------------------------------------


def file_format(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext if ext in EXTENSIONS else ""


def encoding_detect(handle: Any) -> str:
    """utf-8-sig (a BOM), utf-8 (every byte decodes) or gb18030; the handle is rewound."""
    handle.seek(0)
    head = handle.read(3)
    if head == codecs.BOM_UTF8:
        handle.seek(0)
        return "utf-8-sig"
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for block in iter(lambda: handle.read(1 << 20), b""):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        result = "utf-8"
    except UnicodeDecodeError:
        result = "gb18030"
    handle.seek(0)
    return result


@dataclass
class Sheet:
    """An open import file: its header, its data rows (line number, cells) and its size."""

    headers: list[str]
    rows: Iterator[tuple[int, list[Any]]]
    total: int
    encoding: str
    close: Callable[[], None]


def _header_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def sheet_open(handle: Any, name: str) -> Sheet:
    """Open an xlsx or csv for reading (ValidationFailed `file` for anything else)."""
    fmt = file_format(name)
    if fmt == "xlsx":
        return _xlsx_open(handle)
    if fmt == "csv":
        return _csv_open(handle)
    raise ValidationFailed(fields={"file": [_("Upload an xlsx or csv file.")]})


def _xlsx_open(handle: Any) -> Sheet:
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValidationFailed(
            fields={"file": [_("This file is not a readable xlsx spreadsheet.")]}
        ) from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    first = next(rows, None) or ()
    headers = [_header_text(v) for v in first]
    while headers and not headers[-1]:
        headers.pop()
    total = max(0, (sheet.max_row or 1) - 1)

    def data() -> Iterator[tuple[int, list[Any]]]:
        for line, values in enumerate(rows, start=2):
            cells = list(values[: len(headers)])
            if any(v not in (None, "") for v in cells):
                yield line, cells

    return Sheet(headers, data(), total, "", book.close)


def _csv_open(handle: Any) -> Sheet:
    encoding = encoding_detect(handle)
    total = 0
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    for _row in csv.reader(text):
        total += 1
    text.detach()
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    reader = csv.reader(text)
    headers = [_header_text(v) for v in next(reader, [])]

    def data() -> Iterator[tuple[int, list[Any]]]:
        for line, values in enumerate(reader, start=2):
            if any(v.strip() for v in values):
                yield line, values[: len(headers)]

    return Sheet(headers, data(), max(0, total - 1), encoding, text.close)


# --- cells -----------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious .0, the export's leading apostrophe off."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = typed_text(value)
    if text.startswith("'") and text[1:2] and text[1] in FORMULA_START:
        text = text[1:]
    return text


@dataclass
class Parsers:
    """What reading cells needs once per import: choice labels, users by name."""

    actor: Any
    module: DataModule
    _users: tuple[dict[str, int], dict[str, list[int]]] | None = None
    _labels: dict[tuple[str, str], str] | None = None

    def users(self) -> tuple[dict[str, int], dict[str, list[int]]]:
        if self._users is None:
            from crm.accounts.models import User

            by_username: dict[str, int] = {}
            by_name: dict[str, list[int]] = {}
            for pk, username, full_name in User.objects.filter(is_active=True).values_list(
                "pk", "username", "full_name"
            ):
                by_username[username.casefold()] = pk
                if full_name:
                    by_name.setdefault(full_name.strip().casefold(), []).append(pk)
            self._users = (by_username, by_name)
        return self._users

    def labels(self, column: Column) -> dict[str, str]:
        """{folded label or code: code} of a choice column."""
        memo = f"_choices_{column.key}"
        found = getattr(self, memo, None)
        if found is not None:
            return found
        result: dict[str, str] = {}
        if column.choices:
            for code, label in column.choices:
                result[_fold(code)] = code
                for lang in ("zh-hans", "en"):
                    with translation.override(lang):
                        result.setdefault(_fold(str(label)), code)
        elif column.dictionary:
            from crm.core.dictionaries import dictionary_items

            for item in dictionary_items(column.dictionary, include_inactive=True):
                result[_fold(item.code)] = item.code
                result.setdefault(_fold(item.label), item.code)
                result.setdefault(_fold(item.label_en), item.code)
        setattr(self, memo, result)
        return result


def user_from_text(parsers: Parsers, text: str) -> int:
    by_username, by_name = parsers.users()
    if text.casefold() in by_username:
        return by_username[text.casefold()]
    found = by_name.get(text.strip().casefold(), [])
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ValidationError(_("Several users have this name; enter the username."))
    raise ValidationError(_("Enter the username or the name of an active user."))


def cell_parse(parsers: Parsers, column: Column, value: Any) -> Any:
    """The value a service takes for this cell (None: empty). ValidationError with the
    form's message for a cell that cannot be read."""
    if column.key.startswith("custom."):
        from crm.core.customfields import custom_field_get, custom_value_parse

        module = parsers.module.key
        field = custom_field_get(module, column.key.removeprefix("custom."))
        if field is None:
            return None
        if isinstance(value, str):
            value = cell_text(value)
        return custom_value_parse(field, value)
    kind = column.kind
    if kind in ("date", "datetime") and isinstance(value, dt.datetime | dt.date):
        if kind == "date" and isinstance(value, dt.datetime):
            return value.date()
        return value
    if kind in ("integer", "decimal") and isinstance(value, int | float | Decimal):
        if isinstance(value, bool):
            return str(value)
        return Decimal(str(value))
    text = cell_text(value)
    if not text:
        return None
    if kind == "choice":
        # An unknown text goes on as typed: the service refuses it with the form's message.
        return parsers.labels(column).get(_fold(text), text)
    if kind == "multichoice":
        labels = parsers.labels(column)
        parts = [p for p in re.split(r"[,，、;；|\n]+", text) if p.strip()]
        return [labels.get(_fold(p), p.strip()) for p in parts]
    if kind == "bool":
        folded = text.casefold()
        if folded in {"是", "y", "yes", "true", "1", "√", "✓"}:
            return True
        if folded in {"否", "n", "no", "false", "0", "×", "✗"}:
            return False
        raise ValidationError(_("Choose yes or no."))
    if kind == "user":
        return user_from_text(parsers, text)
    if kind == "date":
        # 2026/1/5 and 2026.1.5 as well as 2026-01-05; anything else goes on to the service.
        found = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text)
        if found:
            return "{}-{:02d}-{:02d}".format(*(int(g) for g in found.groups()))
        return text
    return text


def row_read(
    parsers: Parsers, columns: list[Column | None], line: int, cells: list[Any]
) -> ImportRow:
    """The mapped cells of one row, parsed; a cell that cannot be read is a row error."""
    row = ImportRow(line=line, cells=cells)
    custom: dict[str, Any] = {}
    for index, column in enumerate(columns):
        if column is None or index >= len(cells):
            continue
        try:
            value = cell_parse(parsers, column, cells[index])
        except ValidationError as exc:
            row.reject(column.key, exc.messages[0])
            continue
        if value is None or value == []:
            continue
        if column.key.startswith("custom."):
            custom[column.key.removeprefix("custom.")] = value
        else:
            row.values[column.key] = value
    if custom:
        row.values["custom"] = custom
    return row


# --- the job -----------------------------------------------------------------------------------


def import_job_start(
    *,
    actor: Any,
    module_key: str,
    upload: Any,
    dry_run: bool = False,
    match: Any = None,
    on_match: Any = "skip",
    mapping: Any = None,
    run: bool = True,
) -> ImportJob:
    """Check the options and the file, store it, and queue the job (the worker runs it).

    Raises KeyError (unknown module), PermissionDeniedError, or ValidationFailed naming
    `file`, `match`, `on_match` or `mapping`.
    """
    module = import_module(actor, module_key)
    match_keys = match_clean(module, match)
    mode = on_match_clean(on_match)
    mapped = mapping_clean(module, mapping)
    name = str(getattr(upload, "name", "") or "import")
    if not file_format(name):
        raise ValidationFailed(fields={"file": [_("Upload an xlsx or csv file.")]})
    handle = upload.file if hasattr(upload, "file") else upload
    _content_check(handle, name)
    with transaction.atomic():
        job = ImportJob(
            module=module.key,
            dry_run=bool(dry_run),
            match=match_keys,
            on_match=mode,
            mapping=mapped,
            file_name=name.replace("\\", "/").rsplit("/", 1)[-1][:200],
            created_by=actor,
        )
        job.save()
        handle.seek(0)
        job.file.save(f"{job.pk}-{file_format(name)}.{file_format(name)}", File(handle))
        if run:
            from crm.dataio.tasks import import_job_run

            transaction.on_commit(lambda: import_job_run.enqueue(job_id=job.pk))
    return job


def import_job_commit(*, actor: Any, dry: ImportJob) -> ImportJob:
    """ "Import now" after a dry run: a new, real import of the same file with the same
    options (the dry run stays in the history as it was). Only a finished dry run of the
    actor's own can be committed (409 otherwise)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from crm.core.errors import ConflictError, NotFoundError

    if dry.created_by_id != getattr(actor, "pk", None):
        raise NotFoundError()
    try:
        import_module(actor, dry.module)  # still allowed to import into it (403)
    except KeyError:
        raise NotFoundError() from None
    if not dry.dry_run or dry.state != ImportJob.State.DONE:
        raise ConflictError(_("Only a finished dry run can be imported for real."))
    with dry.file.open("rb") as handle:
        upload = SimpleUploadedFile(dry.file_name, handle.read())
    return import_job_start(
        actor=actor,
        module_key=dry.module,
        upload=upload,
        dry_run=False,
        match=dry.match,
        on_match=dry.on_match,
        mapping=dry.mapping,
    )


def _content_check(handle: Any, name: str) -> None:
    """An xlsx must be a zip, a csv must be text: else 422 `file` before anything is stored."""
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    if file_format(name) == "xlsx":
        if not head.startswith(b"PK\x03\x04"):
            raise ValidationFailed(
                fields={"file": [_("This file is not a readable xlsx spreadsheet.")]}
            )
    elif b"\x00" in head or head.startswith(b"PK\x03\x04"):
        raise ValidationFailed(fields={"file": [_("This file is not a csv text file.")]})


ProgressCallback = Callable[[ImportJob], None]


def _error_column(ctx_columns: list[Column | None], headers: list[str], key: str) -> str:
    """The header a rejection names: the mapped column's header; a service field by the
    column whose key it is (contact.* for the contact's fields), else its label."""
    for index, column in enumerate(ctx_columns):
        if column is not None and column.key == key:
            return headers[index]
    if key.startswith("contacts"):
        for index, column in enumerate(ctx_columns):
            if column is not None and column.key == "contact.name":
                return headers[index]
    return ""


def _column_label(module: DataModule, key: str) -> str:
    for column in module.columns():
        if column.key == key:
            return str(column.label)
    return key


def import_job_run_now(job_id: int, *, progress: ProgressCallback | None = None) -> ImportJob:
    """Run (or resume) an import: batches after the last committed row, counts and progress
    committed with each batch; then the error file, the audit entry and the notification."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.state in (ImportJob.State.DONE, ImportJob.State.FAILED):
        return job
    actor = job.created_by
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportJob.State.RUNNING, started_at=job.started_at or now
    )
    job.state, job.started_at = ImportJob.State.RUNNING, job.started_at or now
    try:
        module = import_module(actor, job.module)
        spec = module.importer
        assert spec is not None
        with job.file.open("rb") as handle:
            sheet = sheet_open(handle, job.file_name)
            try:
                _run(job, module, sheet, progress)
            finally:
                sheet.close()
        _finish(job, module, sheet.headers)
    except Exception as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            state=ImportJob.State.FAILED, finished_at=timezone.now(), message=str(exc)[:500]
        )
        job.state = ImportJob.State.FAILED
        job.message = str(exc)[:500]
        if not isinstance(exc, ValidationFailed | PermissionDeniedError | KeyError):
            raise
    return job


def _run(job: ImportJob, module: DataModule, sheet: Sheet, progress: Any) -> None:
    spec = module.importer
    assert spec is not None
    by_key = {c.key: c for c in import_columns(module)}
    mapping = mapping_auto(module, sheet.headers)
    mapping.update({h: k for h, k in (job.mapping or {}).items() if h in mapping})
    columns = [by_key.get(mapping.get(h, "")) if h else None for h in sheet.headers]
    ctx = ImportContext(
        actor=job.created_by,
        module=module,
        match=list(job.match or spec.default_match),
        on_match=job.on_match,
        dry_run=job.dry_run,
        columns={c.key: c for c in columns if c is not None},
    )
    parsers = Parsers(actor=job.created_by, module=module)
    if job.total != sheet.total or job.encoding != sheet.encoding:
        job.total, job.encoding = sheet.total, sheet.encoding
        ImportJob.objects.filter(pk=job.pk).update(total=job.total, encoding=job.encoding)
    batch: list[ImportRow] = []
    for line, cells in sheet.rows:
        if line <= job.progress:
            continue  # committed before the run was interrupted
        batch.append(row_read(parsers, columns, line, cells))
        if len(batch) >= BATCH:
            _batch_write(job, spec, ctx, batch, columns, sheet.headers)
            batch = []
            if progress:
                progress(job)
    if batch:
        _batch_write(job, spec, ctx, batch, columns, sheet.headers)
        if progress:
            progress(job)


def _json_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _batch_write(
    job: ImportJob,
    spec: Any,
    ctx: ImportContext,
    rows: list[ImportRow],
    columns: list[Column | None],
    headers: list[str],
) -> None:
    """One batch: the writer's records, the rejections, the counts and the progress in one
    transaction (a dry run's records in a savepoint rolled back). The configuration
    (lists, rules, custom fields) is read once per batch, as once per request."""
    from crm.core.configstate import config_scope

    with config_scope(), transaction.atomic():
        pending = [r for r in rows if r.outcome != "reject"]
        with transaction.atomic():
            spec.write_batch(ctx, pending)
            if ctx.dry_run:
                transaction.set_rollback(True)
        counts = {"create": 0, "update": 0, "skip": 0, "reject": 0}
        rejections: list[ImportRejection] = []
        errors = list(job.errors or [])
        for row in rows:
            if row.errors:
                row.outcome = "reject"
            counts[row.outcome or "skip"] += 1
            if row.outcome != "reject":
                continue
            messages = []
            for key, message in row.errors:
                header = _error_column(columns, headers, key) or _column_label(ctx.module, key)
                messages.append({"column": header, "message": message})
                if len(errors) < MAX_ERRORS:
                    errors.append({"row": row.line, "column": header, "message": message})
            rejections.append(
                ImportRejection(
                    job=job,
                    row=row.line,
                    cells=[_json_cell(c) for c in row.cells],
                    messages=messages,
                )
            )
        ImportRejection.objects.bulk_create(rejections)
        job.created += counts["create"]
        job.updated += counts["update"]
        job.skipped += counts["skip"]
        job.rejected += counts["reject"]
        job.done += len(rows)
        job.progress = rows[-1].line
        job.errors = errors
        job.total = max(job.total, job.done)
        ImportJob.objects.filter(pk=job.pk).update(
            created=job.created,
            updated=job.updated,
            skipped=job.skipped,
            rejected=job.rejected,
            done=job.done,
            progress=job.progress,
            errors=job.errors,
            total=job.total,
        )


def _finish(job: ImportJob, module: DataModule, headers: list[str]) -> None:
    from crm.notify.services import notification_send

    if job.rejected:
        with tempfile.TemporaryFile(suffix=".xlsx") as handle:
            error_file_write(job, headers, handle)
            handle.seek(0)
            job.error_file.save(f"{job.pk}-errors.xlsx", File(handle), save=False)
    job.state, job.finished_at = ImportJob.State.DONE, timezone.now()
    job.total = job.done
    job.save(update_fields=["state", "finished_at", "error_file", "total"])
    counts = {
        "module": module.key,
        "file": job.file_name,
        "dry_run": job.dry_run,
        "match": job.match,
        "on_match": job.on_match,
        "rows": job.done,
        "created": job.created,
        "updated": job.updated,
        "skipped": job.skipped,
        "rejected": job.rejected,
    }
    audit_record(
        actor=job.created_by,
        action="import",
        instance=job,
        object_repr=f"{module.label}: {job.file_name} ({job.done})",
        changes=[{"field": k, "before": None, "after": v} for k, v in counts.items()],
    )
    text = (
        _(
            "Your import of %(file)s is done: %(created)s created, %(updated)s updated, "
            "%(skipped)s skipped, %(rejected)s rejected."
        )
        if not job.dry_run
        else _(
            "The dry run of %(file)s is done: %(created)s to create, %(updated)s to update, "
            "%(skipped)s to skip, %(rejected)s rejected."
        )
    )
    notification_send(
        recipient=job.created_by,
        kind="import_done",
        text=text
        % {
            "file": job.file_name,
            "created": job.created,
            "updated": job.updated,
            "skipped": job.skipped,
            "rejected": job.rejected,
        },
        link=_job_link(job),
        dedup_key=f"import:{job.pk}",
    )


def _job_link(job: ImportJob) -> str:
    """The import's page when the UI has one, else its API resource."""
    from django.urls import NoReverseMatch, reverse

    for name, kwargs in (
        ("imports:detail", {"pk": job.pk}),
        ("dataio:import_detail", {"job_id": job.pk}),
        ("api:import_get", {"job_id": job.pk}),
    ):
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return ""


def error_file_write(job: ImportJob, headers: list[str], target: Any) -> int:
    """The rejected rows as they were read, with an error column, as xlsx (to fix and
    upload again: the same headers, so the mapping finds the same columns)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        target,
        {"constant_memory": True, "tmpdir": tempfile.gettempdir(), "strings_to_formulas": False},
    )
    sheet = book.add_worksheet()
    bold = book.add_format({"bold": True})
    for c, header in enumerate([*headers, _("Error")]):
        sheet.write_string(0, c, header, bold)
    count = 0
    for r, rejection in enumerate(job.rejections.order_by("row").iterator(chunk_size=2000), 1):
        for c, value in enumerate(rejection.cells):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
        reasons = "; ".join(
            f"{m['column']}: {m['message']}" if m.get("column") else m["message"]
            for m in rejection.messages
        )
        sheet.write_string(
            r,
            len(headers),
            _("Row %(row)s: %(reasons)s")
            % {
                "row": rejection.row,
                "reasons": reasons,
            },
        )
        count = r
    sheet.freeze_panes(1, 0)
    book.close()
    return count


def import_job_get(*, user: Any, job_id: Any) -> ImportJob:
    """An import the user may see: their own, or one whose importer the user's scope in
    the module covers (a manager sees the team's imports); anyone else's is not found."""
    from crm.core.errors import NotFoundError
    from crm.core.scope import scope_covers

    try:
        pk = int(job_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    job = ImportJob.objects.select_related("created_by").filter(pk=pk).first()
    if job is None:
        raise NotFoundError()
    if job.created_by_id != getattr(user, "pk", None):
        try:
            module = dataio_module(job.module)
        except KeyError:
            raise NotFoundError() from None
        if not (
            import_allowed(user, module) and scope_covers(user, module.permission, job.created_by)
        ):
            raise NotFoundError()
    return job


def import_jobs_visible(*, user: Any, module_key: str | None = None):
    """The imports `user` may see, newest first (their own and their scope's importers')."""
    from crm.core.scope import users_assignable_by

    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")
    if module_key:
        jobs = jobs.filter(module=module_key)
    modules = [m for m in _import_modules() if import_allowed(user, m)]
    if module_key:
        modules = [m for m in modules if m.key == module_key]
    from django.db.models import Q

    condition = Q(created_by_id=user.pk)
    for module in modules:
        condition |= Q(
            module=module.key, created_by__in=users_assignable_by(user, module.permission)
        )
    return jobs.filter(condition)


def _import_modules() -> list[DataModule]:
    from crm.dataio.registry import dataio_modules

    return [m for m in dataio_modules() if m.importer is not None]


def rate_text(job: ImportJob, started: float) -> str:
    """ "1500/10000 rows, 2300 rows/s, 4 s left" for the CLI."""
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = job.done / elapsed
    left = (job.total - job.done) / rate if rate else 0
    return _("%(done)s/%(total)s rows, %(rate)s rows/s, %(left)s s left") % {
        "done": job.done,
        "total": job.total,
        "rate": int(rate),
        "left": int(left),
    }


# --- the template ------------------------------------------------------------------------------


def template_columns(module: DataModule) -> list[Column]:
    """The columns a template offers: every importable one (the number only matches)."""
    return [c for c in module.columns() if c.importable and c.key != "number"]


def _choice_labels(column: Column) -> list[str]:
    if column.choices:
        return [str(label) for _code, label in column.choices]
    if column.dictionary:
        from crm.core.dictionaries import dictionary_items

        return [item.label for item in dictionary_items(column.dictionary)]
    if column.kind == "bool":
        return ["是", "否"]
    return []


def template_rows(module: DataModule) -> tuple[list[str], list[Any], list[list[str]]]:
    """(headers in Chinese, the example row, the choice labels per column) of a template."""
    with translation.override("zh-hans"):
        columns = template_columns(module)
        headers = [str(c.label) for c in columns]
        example = module.importer.example() if module.importer and module.importer.example else {}
        choices = [_choice_labels(c) for c in columns]
        row: list[Any] = []
        for column, options in zip(columns, choices, strict=True):
            value = example.get(column.key)
            if value in (None, "") and options and column.required:
                value = options[0]  # a required choice: its first option as the example
            row.append("" if value is None else str(value))
    return headers, row, choices


def template_file(module: DataModule, fmt: str) -> tuple[bytes, str]:
    """The template as (bytes, file name): xlsx with drop-downs for the choice columns
    (their values on a second sheet, so long lists fit), or csv (UTF-8 with a BOM)."""
    headers, example, choices = template_rows(module)
    name = f"{module.key}-import-template.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerow(example)
        return ("\ufeff" + out.getvalue()).encode(), name
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("导入")
    lists = book.add_worksheet("选项")
    bold = book.add_format({"bold": True})
    required = book.add_format({"bold": True, "font_color": "#B00020"})
    columns = template_columns(module)
    for c, (header, column) in enumerate(zip(headers, columns, strict=True)):
        sheet.write_string(0, c, header, required if column.required else bold)
        sheet.set_column(c, c, max(10, min(30, len(header) * 2 + 4)))
        if example[c]:
            sheet.write_string(1, c, example[c])
        options = choices[c]
        if options:
            lists.write_string(0, c, header, bold)
            for r, option in enumerate(options, start=1):
                lists.write_string(r, c, option)
            letter = xl_col_to_name(c)
            sheet.data_validation(
                1,
                c,
                100000,
                c,
                {
                    "validate": "list",
                    "source": f"='选项'!${letter}$2:${letter}${len(options) + 1}",
                    "error_type": "warning",
                },
            )
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue(), name


# --- saved mappings ------------------------------------------------------------------------


def import_mapping_save(*, actor: Any, module_key: str, name: Any, mapping: Any) -> Any:
    """Save (or replace) the user's mapping `name` for the module; ValidationFailed names
    `name` or `mapping`."""
    from crm.dataio.models import ImportMapping

    module = import_module(actor, module_key)
    cleaned = mapping_clean(module, mapping)
    label = typed_text(name)
    if not label or len(label) > 100:
        raise ValidationFailed(fields={"name": [_("Enter a name of at most 100 characters.")]})
    saved, _created = ImportMapping.objects.update_or_create(
        created_by=actor, module=module.key, name=label, defaults={"mapping": cleaned}
    )
    return saved


def import_mappings_for(*, user: Any, module_key: str) -> Any:
    """The user's saved mappings for the module, by name."""
    from crm.dataio.models import ImportMapping

    return ImportMapping.objects.filter(created_by=user, module=module_key).order_by("name")
