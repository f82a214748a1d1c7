"""The public pool's pages (公海, issue 7 §4): the list, a pool customer's page with its
contact details masked and the claim button, the release dialog on the customer page, and
Settings → Public pool.

Views are thin: reads through crm.customers.pool's selectors, writes through its services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from crm.accounts.settings_views import configure_required
from crm.core.audit import audit_field_label
from crm.core.config import GRADES, LIFECYCLE_STATUSES, setting_get, settings_update
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.errors import ConflictError, PermissionDeniedError, ValidationFailed
from crm.core.masking import mask_email, mask_phone
from crm.core.pagination import PAGE_SIZE_CHOICES, page_size_choice, paginate
from crm.core.scope import user_can
from crm.customers.forms import date_input_lang
from crm.customers.models import Customer, CustomerType, Grade
from crm.customers.pool import (
    PoolFilters,
    customer_claim,
    customer_release,
    pool_cooldown_until,
    pool_customer_get,
    pool_list,
    pool_move_reason,
    pool_moves,
    pool_visible,
)
from crm.customers.selectors import customer_get
from crm.web.views_support import is_htmx, query_url, record_view, render_page


def _back_to_pool() -> tuple[str, str]:
    return reverse("pool:list"), _("Back to the public pool")


pool_view = record_view(back=_back_to_pool)


def _require_view(request: HttpRequest) -> None:
    if not pool_visible(request.user):
        raise PermissionDeniedError()


# --- list -----------------------------------------------------------------------------------


@pool_view
def pool_list_view(request: HttpRequest) -> HttpResponse:
    """Customers without an owner, newest arrivals first; filters like the customer list;
    pages never counted; phone numbers masked."""
    _require_view(request)
    filters = PoolFilters.from_params(request.GET)
    size = page_size_choice(request.GET.get("page_size"), default=settings.CRM_PAGE_SIZE)
    page = paginate(
        pool_list(user=request.user, filters=filters), page=request.GET.get("page"), size=size
    )
    for c in page.items:
        c.masked_phone = mask_phone(c.phone)
    context = {
        "page": page,
        "filters": filters,
        "filtered": filters.active or bool(filters.q),
        "can_claim": user_can(request.user, "pool", "claim"),
        "type_choices": CustomerType.choices,
        "grade_choices": Grade.choices,
        "industry_choices": dictionary_choices("industry"),
        "source_choices": dictionary_choices("source"),
        "status_choices": dictionary_choices("customer_status"),
        "page_sizes": [
            {
                "size": n,
                "url": query_url(request, page_size=n, page=None),
                "current": n == size,
            }
            for n in PAGE_SIZE_CHOICES
        ],
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
        "date_lang": date_input_lang(),
    }
    template = "customers/pool/list.html"
    if is_htmx(request):
        template += "#results"
    return render_page(request, template, context)


# --- detail and claim -----------------------------------------------------------------------


def _detail_context(request: HttpRequest, customer: Any) -> dict[str, Any]:
    user = request.user
    contacts = [
        {
            "name": c.name,
            "title": c.title,
            "phone": mask_phone(c.phone),
            "email": mask_email(c.email),
            "is_primary": c.is_primary,
        }
        for c in customer.contacts.all()
    ]
    moves = [{"move": m, "reason": pool_move_reason(m)} for m in pool_moves(customer, limit=20)]
    values = [
        ("number", customer.number),
        ("type", customer.get_type_display()),
        ("industry", dictionary_label("industry", customer.industry)),
        ("source", dictionary_label("source", customer.source)),
        ("grade", customer.get_grade_display()),
        ("status", dictionary_label("customer_status", customer.status)),
        ("phone", mask_phone(customer.phone)),
        ("email", mask_email(customer.email)),
        ("address", customer.address),
        ("requirement", customer.requirement),
    ]
    fields = [(capfirst(audit_field_label(Customer, name)), value) for name, value in values]
    can_claim = user_can(user, "pool", "claim")
    return {
        "customer": customer,
        "fields": fields,
        "contacts": contacts,
        "moves": moves,
        "can_claim": can_claim,
        "cooldown_until": pool_cooldown_until(user=user, customer_id=customer.pk)
        if can_claim
        else None,
    }


@pool_view
def pool_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A pool customer: what it is, its contacts' names with the numbers masked, where it
    came from (its pool moves), and the claim button."""
    customer = pool_customer_get(user=request.user, customer_id=pk)
    return render_page(request, "customers/pool/detail.html", _detail_context(request, customer))


