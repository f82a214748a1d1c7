"""The approvals pages (issue 7 §5): /approvals/ (waiting for me, my requests, all I may see;
by state), /approvals/<id>/ with approve / reject (with a comment) and withdraw, and
Settings → Approvals (which lifecycle transitions need approval).

Reads through crm.core.approvals' selectors, writes through its services; their errors
become messages on the approval's page (403/404 as the CRM's pages).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.accounts.settings_views import configure_required
from crm.core.approvals import (
    approval_approve,
    approval_describe,
    approval_get,
    approval_kind_label,
    approval_object_url,
    approval_reject,
    approval_withdraw,
    approvals_pending_count,
    approvals_visible_to,
)
from crm.core.config import LIFECYCLE_STATUSES, setting_get, settings_update
from crm.core.dictionaries import dictionary_label
from crm.core.errors import ConflictError, ValidationFailed
from crm.core.models import Approval
from crm.core.pagination import paginate
from crm.web.views_support import is_htmx, query_url, record_view, render_page

PAGE_SIZE = 20
TABS = ("waiting", "mine", "all")
STATES = [s.value for s in Approval.State]


class PendingBadge:
    """The nav entry's count of approvals waiting for the user: one query, run only when a
    page renders the navigation."""

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def count(self) -> int:
        return approvals_pending_count(user=self.user)

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        return "99+" if self.count > 99 else str(self.count)


def pending_badge_for(request: HttpRequest) -> PendingBadge:
    badge = getattr(request, "_approvals_badge", None)
    if badge is None:
        badge = PendingBadge(request.user)
        request._approvals_badge = badge
    return badge


def _back() -> tuple[str, str]:
    return reverse("approvals:list"), _("Back to approvals")


approvals_view = record_view(back=_back)


def _rows(request: HttpRequest, tab: str, state: str):
    user = request.user
    through = Approval.approvers.through
    mine_ids = through.objects.filter(user_id=user.pk).values("approval_id")
    if tab == "waiting":
        rows = Approval.objects.filter(pk__in=mine_ids)
    elif tab == "mine":
        rows = Approval.objects.filter(requested_by_id=user.pk)
    else:
        rows = approvals_visible_to(user)
    if state:
        rows = rows.filter(state=state)
    return (
        rows.select_related("requested_by", "decided_by")
        .prefetch_related("approvers")
        .order_by("-created_at", "-id")
    )


def _item(approval: Approval) -> dict[str, Any]:
    return {
        "approval": approval,
        "kind_label": approval_kind_label(approval.kind),
        "text": approval_describe(approval),
        "object_url": approval_object_url(approval),
        "approvers": [u.display_name for u in approval.approvers.all()],
    }


@approvals_view
@require_GET
def approval_list_view(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab") or "waiting"
    if tab not in TABS:
        tab = "waiting"
    default_state = "pending" if tab == "waiting" else ""
    state = request.GET.get("state", default_state)
    if state not in STATES and state != "any":
        state = default_state
    page = paginate(
        _rows(request, tab, "" if state == "any" else state),
        page=request.GET.get("page"),
        size=PAGE_SIZE,
    )
    context = {
        "tab": tab,
        "state": state,
        "tabs": [
            ("waiting", _("Waiting for me")),
            ("mine", _("My requests")),
            ("all", _("All I can see")),
        ],
        "states": [("any", _("Any state")), *((s.value, s.label) for s in Approval.State)],
        "items": [_item(a) for a in page.items],
        "page": page,
        "badge": pending_badge_for(request),
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
    }
    template = "approvals/list.html"
    if is_htmx(request):
        template += "#results"
    return render_page(request, template, context)


def _detail_context(request: HttpRequest, approval: Approval) -> dict[str, Any]:
    user = request.user
    approvers = list(approval.approvers.all())
    pending = approval.state == Approval.State.PENDING
    return {
        **_item(approval),
        "approver_users": approvers,
        "can_decide": pending and any(u.pk == user.pk for u in approvers),
        "can_withdraw": pending and approval.requested_by_id == user.pk,
        "payload_rows": _payload_rows(approval),
    }


def _payload_rows(approval: Approval) -> list[tuple[str, str]]:
    payload = approval.payload if isinstance(approval.payload, dict) else {}
    if approval.kind != "customer_lifecycle":
        return [(str(k), str(v)) for k, v in payload.items()]
    rows = [
        (_("Customer"), f"{payload.get('customer', '')} {payload.get('number', '')}".strip()),
        (_("Status when asked"), dictionary_label("customer_status", payload.get("from"))),
        (_("Requested status"), dictionary_label("customer_status", payload.get("to"))),
    ]
    if payload.get("reason"):
        rows.append((_("Loss reason"), dictionary_label("loss_reason", payload.get("reason"))))
    return rows


@approvals_view
@require_GET
def approval_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    approval = approval_get(user=request.user, approval_id=pk)
    return render_page(request, "approvals/detail.html", _detail_context(request, approval))


def _decision(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    approval = approval_get(user=request.user, approval_id=pk)
    comment = request.POST.get("comment", "")
    try:
        if action == "approve":
            approval_approve(actor=request.user, approval=approval, comment=comment)
            messages.success(request, _("Approved; the change has been applied."))
        elif action == "reject":
            approval_reject(actor=request.user, approval=approval, comment=comment)
            messages.success(request, _("Rejected; the requester has been told."))
        else:
            approval_withdraw(actor=request.user, approval=approval)
            messages.success(request, _("Your request has been withdrawn."))
    except (ValidationFailed, ConflictError) as exc:
        context = _detail_context(request, approval_get(user=request.user, approval_id=pk))
        context["error"] = (
            " ".join(str(m) for msgs in exc.fields.values() for m in msgs)
            if exc.fields
            else str(exc.message)
        )
        context["comment"] = comment
        status = 422 if isinstance(exc, ValidationFailed) else 409
        return render_page(request, "approvals/detail.html", context, status=status)
    return redirect("approvals:detail", pk=approval.pk)


@approvals_view
@require_POST
def approval_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(request, pk, "approve")


@approvals_view
@require_POST
def approval_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(request, pk, "reject")


@approvals_view
@require_POST
def approval_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _decision(request, pk, "withdraw")


# --- Settings → Approvals -----------------------------------------------------------------


@configure_required
@require_http_methods(["GET", "POST"])
def approvals_settings_view(request: HttpRequest) -> HttpResponse:
    """Which lifecycle transitions ("from:to") wait for the team leader's approval."""
    status = 200
    error = ""
    chosen = set(setting_get("lifecycle_approval") or [])
    if request.method == "POST":
        wanted = request.POST.getlist("transition")
        try:
            settings_update(actor=request.user, key="lifecycle_approval", value=wanted)
        except ValidationFailed as exc:
            error = " ".join(str(m) for msgs in exc.fields.values() for m in msgs)
            chosen = set(wanted)
            status = 422
        else:
            messages.success(request, _("Approval rules saved."))
            return redirect("approvals_settings")
    statuses = [(code, dictionary_label("customer_status", code)) for code in LIFECYCLE_STATUSES]
    grid = [
        {
            "code": before,
            "label": before_label,
            "cells": [
                {
                    "value": f"{before}:{after}",
                    "label": after_label,
                    "same": before == after,
                    "checked": f"{before}:{after}" in chosen,
                }
                for after, after_label in statuses
            ],
        }
        for before, before_label in statuses
    ]
    return render_page(
        request,
        "approvals/settings.html",
        {"grid": grid, "statuses": statuses, "section": "approvals", "error": error},
        status=status,
    )
