"""The leads web UI (LEAD-1, LEAD-2, LEAD-3): list, new, detail, edit, recycle bin, and the
follow-up form on a lead.

Views are thin, like the customer pages': they read through the scoped selectors, write
through the services and turn their errors into inline form errors (422), duplicate and
conflict notices (409), the 403 page or 404. The lead actions (assign, convert, disqualify)
come from their own views (namespace `lead_actions`), shown through the partials
leads/_actions.html (lead page) and leads/_bulk_bar.html (list).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.audit import audit_field_label
from crm.core.config import setting_get
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.errors import (
    ConflictError,
    DuplicateWarning,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.masking import contact_reveal_offered, mask_email, mask_phone, reveal_on_demand
from crm.core.models import AuditEntry
from crm.core.pagination import PAGE_SIZE_CHOICES, page_size_choice, page_total, paginate
from crm.core.scope import user_can, users_assignable_by
from crm.leads.forms import LeadForm, grade_hints
from crm.leads.models import Lead, LeadGrade, LeadStatus, SlaState
from crm.leads.selectors import (
    DEFAULT_SORT,
    UNASSIGNED,
    LeadFilters,
    lead_get,
    lead_list,
    leads_deleted_visible_to,
)
from crm.leads.services import lead_create, lead_delete, lead_restore, lead_update
from crm.web.views_support import (
    is_htmx,
    query_url,
    record_view,
    recycle_bin_context,
    render_page,
)

MODULE = "leads"
HISTORY_PAGE_SIZE = 30
FOLLOWUPS_SHOWN = 20
ORIGINAL_SALT = "crm.leads.edit.original"
SORTABLE = {
    "number": ("number", "-number", "number"),
    "company": ("company", "-company", "company"),
    "due": ("due", "-due", "due"),
    "created": ("-created", "created", "created"),
}


def _back_to_leads() -> tuple[str, str]:
    return reverse("leads:list"), _("Back to leads")


lead_view = record_view(back=_back_to_leads)


def _require(request: HttpRequest, action: str) -> None:
    if not user_can(request.user, MODULE, action):
        raise PermissionDeniedError()


def _perms(user: Any) -> dict[str, bool]:
    perms = {
        action: user_can(user, MODULE, action)
        for action in ("view", "create", "edit", "delete", "assign", "export")
    }
    perms["followups"] = user_can(user, "followups", "view")
    perms["log_followup"] = user_can(user, "followups", "create")
    # Leads show phone/email in clear, unless reveal on demand is on (crm.privacy): then they
    # are masked and holders of customers/view_contact reveal one value with a click.
    perms["view_contact"] = not reveal_on_demand()
    perms["reveal"] = contact_reveal_offered(user)
    # Data-subject requests (export, anonymise) are for administrators (crm.privacy).
    perms["privacy"] = user_can(user, "settings", "configure")
    return perms


# --- list -----------------------------------------------------------------------------------


@lead_view
def lead_list_view(request: HttpRequest) -> HttpResponse:
    """The lead list: filters (incl. unassigned and the SLA), search, sortable columns, pages
    (never counted), and selection boxes for the bulk actions."""
    _require(request, "view")
    user = request.user
    filters = LeadFilters.from_params(request.GET)
    size = page_size_choice(request.GET.get("page_size"), default=settings.CRM_PAGE_SIZE)
    rows = lead_list(user=user, filters=filters)
    page = paginate(rows, page=request.GET.get("page"), size=size)
    perms = _perms(user)
    owners = [
        (u.pk, u.display_name)
        for u in users_assignable_by(user, MODULE).only("id", "full_name", "username")
    ]
    filters_active = any(
        [filters.status, filters.grade, filters.owner_id, filters.source, filters.sla_state]
    )
    columns = {}
    for column, label in (
        ("number", gettext_lazy("Number")),
        ("company", gettext_lazy("Company")),
        ("due", gettext_lazy("First contact due")),
        ("created", gettext_lazy("Created")),
    ):
        ascending, descending, first = SORTABLE[column]
        state = "asc" if filters.sort == ascending else "desc" if filters.sort == descending else ""
        target = descending if state == "asc" else ascending if state == "desc" else first
        columns[column] = {
            "key": column,
            "label": label,
            "state": state,
            "url": query_url(request, sort=target, page=None),
        }
    now = timezone.now()
    context = {
        "page": page,
        "items": [{"lead": lead, "sla": sla_badge(lead, now=now)} for lead in page.items],
        "filters": filters,
        "unassigned": UNASSIGNED,
        "filtered": filters_active or bool(filters.q),
        "filters_active": filters_active,
        "default_sort": DEFAULT_SORT,
        "columns": columns,
        "can": perms,
        "owners": owners,
        # Selection boxes for the bulk actions (assignment) of leads/_bulk_bar.html.
        "bulk": bool(page.items) and (perms["assign"] or perms["delete"]),
        "total": page_total(rows, page) if page.items else None,
        "page_sizes": [
            {"size": n, "url": query_url(request, page_size=n, page=None), "current": n == size}
            for n in PAGE_SIZE_CHOICES
        ],
        "status_choices": LeadStatus.choices,
        "grade_choices": LeadGrade.choices,
        "source_choices": dictionary_choices("source"),
        "sla_choices": SlaState.choices,
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
        "oob": is_htmx(request),
        "page_size": size if size != settings.CRM_PAGE_SIZE else "",
    }
    template = "leads/list.html"
    if is_htmx(request):
        template += "#results"
    return render_page(request, template, context)


def sla_badge(lead: Lead, *, now: Any = None) -> dict[str, Any]:
    """The SLA badge of a lead as stored by the sweep (and settled by the first contact):
    state, label, css class."""
    state = lead.sla_state or SlaState.NONE
    css = {
        SlaState.ON_TIME: "badge-success",
        SlaState.DUE_SOON: "badge-warning",
        SlaState.BREACHED: "badge-danger",
        SlaState.MET: "badge-muted",
        SlaState.NONE: "",
    }.get(state, "")
    return {
        "state": state,
        "label": SlaState(state).label if state in SlaState.values else state,
        "css": css,
    }


# --- create / edit --------------------------------------------------------------------------


def _duplicate_context(exc: DuplicateWarning) -> dict[str, Any]:
    labels = {"company": _("company"), "phone": _("phone"), "email": _("email")}
    return {
        "duplicate_warnings": [
            {**w, "field_label": labels.get(w.get("field", ""), w.get("field", ""))}
            for w in exc.extra.get("warnings", [])
        ]
    }


def _form_context(form: LeadForm) -> dict[str, Any]:
    return {"form": form, "grade_hints": grade_hints()}


@lead_view
@require_http_methods(["GET", "POST"])
def lead_create_view(request: HttpRequest) -> HttpResponse:
    """New lead (LEAD-1, LEAD-2)."""
    _require(request, "create")
    actor = request.user
    context: dict[str, Any] = {"mode": "create", "can": _perms(actor)}
    status = 200
    if request.method == "GET":
        initial = {
            "grade": LeadGrade.B,
            "owner": "" if user_can(actor, MODULE, "assign") else actor.pk,
        }
        form = LeadForm(actor=actor, initial=initial)
    else:
        form = LeadForm(request.POST, actor=actor)
        form.is_valid()  # lenient fields: only strips; the service judges the values
        try:
            lead = lead_create(
                actor=actor,
                data=form.service_data(),
                confirm_duplicates=request.POST.get("confirm_duplicates") == "1",
            )
        except ValidationFailed as exc:
            context["form_errors"] = form.attach_errors(exc.fields)
            status = 422
        except DuplicateWarning as exc:
            context.update(_duplicate_context(exc))
            status = 409
        else:
            messages.success(
                request,
                _("Lead %(number)s %(company)s has been created.")
                % {"number": lead.number, "company": lead.company},
            )
            try:
                return redirect("leads:detail", pk=lead_get(user=actor, lead_id=lead.pk).pk)
            except NotFoundError:  # the assignment rules gave it to someone out of sight
                return redirect("leads:list")
    context.update(_form_context(form))
    return render_page(request, "leads/form.html", context, status=status)


def _changed_only(data: dict[str, Any], opened_with: dict[str, Any] | None) -> dict[str, Any]:
    if opened_with is None:
        return data
    return {
        k: v
        for k, v in data.items()
        if str(v if v is not None else "") != str(opened_with.get(k) or "")
    }


@lead_view
@require_http_methods(["GET", "POST"])
def lead_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a lead. Only the fields the user changed are sent (an edit never reverts someone
    else's change); a stale copy is refused (409) with who changed it, the input kept."""
    _require(request, "edit")
    actor = request.user
    lead = lead_get(user=actor, lead_id=pk)
    context: dict[str, Any] = {"mode": "edit", "lead": lead, "can": _perms(actor)}
    status = 200
    original = LeadForm.initial_from(lead)
    version: Any = lead.version
    if request.method == "GET":
        form = LeadForm(actor=actor, lead=lead, initial=original)
    else:
        form = LeadForm(request.POST, actor=actor, lead=lead, initial=original)
        form.is_valid()
        version = request.POST.get("version", "")
        try:
            opened_with = signing.loads(request.POST.get("original", ""), salt=ORIGINAL_SALT)
        except signing.BadSignature:
            opened_with = None
        data = _changed_only(
            form.service_data(), opened_with if isinstance(opened_with, dict) else None
        )
        try:
            lead = lead_update(
                actor=actor,
                lead=lead,
                data=data,
                version=version,
                confirm_duplicates=request.POST.get("confirm_duplicates") == "1",
            )
        except ValidationFailed as exc:
            context["form_errors"] = form.attach_errors(exc.fields)
            original = opened_with or original
            status = 422
        except DuplicateWarning as exc:
            context.update(_duplicate_context(exc))
            original = opened_with or original
            status = 409
        except ConflictError as exc:
            current = lead_get(user=actor, lead_id=pk)
            context["conflict"] = {
                "message": str(exc.message),
                "changed_by": exc.extra.get("changed_by") or _("Someone"),
            }
            # The form keeps the user's input; saving again applies it onto the current
            # version (only the fields they changed from what they opened).
            context["lead"] = lead = current
            version = current.version
            status = 409
        else:
            if str(lead.version) == str(version):
                messages.info(request, _("Nothing was changed."))
            else:
                messages.success(request, _("Your changes have been saved."))
            return redirect("leads:detail", pk=lead.pk)
    context.update(_form_context(form))
    context.update(version=version, original=signing.dumps(original, salt=ORIGINAL_SALT))
    return render_page(request, "leads/form.html", context, status=status)


