"""The opportunities UI (OPP-1..5): list, kanban, forecast, the opportunity page, forms, the
recycle bin, and what the module adds to other pages (the customer page's tab, global search).

Thin views: reads through the scoped selectors, writes through the services; the services'
errors become inline form errors (422), notices (409), the 403 card or the 404 card.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.audit import audit_field_label, audit_history
from crm.core.body_limit import accepts_uploads
from crm.core.config import setting_get
from crm.core.dictionaries import dictionary_label
from crm.core.errors import ConflictError, NotFoundError, TooLargeError, ValidationFailed
from crm.core.files import attachments_create
from crm.core.pagination import PAGE_SIZE_CHOICES, page_size_choice, page_total, paginate
from crm.core.scope import user_can, users_assignable_by
from crm.customers.forms import date_input_lang
from crm.customers.selectors import CustomerFilters as _CustomerFilters
from crm.customers.selectors import customer_get, customer_list
from crm.sales.forms import LoseForm, MilestoneForm, OpportunityForm, WinForm
from crm.sales.models import Opportunity, OpportunityStatus
from crm.sales.selectors import (
    DEFAULT_SORT,
    OpportunityFilters,
    customer_opportunities,
    milestones_of,
    opportunities_deleted_visible_to,
    opportunity_forecast,
    opportunity_get,
    opportunity_kanban,
    opportunity_list,
    pipeline_summary,
    stage_history,
    stage_of,
)
from crm.sales.services import (
    milestone_create,
    opportunity_close_lost,
    opportunity_close_won,
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
    opportunity_reopen,
    opportunity_restore,
    opportunity_update,
)
from crm.sales.stages import stages_all, stages_open
from crm.web.search import SearchHit
from crm.web.tabs import record_tab, record_tabs
from crm.web.views_support import is_htmx, query_url, record_view, recycle_bin_context, render_page

MODULE = "opportunities"
TABS = ("details", "milestones", "stages", "history")
HISTORY_PAGE_SIZE = 30
KANBAN_CARDS = 20
SORTABLE = {
    # column: (ascending key, descending key, first click)
    "number": ("number", "-number", "number"),
    "name": ("name", "-name", "name"),
    "amount": ("-amount", "amount", "amount"),
    "close": ("close", "-close", "close"),
    "created": ("-created", "created", "created"),
}


def _back() -> tuple[str, str]:
    return reverse("sales:list"), _("Back to opportunities")


sales_view = record_view(back=_back)


def _require(request: HttpRequest, action: str) -> None:
    from crm.core.errors import PermissionDeniedError

    if not user_can(request.user, MODULE, action):
        raise PermissionDeniedError()


def _perms(user: Any) -> dict[str, bool]:
    return {
        action: user_can(user, MODULE, action)
        for action in ("view", "create", "edit", "delete", "transfer")
    }


def _errors_text(exc: Any) -> str:
    return " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)


def _owners(user: Any) -> list[tuple[int, str]]:
    return [
        (u.pk, u.display_name)
        for u in users_assignable_by(user, MODULE).only(
            "id", "full_name", "username", "first_name", "last_name"
        )
    ]


def _views(request: HttpRequest, current: str) -> list[dict[str, Any]]:
    """The list / kanban / forecast switcher; the list's filters travel along."""
    keep = {k: v for k, v in request.GET.items() if k in ("q", "owner_id", "owner")}
    suffix = f"?{urlencode(keep)}" if keep else ""
    return [
        {"key": key, "label": label, "url": reverse(name) + suffix, "current": key == current}
        for key, label, name in (
            ("list", _("List"), "sales:list"),
            ("kanban", _("Kanban"), "sales:kanban"),
            ("forecast", _("Forecast"), "sales:forecast"),
        )
    ]


# --- list -------------------------------------------------------------------------------------


