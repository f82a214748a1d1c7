"""Personal data in the UI (issue 8 §6): the reveal button's HTMX answer."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from crm.core.errors import AppError
from crm.privacy.services import contact_reveal


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
