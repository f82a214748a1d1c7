"""Personal data in the UI (issue 8 §6): the reveal button's HTMX answer."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.core.errors import AppError
from crm.privacy.services import contact_reveal
from crm.web.views_support import error_page


@login_required
@require_POST
def reveal_view(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """One masked value in clear, swapped in place of its "reveal" button.

    A refusal answers with its status and a short message in the same place (the span is
    marked data-swap-errors), so a rep who hit the hourly limit reads why nothing appeared.
    """
    field = request.POST.get("field", "")
    try:
        value = contact_reveal(actor=request.user, kind=kind, record_id=pk, field=field)
    except AppError as exc:
        return render(
            request,
            "privacy/_revealed.html",
            {"error": exc.message, "field": field},
            status=exc.status,
        )
    return render(request, "privacy/_revealed.html", {"value": value, "field": field})


# --- data-subject requests (administrators) --------------------------------------------------


def _record_url(kind: str, record: Any) -> str:
    if kind == "lead":
        return reverse("leads:detail", args=[record.pk])
    if kind == "contact":  # back to the customer's contacts tab, where the contact was
        return reverse("customers:detail", args=[record.customer_id]) + "?tab=contacts"
    return reverse("customers:detail", args=[record.pk])


@login_required
@require_POST
def personal_export_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The person's data as a download (json or xlsx); 403/404/422 as the error page."""
    from crm.privacy.api import personal_data_file
    from crm.privacy.subjects import personal_data

    fmt = "xlsx" if request.POST.get("format") == "xlsx" else "json"
    try:
        data = personal_data(actor=request.user, kind=kind, record_id=pk)
    except AppError as exc:
        return error_page(request, exc.status, exc)
    return personal_data_file(kind, pk, data, fmt)


@login_required
@require_POST
def personal_anonymise_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Anonymise after the confirmation dialog (web/_confirm_dialog.html); back to the page."""
    from crm.privacy.subjects import personal_data_anonymise

    try:
        record = personal_data_anonymise(actor=request.user, kind=kind, record_id=pk)
    except AppError as exc:
        return error_page(request, exc.status, exc)
    messages.success(request, _("The personal data was anonymised; the history is kept."))
    return redirect(_record_url(kind, record))