@sales_view
def opportunity_list_view(request: HttpRequest) -> HttpResponse:
    """The opportunity list: filters, search, sortable columns, pages (never counted)."""
    _require(request, "view")
    user = request.user
    filters = OpportunityFilters.from_params(request.GET)
    size = page_size_choice(request.GET.get("page_size"), default=settings.CRM_PAGE_SIZE)
    rows = opportunity_list(user=user, filters=filters)
    page = paginate(rows, page=request.GET.get("page"), size=size)
    stages = stages_by_row(page.items)
    columns = {}
    for column, label in (
        ("number", gettext_lazy("Number")),
        ("name", gettext_lazy("Name")),
        ("amount", gettext_lazy("Amount")),
        ("close", gettext_lazy("Expected close")),
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
    filters_active = any(
        [
            filters.stage_id,
            filters.status,
            filters.owner_id,
            filters.customer_id,
            filters.expected_close_from,
            filters.expected_close_to,
            filters.amount_min is not None,
            filters.amount_max is not None,
            filters.created_from,
            filters.created_to,
        ]
    )
    context = {
        "page": page,
        "rows": [{"o": o, "stage": stages.get(o.pk)} for o in page.items],
        "filters": filters,
        "filters_active": filters_active,
        "filtered": filters_active or bool(filters.q),
        "default_sort": DEFAULT_SORT,
        "columns": columns,
        "can": _perms(user),
        "owners": _owners(user),
        "stages": stages_all(include_retired=False),
        "status_choices": OpportunityStatus.choices,
        "total": page_total(rows, page) if page.items else None,
        "page_sizes": [
            {"size": n, "url": query_url(request, page_size=n, page=None), "current": n == size}
            for n in PAGE_SIZE_CHOICES
        ],
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
        "oob": is_htmx(request),
        "page_size": size if size != settings.CRM_PAGE_SIZE else "",
        "date_lang": date_input_lang(),
        "views": _views(request, "list"),
    }
    template = "sales/list.html"
    if is_htmx(request):
        template += "#results"
    return render_page(request, template, context)


def stages_by_row(rows: list[Opportunity]) -> dict[int, Any]:
    return {o.pk: stage_of(o.stage_id) for o in rows}


# --- kanban -----------------------------------------------------------------------------------


@sales_view
def opportunity_kanban_view(request: HttpRequest) -> HttpResponse:
    """The board by stage (OPP-4): drag a card to another open column to move it (the page's
    script calls POST /api/v1/opportunities/{id}/stage and snaps a refused card back)."""
    _require(request, "view")
    user = request.user
    filters = OpportunityFilters.from_params(request.GET)
    filters.status = ""
    columns = opportunity_kanban(user=user, filters=filters, per_column=KANBAN_CARDS)
    context = {
        "columns": columns,
        "filters": filters,
        "owners": _owners(user),
        "can": _perms(user),
        "views": _views(request, "kanban"),
        "board_url": request.get_full_path(),
    }
    template = "sales/kanban.html"
    if is_htmx(request):
        template += "#board"
    return render_page(request, template, context)


# --- forecast ---------------------------------------------------------------------------------


@sales_view
def forecast_view(request: HttpRequest) -> HttpResponse:
    """Weighted amount and best case of the open opportunities in the viewer's scope, by
    expected-close month and by owner (OPP-4)."""
    _require(request, "view")
    user = request.user
    filters = OpportunityFilters.from_params(request.GET)
    months = opportunity_forecast(user=user, group="month", owner_id=filters.owner_id)
    owners = opportunity_forecast(user=user, group="owner", owner_id=filters.owner_id)
    pipeline = pipeline_summary(user=user, owner_id=filters.owner_id)
    no_date = _("No date")
    chart = {
        "type": "forecast",
        "labels": [m["month"] or no_date for m in months],
        "series": [
            {"name": _("Weighted amount"), "data": [float(m["weighted_amount"]) for m in months]},
            {"name": _("Best case"), "data": [float(m["amount"]) for m in months]},
        ],
    }
    owner_chart = {
        "type": "forecast",
        "labels": [o["owner_name"] for o in owners],
        "series": [
            {"name": _("Weighted amount"), "data": [float(o["weighted_amount"]) for o in owners]},
            {"name": _("Best case"), "data": [float(o["amount"]) for o in owners]},
        ],
    }
    context = {
        "months": months,
        "owners_rows": owners,
        "pipeline": pipeline,
        "month_chart": chart,
        "owner_chart": owner_chart,
        "totals": {
            "count": sum(m["count"] for m in months),
            "amount": sum((m["amount"] for m in months), start=0),
            "weighted_amount": sum((m["weighted_amount"] for m in months), start=0),
        },
        "filters": filters,
        "owners": _owners(user),
        "views": _views(request, "forecast"),
    }
    return render_page(request, "sales/forecast.html", context)


# --- the opportunity page ---------------------------------------------------------------------


def _field_label(name: str) -> str:

    if name == "milestones":
        return _("Milestones")
    return audit_field_label(Opportunity, name)


def _stage_path(opportunity: Opportunity) -> list[dict[str, Any]]:
    """The stages across the top: the open ones in order, then where a closed one stands."""
    current = opportunity.stage_id
    path = []
    passed = True
    for stage in stages_open():
        is_current = stage.id == current
        path.append(
            {
                "stage": stage,
                "current": is_current,
                "done": passed and not is_current and opportunity.status == "open",
                "movable": opportunity.status == "open" and not is_current,
            }
        )
        if is_current:
            passed = False
    if opportunity.status == "open" and not any(p["current"] for p in path):
        passed = False  # in a retired stage: nothing is marked as passed
    if opportunity.status != "open":
        for p in path:
            p["done"] = opportunity.status == "won"
        stage = stage_of(current)
        won_stages = [s for s in stages_all(include_retired=False) if s.kind == "won"]
        if opportunity.status == "won":
            for s in won_stages:
                path.append(
                    {
                        "stage": s,
                        "current": s.id == current,
                        "done": False,
                        "movable": s.id != current,
                    }
                )
        elif stage is not None:
            path.append({"stage": stage, "current": True, "done": False, "movable": False})
    return path


def _history_entries(entries: list[Any]) -> list[dict[str, Any]]:
    from crm.web.templatetags.crm import cny

    result = []
    for entry in entries:
        changes = []
        for change in entry.changes or []:
            name = change.get("field", "")
            before, after = change.get("before"), change.get("after")
            if name in ("amount", "actual_amount"):
                before = cny(before) if before not in (None, "") else ""
                after = cny(after) if after not in (None, "") else ""
            before = "" if before is None else str(before)
            after = "" if after is None else str(after)
            if not before and not after:
                continue
            changes.append({"label": _field_label(name), "before": before, "after": after})
        result.append({"entry": entry, "changes": changes})
    return result


def _detail_context(
    request: HttpRequest, opportunity: Opportunity, tab: str, **forms: Any
) -> dict[str, Any]:
    user = request.user
    perms = _perms(user)
    editable = perms["edit"] and opportunity.deleted_at is None
    context: dict[str, Any] = {
        "o": opportunity,
        "stage": stage_of(opportunity.stage_id),
        "tab": tab,
        "can": perms,
        "editable": editable,
        "path": _stage_path(opportunity),
        "tabs": [
            ("details", _("Details")),
            ("milestones", _("Milestones")),
            ("stages", _("Stage history")),
            *((t.code, t.label) for t in record_tabs(host="opportunity", user=user)),
            ("history", _("Change history")),
        ],
        "win_form": forms.get("win_form")
        or WinForm(initial={"actual_amount": f"{opportunity.amount:.2f}"}),
        "lose_form": forms.get("lose_form") or LoseForm(),
        "open_dialog": forms.get("open_dialog", ""),
        "dialog_errors": forms.get("dialog_errors", []),
    }
    registered = record_tab(host="opportunity", code=tab, user=user)
    if registered is not None:
        context["tab_html"] = registered.render(request, opportunity)
    if tab == "details":
        context["fields"] = _detail_fields(opportunity)
    elif tab == "milestones":
        context["milestones"] = list(milestones_of(opportunity)[:100])
        context["milestone_form"] = forms.get("milestone_form") or MilestoneForm()
    elif tab == "stages":
        changes = list(stage_history(opportunity)[:200])
        context["stage_changes"] = [
            {
                "change": c,
                "from": stage_of(c.from_stage_id),
                "to": stage_of(c.to_stage_id),
                "duration": _duration(c.seconds_in_previous) if c.from_stage_id else "",
            }
            for c in changes
        ]
    elif tab == "history":
        page = paginate(
            audit_history(opportunity), page=request.GET.get("page"), size=HISTORY_PAGE_SIZE
        )
        context["history"] = _history_entries(page.items)
        context["history_next_url"] = (
            query_url(request, tab="history", page=page.next_number) if page.has_next else ""
        )
        context["history_previous_url"] = (
            query_url(request, tab="history", page=page.previous_number)
            if page.has_previous
            else ""
        )
    return context


def _duration(seconds: int) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


def _detail_fields(o: Opportunity) -> list[dict[str, Any]]:
    from crm.web.templatetags.crm import cny, local_date

    values = [
        ("number", o.number),
        ("name", o.name),
        ("customer", o.customer.name),
        ("contact", o.contact.name if o.contact_id else ""),
        ("owner", o.owner.display_name),
        ("amount", cny(o.amount)),
        (
            "probability",
            f"{o.probability}%" + ("" if o.probability_manual else f" ({_('from the stage')})"),
        ),
        ("expected_close_date", local_date(o.expected_close_date)),
        ("source", dictionary_label("source", o.source)),
        ("competitors", o.competitors),
        ("description", o.description),
    ]
    if o.status == "won":
        values += [
            ("contract_no", o.contract_no),
            ("actual_amount", cny(o.actual_amount)),
            ("closed_on", local_date(o.closed_on)),
        ]
    elif o.status == "lost":
        values += [
            ("lost_reason", dictionary_label("opportunity_lost_reason", o.lost_reason)),
            ("lost_note", o.lost_note),
            ("closed_on", local_date(o.closed_on)),
        ]
    return [{"name": n, "label": _field_label(n), "value": v} for n, v in values]


def _detail_response(
    request: HttpRequest,
    opportunity: Opportunity,
    tab: str = "details",
    status: int = 200,
    **forms: Any,
) -> HttpResponse:
    context = _detail_context(request, opportunity, tab, **forms)
    template = "sales/detail.html"
    if is_htmx(request) and getattr(request.htmx, "target", None) == "tab-body":
        template += "#tab_body"
    return render_page(request, template, context, status=status)


@sales_view
def opportunity_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The opportunity page: the stage path, details, milestones, stage history, change
    history, and the tabs other modules add (crm.web.tabs host "opportunity")."""
    _require(request, "view")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk)
    tab = request.GET.get("tab", "details")
    if tab not in TABS and record_tab(host="opportunity", code=tab, user=request.user) is None:
        tab = "details"
    return _detail_response(request, opportunity, tab)


def _done(
    request: HttpRequest, opportunity: Opportunity, message: str, tab: str = ""
) -> HttpResponse:
    messages.success(request, message)
    url = reverse("sales:detail", args=[opportunity.pk])
    return redirect(url + (f"?tab={tab}" if tab else ""))


def _refused(request: HttpRequest, pk: int, exc: Any, tab: str = "") -> HttpResponse:
    messages.error(request, _errors_text(exc))
    return redirect(reverse("sales:detail", args=[pk]) + (f"?tab={tab}" if tab else ""))


@sales_view
@require_POST
def opportunity_stage_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A click on the stage path."""
    _require(request, "edit")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk)
    try:
        opportunity = opportunity_move_stage(
            actor=request.user,
            opportunity=opportunity,
            stage=request.POST.get("stage_id", ""),
            version=request.POST.get("version", ""),
        )
    except (ValidationFailed, ConflictError) as exc:
        return _refused(request, pk, exc)
    stage = stage_of(opportunity.stage_id)
    return _done(
        request,
        opportunity,
        _("Moved to %(stage)s.") % {"stage": stage.display_name if stage else ""},
    )


