"""The lead actions (LEAD-4; namespace lead_actions): assign (one lead, or the selection of the
list, to a user or by the rules), convert (a page), qualify, disqualify with a reason,
requalify.

The buttons live in leads/_actions.html (the lead page) and leads/_bulk_bar.html (the list);
every rule is in assignment.py / conversion.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.errors import (
    ConflictError,
    DuplicateError,
    DuplicateWarning,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.scope import user_can
from crm.leads.assignment import (
    assign_summary,
    lead_assign,
    lead_assign_by_rules,
    lead_link,
    leads_assign_bulk,
)
from crm.leads.conversion import (
    lead_convert,
    lead_customer_defaults,
    lead_disqualify,
    lead_qualify,
    lead_requalify,
)
from crm.leads.forms_assign import ConvertForm
from crm.leads.models import Lead, LeadStatus
from crm.leads.selectors import lead_get
from crm.web.views_support import record_view, render_page

MODULE = "leads"
CUSTOMER_CHOICES = 20


def _back() -> tuple[str, str]:
    try:
        return reverse("leads:list"), _("Leads")
    except NoReverseMatch:
        return "/", _("Home")


lead_action_view = record_view(back=_back)


def _require(request: HttpRequest, action: str) -> None:
    if not user_can(request.user, MODULE, action):
        raise PermissionDeniedError()


def _errors_text(exc: Any) -> str:
    return " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)


def _list_url(request: HttpRequest) -> str:
    back = request.POST.get("next", "")
    try:
        home = reverse("leads:list")
    except NoReverseMatch:
        home = "/"
    if back.startswith(home) and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        return back
    return home


# --- assign --------------------------------------------------------------------------------


@lead_action_view
@require_POST
def lead_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The assign dialog: to the chosen user, or (by_rules) by the ordered rules."""
    _require(request, "assign")
    lead = lead_get(user=request.user, lead_id=pk)
    try:
        if request.POST.get("by_rules"):
            if lead.status == LeadStatus.CONVERTED:
                raise ConflictError(_("This lead is converted; its customer has its own owner."))
            owner = lead_assign_by_rules(lead=lead, actor=request.user)
            if owner is None:
                messages.warning(request, _("No active rule gives this lead an owner."))
            else:
                messages.success(
                    request, _("Assigned to %(name)s by the rules.") % {"name": owner.display_name}
                )
        else:
            lead = lead_assign(
                actor=request.user, lead=lead, owner=request.POST.get("owner_id", "")
            )
            messages.success(
                request, _("Assigned to %(name)s.") % {"name": lead.owner.display_name}
            )
    except (ValidationFailed, ConflictError) as exc:
        messages.error(request, _errors_text(exc))
    return redirect(lead_link(lead))


@lead_action_view
@require_POST
def leads_bulk_assign_view(request: HttpRequest) -> HttpResponse:
    """The list's bulk bar: the selected leads to one user, or each by the rules."""
    _require(request, "assign")
    ids = request.POST.getlist("ids") or request.POST.getlist("lead_ids")
    owner = request.POST.get("owner_id", "").strip()
    by_rules = request.POST.get("action") == "assign_rules"
    back = _list_url(request)
    if not by_rules and not owner:
        messages.error(
            request, _("Choose who gets the selected leads, or assign them by the rules.")
        )
        return redirect(back)
    try:
        result = leads_assign_bulk(
            actor=request.user, lead_ids=ids, owner=None if by_rules else owner
        )
    except ValidationFailed as exc:
        messages.error(request, _errors_text(exc))
        return redirect(back)
    messages.success(request, assign_summary(result))
    return redirect(back)


# --- qualify / disqualify / requalify --------------------------------------------------------


@lead_action_view
@require_POST
def lead_qualify_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    lead = lead_get(user=request.user, lead_id=pk)
    try:
        lead_qualify(actor=request.user, lead=lead)
    except ConflictError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request, _("The lead is qualified: convert it when the customer is ready.")
        )
    return redirect(lead_link(lead))