@pool_view
@require_POST
def pool_claim_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Claim (HTMX from the list or the page): on success to the customer's own page; a
    refusal (limit, cool-down, claimed by someone else) is shown inline with status 409."""
    if not user_can(request.user, "pool", "claim"):
        raise PermissionDeniedError()
    try:
        customer = customer_claim(actor=request.user, customer=pk)
    except ConflictError as exc:
        if is_htmx(request):
            return render_page(
                request,
                "customers/pool/_claim.html",
                {"pk": pk, "error": str(exc.message), "can_claim": True},
                status=409,
            )
        messages.error(request, str(exc.message))
        return redirect("pool:detail", pk=pk)
    messages.success(
        request,
        _("%(name)s is yours now; its contact details are shown in full.")
        % {"name": customer.name},
    )
    url = reverse("customers:detail", args=[customer.pk])
    if is_htmx(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


# --- release (on the customer page) ---------------------------------------------------------


@record_view(back=lambda: (reverse("customers:list"), _("Back to customers")))
@require_POST
def customer_release_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Release the customer to the pool with a reason (the dialog on the customer page)."""
    if not (
        user_can(request.user, "customers", "edit")
        or user_can(request.user, "customers", "transfer")
    ):
        raise PermissionDeniedError()
    customer = customer_get(user=request.user, customer_id=pk)
    try:
        customer_release(actor=request.user, customer=customer, reason=request.POST.get("reason"))
    except (ValidationFailed, ConflictError) as exc:
        text = " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)
        messages.error(request, text)
        return redirect("customers:detail", pk=customer.pk)
    messages.success(
        request,
        _("%(name)s is in the public pool now; anyone with the pool permission may claim it.")
        % {"name": customer.name},
    )
    if pool_visible(request.user):
        return redirect("pool:detail", pk=customer.pk)
    return redirect("customers:list")


def release_context(user: Any, customer: Any) -> dict[str, Any]:
    """Whether the customer page offers "Release to the pool" to this user."""
    from crm.core.scope import scope_covers

    owner = customer.owner
    if owner is None or customer.deleted_at is not None:
        return {"can_release": False}
    mine = owner.pk == user.pk and user_can(user, "customers", "edit")
    covers = user_can(user, "customers", "transfer") and scope_covers(user, "customers", owner)
    return {"can_release": mine or covers}


# --- Settings → Public pool -----------------------------------------------------------------


class PoolSettingsForm(forms.Form):
    """pool_rules, pool_claim_limit and pool_reclaim_days; the services' cleaners judge."""

    enabled = forms.BooleanField(
        label=gettext_lazy("Return neglected customers automatically"), required=False
    )
    notice_days = forms.CharField(
        label=gettext_lazy("Notice to the owner, days before"), required=False
    )
    protected_statuses = forms.MultipleChoiceField(
        label=gettext_lazy("Never returned"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    claim_limit = forms.CharField(
        label=gettext_lazy("Claim limit (owned customers per user)"), required=False
    )
    reclaim_days = forms.CharField(
        label=gettext_lazy("Cool-down before reclaiming, days"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["protected_statuses"].choices = [
            (code, dictionary_label("customer_status", code)) for code in LIFECYCLE_STATUSES
        ]
        for grade in GRADES:
            for prefix in ("followup", "won"):
                self.fields[f"{prefix}_{grade}"] = forms.CharField(
                    label=_("Grade %(grade)s") % {"grade": grade}, required=False
                )
        self.fields["notice_days"].help_text = _("0: no notice.")
        self.fields["reclaim_days"].help_text = _("0: no cool-down.")

    def followup_fields(self) -> list[Any]:
        return [self[f"followup_{g}"] for g in GRADES]

    def won_fields(self) -> list[Any]:
        return [self[f"won_{g}"] for g in GRADES]


FORM_FIELDS = {
    "pool_rules.notice_days": "notice_days",
    "pool_rules.protected_statuses": "protected_statuses",
    "pool_claim_limit": "claim_limit",
    "pool_reclaim_days": "reclaim_days",
    **{f"pool_rules.followup_days.{g}": f"followup_{g}" for g in GRADES},
    **{f"pool_rules.won_days.{g}": f"won_{g}" for g in GRADES},
}


def _initial() -> dict[str, Any]:
    rules = setting_get("pool_rules")
    initial: dict[str, Any] = {
        "enabled": bool(rules.get("enabled")),
        "notice_days": rules.get("notice_days"),
        "protected_statuses": list(rules.get("protected_statuses") or []),
        "claim_limit": setting_get("pool_claim_limit"),
        "reclaim_days": setting_get("pool_reclaim_days"),
    }
    for name, prefix in (("followup_days", "followup"), ("won_days", "won")):
        value = rules.get(name)
        for grade in GRADES:
            days = value.get(grade) if isinstance(value, dict) else value
            initial[f"{prefix}_{grade}"] = "" if days is None else days
    return initial


@configure_required
@require_http_methods(["GET", "POST"])
def pool_settings_view(request: HttpRequest) -> HttpResponse:
    form = PoolSettingsForm(request.POST if request.method == "POST" else None, initial=_initial())
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                settings_update(
                    actor=request.user,
                    key="pool_rules",
                    value={
                        "enabled": bool(data["enabled"]),
                        "notice_days": data["notice_days"],
                        "protected_statuses": data["protected_statuses"],
                        "followup_days": {g: data[f"followup_{g}"] for g in GRADES},
                        "won_days": {g: data[f"won_{g}"] for g in GRADES},
                    },
                )
                settings_update(
                    actor=request.user, key="pool_claim_limit", value=data["claim_limit"]
                )
                settings_update(
                    actor=request.user, key="pool_reclaim_days", value=data["reclaim_days"]
                )
        except ValidationFailed as exc:
            for key, msgs in exc.fields.items():
                name = FORM_FIELDS.get(key)
                for message in msgs:
                    form.add_error(name if name in form.fields else None, message)
            status = 422
        else:
            messages.success(request, _("Public pool rules saved."))
            return redirect("pool_settings:index")
    elif request.method == "POST":
        status = 422
    return render_page(
        request,
        "customers/pool/settings.html",
        {"form": form, "section": "pool"},
        status=status,
    )