@accepts_uploads
@sales_view
@require_POST
def opportunity_win_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk)
    form = WinForm(request.POST, request.FILES)
    form.is_valid()
    contract = request.FILES.get("file")
    try:
        # Won and its contract file together, or neither (the file is stored last).
        with transaction.atomic():
            opportunity_close_won(
                actor=request.user,
                opportunity=opportunity,
                contract_no=form.cleaned_data.get("contract_no"),
                actual_amount=form.cleaned_data.get("actual_amount"),
                closed_on=form.cleaned_data.get("closed_on") or None,
                version=request.POST.get("version", ""),
            )
            if contract is not None:
                attachments_create(
                    actor=request.user,
                    object_type="opportunity",
                    object_id=opportunity.pk,
                    uploads=[contract],
                )
    except (ValidationFailed, TooLargeError) as exc:
        fields = dict(exc.fields)
        if contract is not None and "file" not in fields:
            fields["file"] = [_("Choose the file again: nothing was saved.")]
        other = form.attach_errors(fields)
        return _detail_response(
            request,
            opportunity,
            status=413 if isinstance(exc, TooLargeError) else 422,
            win_form=form,
            open_dialog="win-dialog",
            dialog_errors=other,
        )
    except ConflictError as exc:
        return _refused(request, pk, exc)
    return _done(request, opportunity, _("Won. Congratulations!"))