@lead_action_view
@require_POST
def lead_disqualify_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    lead = lead_get(user=request.user, lead_id=pk)
    try:
        lead_disqualify(
            actor=request.user,
            lead=lead,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        )
    except (ValidationFailed, ConflictError) as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, _("The lead is disqualified. You can requalify it later."))
    return redirect(lead_link(lead))


@lead_action_view
@require_POST
def lead_requalify_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    lead = lead_get(user=request.user, lead_id=pk)
    try:
        lead_requalify(actor=request.user, lead=lead)
    except (ValidationFailed, ConflictError) as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, _("The lead is open again."))
    return redirect(lead_link(lead))


# --- convert ---------------------------------------------------------------------------------


def _customer_choices(request: HttpRequest, lead: Lead, q: str) -> list[tuple[str, str]]:
    """Up to 20 customers the user can see matching `q` (by default the lead's company)."""
    from crm.customers.selectors import CustomerFilters, customer_list

    rows = customer_list(user=request.user, filters=CustomerFilters(q=q or lead.company))
    return [(str(c.pk), f"{c.number} {c.name}") for c in rows[:CUSTOMER_CHOICES]]


def _initial(lead: Lead, actor: Any) -> dict[str, Any]:
    defaults = lead_customer_defaults(lead, actor=actor)
    return {
        "mode": "new",
        "name": defaults["name"],
        "source": defaults["source"],
        "grade": defaults["grade"],
        "phone": lead.phone,
        "email": lead.email,
        "contact_name": lead.name,
        "contact_title": lead.title,
        "contact_phone": lead.phone,
        "contact_email": lead.email,
        "opportunity_name": lead.requirement[:120] if lead.requirement else lead.company,
        "opportunity_amount": f"{lead.budget:.2f}" if lead.budget is not None else "",
    }


@lead_action_view
@require_http_methods(["GET", "POST"])
def lead_convert_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The convert page: a new customer prefilled from the lead (its duplicate rules apply,
    with a confirm for warnings), or an existing customer found by a search; an optional
    opportunity at the first stage."""
    _require(request, "edit")
    lead = lead_get(user=request.user, lead_id=pk)
    if lead.status == LeadStatus.CONVERTED:
        messages.info(request, _("This lead is already converted."))
        return redirect(lead_link(lead))
    q = (request.GET.get("q") or request.POST.get("q") or "").replace("\x00", "").strip()[:100]
    choices = _customer_choices(request, lead, q)
    context: dict[str, Any] = {
        "lead": lead,
        "q": q,
        "section": "leads",
        "lead_url": lead_link(lead),
        "leads_url": _back()[0],
    }
    status = 200
    if request.method == "POST":
        data = request.POST.copy()
        if data.get("link_customer"):  # "convert into this customer" from the duplicate notice
            data["mode"] = "existing"
            data["customer_id"] = data["link_customer"]
            choices = _customer_choices(request, lead, q) or choices
        form = ConvertForm(data, customer_choices=choices)
        form.is_valid()
        try:
            customer, _contact, opportunity = lead_convert(
                actor=request.user, lead=lead, **form.service_arguments()
            )
        except (DuplicateError, DuplicateWarning) as exc:
            from crm.customers.views import _duplicate_context

            context.update(_duplicate_context(exc))
            status = 409
        except ValidationFailed as exc:
            context["errors"] = form.attach_errors(exc.fields)
            status = 422
        except ConflictError as exc:
            messages.error(request, str(exc.message))
            return redirect(lead_link(lead))
        else:
            if opportunity is not None:
                messages.success(
                    request,
                    _("Converted: customer %(customer)s with the opportunity %(opportunity)s.")
                    % {"customer": customer.name, "opportunity": opportunity.name},
                )
            else:
                messages.success(
                    request, _("Converted: customer %(customer)s.") % {"customer": customer.name}
                )
            return redirect("customers:detail", customer.pk)
    else:
        form = ConvertForm(initial=_initial(lead, request.user), customer_choices=choices)
    context["form"] = form
    context["mode"] = form["mode"].value() or "new"
    template = "leads/convert.html"
    if request.headers.get("HX-Request") and request.method == "GET" and "q" in request.GET:
        template = "leads/convert.html#customer_results"
    return render_page(request, template, context, status=status)