# --- detail ---------------------------------------------------------------------------------


TIME_FIELDS = ("first_contact_due_at", "first_contacted_at", "converted_at", "assigned_at")


def _history_value(name: str, value: Any) -> str:
    """An audited value as a person reads it: times in the company's zone, money in yuan."""
    if value is None or value == "":
        return ""
    if name in TIME_FIELDS:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return f"{timezone.localtime(moment, timezone.get_default_timezone()):%Y-%m-%d %H:%M}"
    if name == "budget":
        from crm.web.templatetags.crm import cny

        return cny(value)
    return str(value)


def _history_entries(lead: Lead, request: HttpRequest) -> tuple[Any, list[dict[str, Any]]]:
    from crm.leads.merge import lead_history_ids

    # Its own entries and those of the leads merged into it (CUS-6): the history moves along.
    ids = lead_history_ids(lead)
    history = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead), object_id__in=ids
    )
    merged_numbers = (
        dict(Lead.objects.filter(pk__in=ids[1:]).values_list("pk", "number"))
        if len(ids) > 1
        else {}
    )
    page = paginate(
        history.select_related("actor").order_by("-created_at", "-id"),
        page=request.GET.get("page"),
        size=HISTORY_PAGE_SIZE,
    )
    # While reveal on demand is on, the history masks phone/email too (crm.privacy).
    masks = {} if not reveal_on_demand() else {"phone": mask_phone, "email": mask_email}
    entries = []
    for entry in page.items:
        changes = []
        for change in entry.changes or []:
            if not isinstance(change, dict):
                continue
            name = str(change.get("field", ""))
            before, after = change.get("before"), change.get("after")
            if before in (None, "") and after in (None, ""):
                continue
            if name in masks:
                before = masks[name](before) if isinstance(before, str) else before
                after = masks[name](after) if isinstance(after, str) else after
            changes.append(
                {
                    "label": audit_field_label(Lead, name),
                    "before": _history_value(name, before),
                    "after": _history_value(name, after),
                }
            )
        entries.append(
            {
                "entry": entry,
                "changes": changes,
                # An entry of a lead merged into this one says whose it was.
                "merged_number": merged_numbers.get(entry.object_id, ""),
            }
        )
    return page, entries