@sales_view
@require_POST
def opportunity_lose_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk)
    form = LoseForm(request.POST)
    form.is_valid()
    try:
        opportunity_close_lost(
            actor=request.user,
            opportunity=opportunity,
            lost_reason=form.cleaned_data.get("lost_reason"),
            lost_note=form.cleaned_data.get("lost_note"),
            version=request.POST.get("version", ""),
        )
    except ValidationFailed as exc:
        other = form.attach_errors(exc.fields)
        return _detail_response(
            request,
            opportunity,
            status=422,
            lose_form=form,
            open_dialog="lose-dialog",
            dialog_errors=other,
        )
    except ConflictError as exc:
        return _refused(request, pk, exc)
    return _done(request, opportunity, _("Closed as lost."))


@sales_view
@require_POST
def opportunity_reopen_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk)
    try:
        opportunity_reopen(
            actor=request.user, opportunity=opportunity, version=request.POST.get("version", "")
        )
    except (ValidationFailed, ConflictError) as exc:
        return _refused(request, pk, exc)
    return _done(request, opportunity, _("Reopened."))


@sales_view
@require_POST
def milestone_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk)
    form = MilestoneForm(request.POST)
    form.is_valid()
    try:
        milestone_create(
            actor=request.user,
            opportunity=opportunity,
            kind=form.cleaned_data.get("kind"),
            occurred_on=form.cleaned_data.get("occurred_on"),
            note=form.cleaned_data.get("note"),
        )
    except ValidationFailed as exc:
        form.attach_errors(exc.fields)
        return _detail_response(request, opportunity, "milestones", status=422, milestone_form=form)
    except ConflictError as exc:
        return _refused(request, pk, exc, tab="milestones")
    return _done(request, opportunity, _("Milestone added."), tab="milestones")


