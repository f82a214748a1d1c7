"""Settings → Backups (SYS-3): the runs, "back up now", downloads, the schedule's settings.

Administrators only (`settings.configure`): an archive is every record of the CRM, unmasked.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.accounts.settings_views import configure_required
from crm.core.config import setting_get, settings_update
from crm.core.errors import NotFoundError, ValidationFailed
from crm.dataio.backup_services import (
    backup_for_download,
    backup_path,
    backup_request,
    backups_list,
)
from crm.dataio.backups import backup_dir, files_root
from crm.web.views_support import render_page

SETTING_FIELDS = ("backup_hour", "backup_keep")


@configure_required
@require_http_methods(["GET", "POST"])
def backups_view(request: HttpRequest) -> HttpResponse:
    """The list of runs, and (POST) the hour of the daily backup and how many are kept."""
    values = {key: setting_get(key) for key in SETTING_FIELDS}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        for key in SETTING_FIELDS:
            raw = request.POST.get(key, "").strip()
            try:
                values[key] = settings_update(actor=request.user, key=key, value=raw)
            except ValidationFailed as exc:
                errors[key] = [str(m) for msgs in exc.fields.values() for m in msgs]
                values[key] = raw
        if not errors:
            messages.success(request, _("Backup settings saved."))
            return redirect("backups:list")
        status = 422
    rows = [(backup, backup_path(backup) is not None) for backup in backups_list()]
    context = {
        "section": "backups",
        "rows": rows,
        "values": values,
        "errors": errors,
        "backup_dir": backup_dir(),
        "files_local": files_root() is not None,
        "running": any(b.status == "running" for b, _ in rows),
    }
    return render_page(request, "dataio/backups.html", context, status=status)


@configure_required
@require_POST
def backup_now_view(request: HttpRequest) -> HttpResponse:
    backup_request(actor=request.user)
    messages.success(
        request, _("The backup has started; it is listed here when the worker has taken it.")
    )
    return redirect("backups:list")


@configure_required
def backup_download_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Stream the archive (it may be gigabytes: FileResponse reads it in chunks); audited."""
    try:
        backup, path = backup_for_download(actor=request.user, pk=pk)
    except NotFoundError:
        raise Http404 from None
    return FileResponse(
        open(path, "rb"),
        as_attachment=True,
        filename=backup.file_name,
        content_type="application/gzip",
    )
