"""The attachments UI (issue 6 §3): a files panel any record page embeds, and the views behind
it (upload, delete, download, refresh). Reads go through crm.core.files' selectors, so through
the record's own scoped selector; writes through its services.

Embedding: a page or tab calls

    attachments_panel_html(request, object_type="opportunity", record=opportunity)

with a record it read through its module's selector, and puts the HTML where the files go.
`related=True` on a customer lists its opportunities' and follow-ups' files as well (uploads
still go to the customer itself).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from crm.core.attachments import AttachmentTarget, attachment_target
from crm.core.body_limit import accepts_uploads
from crm.core.errors import NotFoundError, PermissionDeniedError, TooLargeError, ValidationFailed
from crm.core.files import (
    FILES_PER_UPLOAD,
    attachment_allowed_extensions,
    attachment_allowed_text,
    attachment_delete,
    attachment_file_response,
    attachment_get,
    attachment_max_bytes,
    attachment_max_text,
    attachments_create,
    attachments_for_customer,
    attachments_on_record,
)
from crm.core.scope import user_can
from crm.web.views_support import is_htmx, record_view, render_page

# The icon family shown beside a file, by its stored type.
ICONS = (
    ("image/", "image"),
    ("application/pdf", "pdf"),
    ("text/", "text"),
    ("application/zip", "archive"),
    ("application/x-7z", "archive"),
    ("application/vnd.rar", "archive"),
)


GLYPHS = {"image": "image", "archive": "archive"}


def _file_icon(mime: str) -> str:
    return next((icon for prefix, icon in ICONS if mime.startswith(prefix)), "doc")


def _params(object_type: str, record: Any, related: bool) -> str:
    values = {"object_type": object_type, "object_id": record.pk}
    if related:
        values["related"] = "1"
    return urlencode(values)


def _record_url(target: AttachmentTarget, record: Any) -> str:
    if target.url is None:
        return ""
    try:
        return target.url(record)
    except Exception:  # a module's link builder must not take the files list down
        return ""


def attachments_panel_context(
    request: HttpRequest,
    *,
    object_type: str,
    record: Any,
    related: bool = False,
    errors: list[str] | None = None,
    notice: str = "",
) -> dict[str, Any]:
    """What web/attachments panel needs. `record` must come from its module's selector."""
    user = request.user
    target = attachment_target(object_type)
    if target is None:
        raise NotFoundError()
    related = related and object_type == "customer"
    if related:
        files = attachments_for_customer(user=user, customer=record)
    else:
        files = attachments_on_record(object_type=object_type, record=record)
    query = _params(object_type, record, related)
    can_attach: dict[tuple[str, int], bool] = {}
    rows = []
    for item in files:
        key = (item.target.object_type, item.record.pk)
        if key not in can_attach:
            can_attach[key] = bool(item.target.can_attach(user=user, instance=item.record))
        on_other = item.target.object_type != object_type or item.record.pk != record.pk
        rows.append(
            {
                "file": item,
                "size": filesizeformat(item.size),
                "icon": _file_icon(item.mime_type),
                "glyph": GLYPHS.get(_file_icon(item.mime_type), "file"),
                "can_delete": can_attach[key] or item.uploaded_by_id == user.pk,
                "on_label": item.target.label if on_other else "",
                "on_name": str(item.record) if on_other else "",
                "on_url": _record_url(item.target, item.record) if on_other else "",
            }
        )
    max_bytes = attachment_max_bytes()
    return {
        "panel_id": f"attachments-{object_type}-{record.pk}",
        "object_type": object_type,
        "record": record,
        "related": related,
        "rows": rows,
        "can_upload": bool(target.can_attach(user=user, instance=record)),
        "upload_url": f"{reverse('attachments:upload')}?{query}",
        "panel_url": f"{reverse('attachments:panel')}?{query}",
        "panel_query": query,
        "accept": ",".join(f".{ext}" for ext in attachment_allowed_extensions()),
        "allowed_text": attachment_allowed_text(),
        "max_bytes": max_bytes,
        "max_size": attachment_max_text(),
        "files_per_upload": FILES_PER_UPLOAD,
        "errors": errors or [],
        "notice": notice,
    }


def attachments_panel_html(
    request: HttpRequest,
    *,
    object_type: str,
    record: Any,
    related: bool = False,
    errors: list[str] | None = None,
    notice: str = "",
) -> str:
    """The files panel of one record, as HTML, for a page or tab of another module."""
    context = attachments_panel_context(
        request,
        object_type=object_type,
        record=record,
        related=related,
        errors=errors,
        notice=notice,
    )
    return render_to_string("attachments/_panel.html", context, request=request)


def files_customer_tab(request: HttpRequest, customer: Any) -> str:
    """The customer page's "files" tab: every file of the customer and of its records."""
    return attachments_panel_html(request, object_type="customer", record=customer, related=True)