# --- create / edit ----------------------------------------------------------------------------


@sales_view
@require_http_methods(["GET", "POST"])
def opportunity_create_view(request: HttpRequest) -> HttpResponse:
    """New opportunity (OPP-1): from the customer page (?customer=<id>), or after choosing the
    customer here."""
    _require(request, "create")
    actor = request.user
    raw = request.POST.get("customer") or request.GET.get("customer") or ""
    customer = None
    if raw:
        try:
            customer = customer_get(user=actor, customer_id=raw)
        except NotFoundError:
            customer = None
    context: dict[str, Any] = {"mode": "create", "customer": customer, "can": _perms(actor)}
    if customer is None:
        q = str(request.GET.get("q") or "").replace("\x00", "").strip()[:100]
        choices = []
        if q:
            choices = list(
                customer_list(user=actor, filters=_CustomerFilters(q=q))
                .prefetch_related(None)
                .only("id", "number", "name", "owner__full_name", "owner__username")[:20]
            )
        context.update(q=q, customer_choices=choices)
        template = "sales/form.html"
        if is_htmx(request):
            template += "#customer_choices"
        return render_page(request, template, context)
    status = 200
    if request.method == "GET":
        form = OpportunityForm(actor=actor, customer=customer, initial={"owner": actor.pk})
    else:
        form = OpportunityForm(request.POST, actor=actor, customer=customer)
        form.is_valid()
        try:
            opportunity = opportunity_create(
                actor=actor, data={**form.service_data(), "customer_id": customer.pk}
            )
        except ValidationFailed as exc:
            context["form_errors"] = form.attach_errors(exc.fields)
            status = 422
        except ConflictError as exc:
            context["form_errors"] = [str(exc.message)]
            status = 409
        else:
            messages.success(
                request,
                _("Opportunity %(number)s %(name)s has been created.")
                % {"number": opportunity.number, "name": opportunity.name},
            )
            return redirect("sales:detail", pk=opportunity.pk)
    context["form"] = form
    return render_page(request, "sales/form.html", context, status=status)