def _detail_fields(lead: Lead, perms: dict[str, bool]) -> list[dict[str, Any]]:
    from crm.web.templatetags.crm import cny, contact_value

    shown, reveal = perms["view_contact"], perms["reveal"]
    values = [
        ("company", lead.company),
        ("name", lead.name),
        ("title", lead.title),
        ("phone", contact_value(lead.phone, shown, "phone", reveal, "lead", lead.pk)),
        ("email", contact_value(lead.email, shown, "email", reveal, "lead", lead.pk)),
        ("source", dictionary_label("source", lead.source)),
        ("region", dictionary_label("region", lead.region)),
        ("budget", cny(lead.budget) if lead.budget is not None else ""),
        ("requirement", lead.requirement),
        ("notes", lead.notes),
    ]
    return [
        {"name": n, "label": Lead._meta.get_field(n).verbose_name, "value": v} for n, v in values
    ]


def _followups_context(request: HttpRequest, lead: Lead, perms: dict[str, bool]) -> dict[str, Any]:
    """The lead's follow-ups (newest first) and the form to log one (issue 7 §1)."""
    if not perms["followups"]:
        return {}
    from crm.activities.selectors import FollowUpFilters, followup_list

    rows = list(
        followup_list(user=request.user, filters=FollowUpFilters(lead_id=lead.pk))[:FOLLOWUPS_SHOWN]
    )
    context: dict[str, Any] = {"followups": rows}
    loggable = lead.status != LeadStatus.CONVERTED and lead.deleted_at is None
    if perms["log_followup"] and loggable:
        # "Log it" on a plan of this lead ("my follow-ups"): the form starts from the plan.
        plan = next(
            (
                f
                for f in rows
                if str(f.pk) == str(request.GET.get("plan") or "")
                and f.next_at is not None
                and f.next_done_at is None
            ),
            None,
        )
        context["followup_form"] = _followup_form(request.user, plan=plan)
        context["plan"] = plan
    return context


