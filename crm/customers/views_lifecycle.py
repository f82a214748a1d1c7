"""The customer page's "Change status" action and its approval banner (CUS-8, issue 7 §5)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.core.approvals import approval_describe
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.errors import ConflictError, PermissionDeniedError, ValidationFailed
from crm.core.scope import user_can
from crm.customers.lifecycle import LOST, lifecycle_needs_approval, lifecycle_pending
from crm.customers.models import Customer
from crm.customers.selectors import customer_get
from crm.web.views_support import record_view

MODULE = "customers"


def lifecycle_context(user: Any, customer: Customer) -> dict[str, Any]:
    """What the customer page shows of the lifecycle: the pending request (one query) and,
    for those who may edit, the choices of the "Change status" panel."""
    pending = lifecycle_pending(customer)
    context: dict[str, Any] = {
        "lifecycle_pending": pending,
        "lifecycle_pending_text": approval_describe(pending) if pending else "",
    }
    if user_can(user, MODULE, "edit") and customer.deleted_at is None:
        context["lifecycle_statuses"] = [
            {
                "code": code,
                "label": label,
                "needs_approval": lifecycle_needs_approval(customer.status, code),
            }
            for code, label in dictionary_choices("customer_status")
            if code != customer.status
        ]
        context["lifecycle_reasons"] = dictionary_choices("loss_reason")
    return context


def _back() -> tuple[str, str]:
    return reverse("customers:list"), _("Back to customers")


@record_view(back=_back)
@require_POST
def customer_lifecycle_view(request: HttpRequest, pk: int) -> HttpResponse:
    from crm.customers.lifecycle import customer_lifecycle_change

    if not user_can(request.user, MODULE, "edit"):
        raise PermissionDeniedError()
    customer = customer_get(user=request.user, customer_id=pk)
    status = request.POST.get("status", "")
    try:
        customer, approval = customer_lifecycle_change(
            actor=request.user,
            customer=customer,
            status=status,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
            version=request.POST.get("version") or None,
        )
    except (ValidationFailed, ConflictError) as exc:
        text = (
            " ".join(str(m) for msgs in exc.fields.values() for m in msgs)
            if exc.fields
            else str(exc.message)
        )
        messages.error(request, text)
        return redirect("customers:detail", pk=pk)
    if approval is not None:
        names = ", ".join(u.display_name for u in approval.approvers.all())
        messages.info(
            request,
            _("The change to %(status)s waits for approval by %(who)s.")
            % {"status": dictionary_label("customer_status", status), "who": names},
        )
    elif status == LOST:
        messages.success(request, _("The customer is marked lost."))
    else:
        messages.success(
            request,
            _("The status is now %(status)s.")
            % {"status": dictionary_label("customer_status", status)},
        )
    return redirect("customers:detail", pk=pk)
