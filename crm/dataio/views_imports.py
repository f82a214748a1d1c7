"""Import pages (SYS-4, issue 8 §2): upload → mapping → dry run → import → progress → history.

Every step goes through the engine (crm.dataio.imports): the upload is stored as a dry-run
job that does not run yet (import_job_start(run=False)); the mapping page reads its headers
(sheet_open) and pre-fills each select with mapping_auto; sending the mapping queues the dry
run; its result offers "import now", which starts a real job on the same file with the same
options. The progress page polls by HTMX until the job is done. The history lists what
import_jobs_visible gives (the user's own imports, and a manager's scope's).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.body_limit import accepts_uploads
from crm.core.errors import ConflictError, NotFoundError, ValidationFailed
from crm.dataio import imports as engine
from crm.dataio.models import ImportJob, ImportMapping
from crm.dataio.registry import DataModule
from crm.web.views_support import record_view, render_page

import_view = record_view(lambda: (reverse("imports:history"), _("Back to imports")))

# Where each module's list page is (the way back from the import pages).
LIST_URLS = {
    "customers": "customers:list",
    "leads": "leads:list",
    "opportunities": "sales:list",
    "followups": "activities:mine",
}


def import_max_bytes() -> int:
    return int(getattr(settings, "CRM_IMPORT_MAX_MB", 50)) * 1024 * 1024


def _module(request: HttpRequest, key: str) -> DataModule:
    try:
        return engine.import_module(request.user, key)
    except KeyError:
        raise NotFoundError() from None


def _list_url(key: str) -> str:
    try:
        return reverse(LIST_URLS.get(key, "home"))
    except NoReverseMatch:  # a module without a list page: home
        return reverse("home")


def _match_choices(module: DataModule, selected: list[str]) -> list[dict[str, Any]]:
    """The match keys as ordered checkboxes: the chosen ones first, in their order."""
    spec = module.importer
    assert spec is not None
    labels = {c.key: str(c.label) for c in module.columns()}
    order = [*selected, *[k for k in spec.match_keys if k not in selected]]
    return [
        {"key": k, "label": labels.get(k, k), "checked": k in selected, "position": i + 1}
        for i, k in enumerate(order)
    ]


ON_MATCH_CHOICES = ImportJob.OnMatch.choices


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200):
    return render_page(request, template, context, status=status)


@accepts_uploads
@import_view
@require_http_methods(["GET", "POST"])
def import_upload_view(request: HttpRequest, module: str) -> HttpResponse:
    """(a) Choose the file and the options; the template downloads from here."""
    declared = _module(request, module)
    spec = declared.importer
    assert spec is not None
    mappings = ImportMapping.objects.filter(created_by=request.user, module=declared.key).order_by(
        "name"
    )
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {
        "match": list(spec.default_match),
        "on_match": "skip",
        "saved_mapping": "",
    }
    if request.method == "POST":
        match = [k for k in request.POST.getlist("match") if k]
        values = {
            "match": match,
            "on_match": request.POST.get("on_match", "skip"),
            "saved_mapping": request.POST.get("saved_mapping", ""),
        }
        upload = request.FILES.get("file")
        saved = None
        if values["saved_mapping"]:
            saved = mappings.filter(pk=_int(values["saved_mapping"])).first()
            if saved is None:
                errors["saved_mapping"] = [_("Choose one of your saved mappings.")]
        if upload is None:
            errors["file"] = [_("Choose an xlsx or csv file to import.")]
        elif not engine.file_format(upload.name or ""):
            errors["file"] = [_("Upload an xlsx or csv file.")]
        elif upload.size > import_max_bytes():
            errors["file"] = [
                _("The file is too large (at most %(size)s).")
                % {"size": filesizeformat(import_max_bytes())}
            ]
        elif spec.match_keys and not match:
            errors["match"] = [_("Choose at least one way to find existing records.")]
        if not errors:
            try:
                job = engine.import_job_start(
                    actor=request.user,
                    module_key=declared.key,
                    upload=upload,
                    dry_run=True,
                    match=match,
                    on_match=values["on_match"],
                    mapping=saved.mapping if saved is not None else None,
                    run=False,
                )
            except ValidationFailed as exc:
                errors = {k: [str(m) for m in v] for k, v in exc.fields.items()}
            else:
                return redirect("imports:mapping", pk=job.pk)
    context = {
        "module": declared,
        "match_choices": _match_choices(declared, values["match"]),
        "on_match_choices": ON_MATCH_CHOICES,
        "values": values,
        "errors": errors,
        "mappings": mappings,
        "max_size": filesizeformat(import_max_bytes()),
        "list_url": _list_url(declared.key),
    }
    return _page(request, "dataio/import_upload.html", context, status=422 if errors else 200)


def _too_large(request: HttpRequest, message: str) -> HttpResponse:
    return render_page(request, "web/request_too_large.html", {"message": message}, status=413)


import_upload_view.crm_too_large = _too_large  # type: ignore[attr-defined]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _own_job(request: HttpRequest, pk: int) -> ImportJob:
    """A job of the user's own (the steps before and after the dry run are the importer's)."""
    job = engine.import_job_get(user=request.user, job_id=pk)
    if job.created_by_id != request.user.pk:
        raise NotFoundError()
    return job


def _headers(job: ImportJob) -> list[str]:
    with job.file.open("rb") as handle:
        sheet = engine.sheet_open(handle, job.file_name)
        try:
            return sheet.headers
        finally:
            sheet.close()


@import_view
@require_http_methods(["GET", "POST"])
def import_mapping_view(request: HttpRequest, pk: int) -> HttpResponse:
    """(b) Each header of the file with a select of the module's columns."""
    job = _own_job(request, pk)
    declared = _module(request, job.module)
    if job.state != ImportJob.State.QUEUED or not job.dry_run:
        return redirect("imports:detail", pk=job.pk)
    try:
        headers = _headers(job)
    except ValidationFailed as exc:
        headers = []
        file_errors = [str(m) for m in exc.fields.get("file", [])]
    else:
        file_errors = []
    auto = engine.mapping_auto(declared, headers)
    auto.update({h: k for h, k in (job.mapping or {}).items() if h in auto})
    errors: dict[str, list[str]] = {}
    if file_errors:
        errors["file"] = file_errors
    elif not headers:
        errors["file"] = [_("The file has no header row.")]
    chosen = dict(auto)
    save_as = ""
    if request.method == "POST" and not errors:
        chosen = {h: request.POST.get(f"col_{i}", "") for i, h in enumerate(headers)}
        save_as = request.POST.get("save_as", "").strip()
        try:
            mapping = engine.mapping_clean(declared, chosen)
        except ValidationFailed as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.fields.items()}
            mapping = {}
        used: dict[str, str] = {}
        for header, key in mapping.items():
            if key and key in used:
                errors.setdefault("mapping", []).append(
                    _("“%(a)s” and “%(b)s” are mapped to the same column.")
                    % {"a": used[key], "b": header}
                )
            used.setdefault(key, header)
        if not errors and not any(mapping.values()):
            errors["mapping"] = [_("Map at least one column of the file.")]
        if len(save_as) > 100:
            errors["save_as"] = [_("At most %(limit)d characters.") % {"limit": 100}]
        if not errors:
            with transaction.atomic():
                if save_as:
                    ImportMapping.objects.update_or_create(
                        created_by=request.user,
                        module=declared.key,
                        name=save_as,
                        defaults={"mapping": mapping},
                    )
                ImportJob.objects.filter(pk=job.pk).update(mapping=mapping)
                _enqueue(job.pk)
            return redirect("imports:detail", pk=job.pk)
    columns = [(c.key, str(c.label)) for c in engine.import_columns(declared)]
    rows = [{"index": i, "header": h, "selected": chosen.get(h, "")} for i, h in enumerate(headers)]
    context = {
        "module": declared,
        "job": job,
        "rows": rows,
        "columns": columns,
        "errors": errors,
        "save_as": save_as,
        "list_url": _list_url(declared.key),
    }
    return _page(request, "dataio/import_mapping.html", context, status=422 if errors else 200)