def _followup_form(actor: Any, data: Any = None, *, plan: Any = None) -> Any:
    from crm.activities.forms import FollowUpForm, local_input

    initial = {
        "author": actor.pk,
        "method": "phone",
        "occurred_at": local_input(timezone.now()),
    }
    if plan is not None:
        initial.update(method=plan.next_method or plan.method, author=plan.author_id)
    form = FollowUpForm(data, actor=actor, initial=initial)
    form.fields.pop("file", None)  # a lead's follow-up carries no files (they go with customers)
    return form


def _detail_context(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    perms = _perms(request.user)
    history_page, history = _history_entries(lead, request)
    context = {
        "lead": lead,
        "can": perms,
        "sla": sla_badge(lead),
        "fields": _detail_fields(lead, perms),
        "history": history,
        "history_page": history_page,
        "history_next_url": query_url(request, page=history_page.next_number)
        if history_page.has_next
        else "",
        "history_previous_url": query_url(request, page=history_page.previous_number)
        if history_page.has_previous
        else "",
        "disqualify_reason_label": dictionary_label(
            "lead_disqualify_reason", lead.disqualify_reason
        ),
    }
    context.update(_followups_context(request, lead, perms))
    return context


@lead_view
def lead_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "view")
    try:
        lead = lead_get(user=request.user, lead_id=pk)
    except NotFoundError:
        # A lead merged into another: its old links lead to the survivor.
        from crm.leads.merge import lead_merged_visible

        survivor = lead_merged_visible(user=request.user, lead_id=pk)
        if survivor is None:
            raise
        return redirect("leads:detail", pk=survivor.pk)
    return render_page(request, "leads/detail.html", _detail_context(request, lead))