def files_opportunity_tab(request: HttpRequest, opportunity: Any) -> str:
    return attachments_panel_html(request, object_type="opportunity", record=opportunity)


# --- views ------------------------------------------------------------------------------------


def _panel_record(request: HttpRequest, source: Any) -> tuple[str, Any, bool]:
    """(object_type, record, related) of the panel a request names, through the record's
    selector: 404 for an unknown type or a record outside the viewer's scope, 403 without the
    module's view permission."""
    object_type = str(source.get("object_type") or "")[:40]
    target = attachment_target(object_type)
    if target is None:
        raise NotFoundError()
    if not user_can(request.user, target.module, "view"):
        raise PermissionDeniedError()
    record = target.get(user=request.user, object_id=source.get("object_id"))
    return object_type, record, source.get("related") == "1"


def _panel_response(
    request: HttpRequest,
    *,
    object_type: str,
    record: Any,
    related: bool,
    status: int = 200,
    errors: list[str] | None = None,
    notice: str = "",
) -> HttpResponse:
    context = attachments_panel_context(
        request,
        object_type=object_type,
        record=record,
        related=related,
        errors=errors,
        notice=notice,
    )
    if is_htmx(request):
        return render_page(request, "attachments/_panel.html", context, status=status)
    target = attachment_target(object_type)
    context["back_url"] = _record_url(target, record) if target else ""
    return render_page(request, "attachments/page.html", context, status=status)


def _next_url(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def _done(
    request: HttpRequest, object_type: str, record: Any, related: bool, notice: str
) -> HttpResponse:
    if is_htmx(request):
        return _panel_response(
            request, object_type=object_type, record=record, related=related, notice=notice
        )
    messages.success(request, notice)
    target = attachment_target(object_type)
    fallback = (_record_url(target, record) if target else "") or (
        f"{reverse('attachments:panel')}?{_params(object_type, record, related)}"
    )
    return redirect(_next_url(request, fallback))


@record_view()
@require_GET
def attachments_panel_view(request: HttpRequest) -> HttpResponse:
    """The panel again (HTMX refresh), or as a page of its own without JavaScript."""
    object_type, record, related = _panel_record(request, request.GET)
    return _panel_response(request, object_type=object_type, record=record, related=related)


def _upload_too_large(request: HttpRequest, message: str) -> HttpResponse:
    """A request over the size limit, refused before it is read (crm.core.body_limit): the
    panel named in the upload URL's query, with the message, or the generic 413 page."""
    try:
        object_type, record, related = _panel_record(request, request.GET)
    except (NotFoundError, PermissionDeniedError):
        return render_page(request, "web/request_too_large.html", {"message": message}, 413)
    return _panel_response(
        request,
        object_type=object_type,
        record=record,
        related=related,
        status=413,
        errors=[message],
    )


@accepts_uploads
@record_view()
@require_POST
def attachment_upload_view(request: HttpRequest) -> HttpResponse:
    """Upload one or several files to the record named by object_type and object_id (query
    string or form); answers the refreshed panel (HTMX) or goes back to the record."""
    source = request.POST if "object_type" in request.POST else request.GET
    object_type, record, related = _panel_record(request, source)
    uploads = request.FILES.getlist("file")
    try:
        created = attachments_create(
            actor=request.user, object_type=object_type, object_id=record.pk, uploads=uploads
        )
    except (TooLargeError, ValidationFailed) as exc:
        return _panel_response(
            request,
            object_type=object_type,
            record=record,
            related=related,
            status=exc.status,
            errors=[str(m) for m in exc.fields.get("file", [exc.message])],
        )
    notice = ngettext("%(count)d file uploaded.", "%(count)d files uploaded.", len(created)) % {
        "count": len(created)
    }
    return _done(request, object_type, record, related, notice)


attachment_upload_view.crm_too_large = _upload_too_large  # type: ignore[attr-defined]


@record_view()
@require_POST
def attachment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a file (to the recycle bin); answers the panel it was deleted from."""
    attachment = attachment_get(user=request.user, attachment_id=pk)
    attachment_delete(actor=request.user, attachment=attachment)
    notice = _("“%(name)s” deleted.") % {"name": attachment.name}
    try:
        object_type, record, related = _panel_record(request, request.GET)
    except NotFoundError:
        object_type, record, related = attachment.target.object_type, attachment.record, False
    return _done(request, object_type, record, related, notice)


@record_view()
@require_GET
def attachment_download_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The file itself, to whoever may see its record: always as a download, never shown
    inline (an uploaded HTML or script can never run under the CRM's origin)."""
    attachment = attachment_get(user=request.user, attachment_id=pk)
    return attachment_file_response(attachment)