def _enqueue(job_id: int) -> None:
    from crm.dataio.tasks import import_job_run

    transaction.on_commit(lambda: import_job_run.enqueue(job_id=job_id))


def _timing(job: ImportJob) -> dict[str, Any]:
    """Rate (rows/s) and seconds left from the job's start and rows done."""
    percent = int(job.done * 100 / job.total) if job.total else 0
    rate = 0
    left = None
    if job.started_at and job.done:
        end = job.finished_at or timezone.now()
        elapsed = max((end - job.started_at).total_seconds(), 0.001)
        rate = int(job.done / elapsed)
        if rate and job.total > job.done:
            left = int((job.total - job.done) / rate) + 1
    return {"percent": min(percent, 100), "rate": rate, "left": left}


@import_view
@require_http_methods(["GET"])
def import_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """(c) a dry run's result, (d) an import's progress and result; polled by HTMX."""
    job = engine.import_job_get(user=request.user, job_id=pk)
    try:
        declared = engine.dataio_module(job.module)
    except KeyError:
        raise NotFoundError() from None
    running = job.state in (ImportJob.State.QUEUED, ImportJob.State.RUNNING)
    context = {
        "module": declared,
        "job": job,
        "running": running,
        "timing": _timing(job),
        "errors": (job.errors or [])[:20],
        "own": job.created_by_id == request.user.pk,
        "list_url": _list_url(job.module),
    }
    if request.htmx and not request.htmx.history_restore_request:
        response = _page(request, "dataio/import_detail.html#status", context)
        if not running:
            # The whole page again (the dry run's buttons, the error file link).
            response["HX-Refresh"] = "true"
        return response
    return _page(request, "dataio/import_detail.html", context)