@sales_view
@require_http_methods(["GET", "POST"])
def opportunity_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit; only the fields the user changed are sent, and a stale copy is refused (409)."""
    _require(request, "edit")
    actor = request.user
    opportunity = opportunity_get(user=actor, opportunity_id=pk)
    perms = _perms(actor)
    context: dict[str, Any] = {
        "mode": "edit",
        "o": opportunity,
        "customer": opportunity.customer,
        "can": perms,
    }
    initial = OpportunityForm.initial_from(opportunity)
    version: Any = opportunity.version
    status = 200

    def form_for(data: Any = None) -> OpportunityForm:
        return OpportunityForm(
            data,
            actor=actor,
            customer=opportunity.customer,
            opportunity=opportunity,
            can_transfer=perms["transfer"],
            initial=initial,
        )

    if request.method == "GET":
        form = form_for()
    else:
        form = form_for(request.POST)
        form.is_valid()
        version = request.POST.get("version", "")
        data = form.service_data()
        opened = {
            "contact_id": initial["contact"],
            "owner_id": initial["owner"],
            **{k: v for k, v in initial.items() if k not in ("contact", "owner")},
        }
        changed = {
            k: v
            for k, v in data.items()
            if str(v if v is not None else "") != str(opened.get(k, ""))
        }
        try:
            opportunity_update(actor=actor, opportunity=opportunity, data=changed, version=version)
        except ValidationFailed as exc:
            context["form_errors"] = form.attach_errors(exc.fields)
            status = 422
        except ConflictError as exc:
            context["form_errors"] = [str(exc.message)]
            context["conflict"] = True
            status = 409
        else:
            if not changed:
                messages.info(request, _("Nothing was changed."))
            else:
                messages.success(request, _("Your changes have been saved."))
            return redirect("sales:detail", pk=opportunity.pk)
    context.update(form=form, version=version)
    return render_page(request, "sales/form.html", context, status=status)


# --- recycle bin ------------------------------------------------------------------------------


@sales_view
@require_POST
def opportunity_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk, include_deleted=True)
    try:
        opportunity_delete(
            actor=request.user, opportunity=opportunity, version=request.POST.get("version") or None
        )
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, _errors_text(exc))
        if opportunity.deleted_at is not None:
            return redirect("sales:list")
        return redirect("sales:detail", pk=pk)
    messages.success(
        request,
        _("%(number)s %(name)s is in the recycle bin. It can be restored there for %(days)s days.")
        % {
            "number": opportunity.number,
            "name": opportunity.name,
            "days": setting_get("recycle_bin_days"),
        },
    )
    return redirect("sales:list")


@sales_view
@require_POST
def opportunity_restore_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    opportunity = opportunity_get(user=request.user, opportunity_id=pk, include_deleted=True)
    try:
        opportunity_restore(
            actor=request.user, opportunity=opportunity, version=request.POST.get("version") or None
        )
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, _errors_text(exc))
        return redirect("sales:recycle_bin")
    messages.success(
        request,
        _("%(number)s %(name)s has been restored.")
        % {"number": opportunity.number, "name": opportunity.name},
    )
    return redirect("sales:detail", pk=pk)


@sales_view
def recycle_bin_view(request: HttpRequest) -> HttpResponse:
    _require(request, "delete")
    queryset = (
        opportunities_deleted_visible_to(request.user)
        .select_related("customer", "owner", "deleted_by")
        .order_by("-deleted_at", "-id")
    )
    context = recycle_bin_context(request, queryset, key="o")
    return render_page(request, "sales/recycle_bin.html", context)


# --- on other modules' pages --------------------------------------------------------------------


def customer_opportunities_tab(request: HttpRequest, customer: Any) -> str:
    """The customer page's "Opportunities" tab (crm.web.tabs, host "customer")."""
    summary = customer_opportunities(user=request.user, customer_id=customer.pk)
    rows = [{"o": o, "stage": stage_of(o.stage_id)} for o in summary["rows"]]
    return render_to_string(
        "sales/_customer_tab.html",
        {
            "customer": customer,
            "summary": summary,
            "rows": rows,
            "can_create": user_can(request.user, MODULE, "create") and customer.deleted_at is None,
        },
        request=request,
    )


def opportunities_search(*, user: Any, q: str, limit: int) -> list[SearchHit]:
    """Global search (crm.web.search): number, name, customer name, pinyin initials."""
    hits = []
    for o in opportunity_list(user=user, filters=OpportunityFilters(q=q))[:limit]:
        stage = stage_of(o.stage_id)
        hits.append(
            SearchHit(
                title=o.name,
                url=reverse("sales:detail", args=[o.pk]),
                subtitle=f"{o.number} · {o.customer.name} · {o.owner.display_name}",
                badges=tuple(b for b in (stage.display_name if stage else "",) if b),
            )
        )
    return hits


def opportunities_search_more(q: str) -> str:
    return reverse("sales:list") + "?" + urlencode({"q": q})
