"""Export buttons' targets (issue 8 §3): the file, or a job for a large list, and the job's
download (its owner only)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from crm.core.errors import NotFoundError
from crm.dataio.exports import (
    FORMATS,
    ExportPlan,
    export_file_response,
    export_is_large,
    export_job_get,
    export_job_start,
    export_module,
    export_response,
)
from crm.web.views_support import record_view

export_view_wrap = record_view()


@export_view_wrap
def export_view(request: HttpRequest, module: str) -> HttpResponse:
    """GET /export/<module>/?format=xlsx|csv&<the list's query string>[&bin=1]."""
    recycle_bin = request.GET.get("bin") == "1"
    try:
        declared = export_module(request.user, module, recycle_bin=recycle_bin)
    except KeyError:
        raise NotFoundError() from None
    fmt = request.GET.get("format") if request.GET.get("format") in FORMATS else "xlsx"
    plan = ExportPlan(
        module=declared,
        user=request.user,
        format=fmt,
        params=request.GET,
        recycle_bin=recycle_bin,
    )
    if not export_is_large(plan):
        if request.htmx:  # asked from the menu of a list that looked long: download it
            response = HttpResponse(status=204)
            response["HX-Redirect"] = request.get_full_path()
            return response
        return export_response(plan)
    export_job_start(plan)
    text = _("Exporting…, we will notify you when it is done.")
    if request.htmx:
        return HttpResponse(f'<p class="export-started" role="status">{escape(text)}</p>')
    messages.info(request, text)
    back = request.headers.get("referer", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("home")


@export_view_wrap
def export_download_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A finished background export, for the user who asked for it."""
    return export_file_response(export_job_get(user=request.user, job_id=pk))