@import_view
@require_POST
def import_run_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Import now" after a dry run: the same file and options, for real."""
    dry = _own_job(request, pk)
    try:
        job = engine.import_job_commit(actor=request.user, dry=dry)
    except (ConflictError, ValidationFailed):
        return redirect("imports:detail", pk=dry.pk)
    return redirect("imports:detail", pk=job.pk)


@import_view
@require_http_methods(["GET"])
def import_errors_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The rejected rows as xlsx with an error column (to fix and upload again)."""
    job = engine.import_job_get(user=request.user, job_id=pk)
    if not job.error_file:
        raise NotFoundError()
    stem = job.file_name.rsplit(".", 1)[0] or "import"
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"{stem}-{_('errors')}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@import_view
@require_http_methods(["GET"])
def import_template_view(request: HttpRequest, module: str) -> HttpResponse:
    """The module's template, xlsx (Chinese headers, an example, drop-downs) or csv."""
    declared = _module(request, module)
    fmt = request.GET.get("format") if request.GET.get("format") in engine.EXTENSIONS else "xlsx"
    content, name = engine.template_file(declared, fmt)
    types = {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    response = HttpResponse(content, content_type=types[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@import_view
@require_http_methods(["GET"])
def import_history_view(request: HttpRequest) -> HttpResponse:
    """(e) The user's imports and, for a manager, their scope's: who, when, file, counts."""
    from crm.core.pagination import paginate

    module_key = request.GET.get("module") or None
    jobs = engine.import_jobs_visible(user=request.user, module_key=module_key).filter(
        dry_run=False
    )
    page = paginate(jobs, page=request.GET.get("page"), size=settings.CRM_PAGE_SIZE)
    labels = {m.key: m.label for m in engine._import_modules()}
    modules = [m for m in engine._import_modules() if engine.import_allowed(request.user, m)]
    context = {
        "page": page,
        "rows": [(job, labels.get(job.module, job.module)) for job in page.items],
        "modules": modules,
        "module_key": module_key or "",
    }
    return _page(request, "dataio/import_history.html", context)