@lead_view
@require_POST
def lead_followup_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a follow-up on the lead from its page; the first one marks it contacted."""
    from crm.activities.services import followup_create

    _require(request, "view")
    lead = lead_get(user=request.user, lead_id=pk)
    form = _followup_form(request.user, request.POST)
    form.is_valid()
    try:
        data = {**form.service_data(), "lead": lead.pk}
        if request.POST.get("plan_id"):
            data["plan_id"] = request.POST["plan_id"]
        followup_create(actor=request.user, data=data)
    except ValidationFailed as exc:
        context = _detail_context(request, lead)
        context["followup_form"] = form
        context["followup_errors"] = form.attach_errors(exc.fields)
        return render_page(request, "leads/detail.html", context, status=422)
    messages.success(request, _("Follow-up logged."))
    return redirect(reverse("leads:detail", args=[lead.pk]) + "#followups")


@lead_view
@require_POST
def lead_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    lead = lead_get(user=request.user, lead_id=pk, include_deleted=True)
    try:
        lead_delete(actor=request.user, lead=lead, version=request.POST.get("version") or None)
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        current = lead_get(user=request.user, lead_id=pk, include_deleted=True)
        if current.deleted_at is not None:
            return redirect("leads:list")
        return redirect("leads:detail", pk=lead.pk)
    messages.success(
        request,
        _(
            "%(number)s %(company)s is in the recycle bin. "
            "It can be restored there for %(days)s days."
        )
        % {"number": lead.number, "company": lead.company, "days": setting_get("recycle_bin_days")},
    )
    return redirect("leads:list")


@lead_view
@require_POST
def lead_restore_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    lead = lead_get(user=request.user, lead_id=pk, include_deleted=True)
    try:
        lead_restore(actor=request.user, lead=lead, version=request.POST.get("version") or None)
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        return redirect("leads:bin")
    messages.success(
        request,
        _("%(number)s %(company)s has been restored.")
        % {"number": lead.number, "company": lead.company},
    )
    return redirect("leads:detail", pk=lead.pk)


@lead_view
def lead_bin_view(request: HttpRequest) -> HttpResponse:
    """Deleted leads in the viewer's scope, restorable until the purge sweep."""
    _require(request, "delete")
    queryset = (
        leads_deleted_visible_to(request.user)
        .select_related("owner", "deleted_by")
        .only(
            "id",
            "number",
            "company",
            "name",
            "grade",
            "deleted_at",
            "version",
            "owner__full_name",
            "owner__username",
            "deleted_by__full_name",
            "deleted_by__username",
        )
        .order_by("-deleted_at", "-id")
    )
    context = recycle_bin_context(request, queryset, key="lead")
    return render_page(request, "leads/bin.html", context)
