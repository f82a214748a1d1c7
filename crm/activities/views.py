"""The follow-up log's web UI (FUP-1, FUP-2): the log form, a follow-up's page, "my
follow-ups", the recycle bin, and the follow-ups tabs of the customer and opportunity pages.

Views are thin: reads through the scoped selectors, writes through the services; the services'
errors become inline form errors (422), a conflict notice (409), the 403 card (missing
permission) or the 404 card (outside the data scope).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.activities.forms import FollowUpForm
from crm.activities.models import FollowUp
from crm.activities.selectors import (
    FollowUpFilters,
    followup_get,
    followup_list,
    followups_deleted_visible_to,
    opportunity_visible,
    plan_counts,
    plans_for,
    recent_for,
)
from crm.activities.services import (
    followup_can_edit,
    followup_can_plan_done,
    followup_create,
    followup_delete,
    followup_plan_done,
    followup_restore,
    followup_update,
)
from crm.core.audit import audit_field_label, audit_history
from crm.core.body_limit import accepts_uploads
from crm.core.config import setting_get
from crm.core.customfields_filters import custom_filters_apply, custom_filters_parse
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.errors import (
    ConflictError,
    PermissionDeniedError,
    TooLargeError,
    ValidationFailed,
)
from crm.core.files import attachments_create
from crm.core.pagination import paginate
from crm.core.scope import subordinate_ids, user_can, users_assignable_by
from crm.customers.selectors import CustomerFilters, customer_get, customer_list
from crm.web.views_support import is_htmx, query_url, record_view, recycle_bin_context, render_page

MODULE = "followups"
TAB_PAGE_SIZE = 10
MINE_TABS = ("today", "overdue", "week", "recent")
CHOOSER_SIZE = 10
ORIGINAL_SALT = "crm.activities.edit.original"


def _back_to_mine() -> tuple[str, str]:
    return reverse("activities:mine"), _("Back to my follow-ups")


followup_view = record_view(back=_back_to_mine)


def _require(request: HttpRequest, action: str) -> None:
    if not user_can(request.user, MODULE, action):
        raise PermissionDeniedError()


def _perms(user: Any) -> dict[str, bool]:
    return {a: user_can(user, MODULE, a) for a in ("view", "create", "edit", "delete")}


def _safe_next(request: HttpRequest, value: str) -> str:
    if (
        value
        and value.startswith("/")
        and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()})
    ):
        return value
    return ""


def _customer_page(customer_id: int) -> str:
    return reverse("customers:detail", args=[customer_id]) + "?tab=followups"


def _record_page(followup: FollowUp) -> str:
    """The page of what the follow-up hangs on: its customer's tab, or its lead's page."""
    if followup.customer_id is None and followup.lead_id is not None:
        return reverse("leads:detail", args=[followup.lead_id]) + "#followups"
    return _customer_page(followup.customer_id)


# --- the log form ---------------------------------------------------------------------------


def _chooser(request: HttpRequest) -> HttpResponse:
    """No customer given: find one (within the viewer's customers scope) to log against."""
    query = str(request.GET.get("q") or "").replace("\x00", "").strip()[:100]
    rows = customer_list(user=request.user, filters=CustomerFilters(q=query))
    found = list(
        rows.only("id", "number", "name", "grade", "owner__full_name", "owner__username")[
            :CHOOSER_SIZE
        ]
    )
    context = {
        "query": query,
        "found": found,
        "next": _safe_next(request, request.GET.get("next", "")),
    }
    return render_page(request, "activities/choose_customer.html", context)


@accepts_uploads
@followup_view
@require_http_methods(["GET", "POST"])
def followup_create_view(request: HttpRequest) -> HttpResponse:
    """Log a follow-up: /followups/new/?customer=<id>&opportunity=<id>&plan=<id>."""
    _require(request, "create")
    actor = request.user
    params = request.POST if request.method == "POST" else request.GET
    plan = None
    plan_id = str(params.get("plan") or "").strip()
    plan_closed = False
    if plan_id:
        plan = followup_get(user=actor, followup_id=plan_id)
        if plan.customer_id is None:
            # A plan on a lead: its follow-up is logged on the lead's page (issue 7 §1).
            return redirect(
                reverse("leads:detail", args=[plan.lead_id]) + f"?plan={plan.pk}#followups"
            )
        customer = customer_get(user=actor, customer_id=plan.customer_id)
        if plan.next_at is None or plan.next_done_at is not None:
            # Done already (a second tab, a colleague): log without it, and say so.
            plan, plan_closed = None, True
    elif params.get("customer"):
        customer = customer_get(user=actor, customer_id=params.get("customer"))
    else:
        return _chooser(request)
    back = _safe_next(request, str(params.get("next") or "")) or _customer_page(customer.pk)
    status = 200
    context: dict[str, Any] = {
        "mode": "create",
        "customer": customer,
        "plan": plan,
        "plan_closed": plan_closed,
        "next": back,
    }
    if request.method == "GET":
        initial: dict[str, Any] = {
            "author": actor.pk,
            "occurred_at": timezone.localtime(
                timezone.now(), timezone.get_default_timezone()
            ).strftime("%Y-%m-%dT%H:%M"),
            "opportunity": str(request.GET.get("opportunity") or ""),
            # The first method of the list (电话 as seeded): most follow-ups are calls.
            "method": next(iter(dictionary_choices("followup_method")), ("", ""))[0],
        }
        if plan is not None:
            initial.update(
                method=plan.next_method,
                opportunity=plan.opportunity_id or "",
                contact=plan.contact_id or "",
                author=plan.author_id,
            )
        form = FollowUpForm(actor=actor, customer=customer, initial=initial)
    else:
        form = FollowUpForm(request.POST, request.FILES, actor=actor, customer=customer)
        form.is_valid()
        data = {**form.service_data(), "customer": customer.pk}
        if plan is not None:
            data["plan_id"] = plan.pk
        uploads = form.uploads()
        try:
            # The entry and its files together, or neither (files are stored last: a stored
            # file cannot be rolled back).
            with transaction.atomic():
                followup = followup_create(actor=actor, data=data)
                if uploads:
                    attachments_create(
                        actor=actor, object_type="followup", object_id=followup.pk, uploads=uploads
                    )
        except (ValidationFailed, TooLargeError) as exc:
            fields = dict(exc.fields)
            if uploads and "file" not in fields:
                fields["file"] = [_("Choose the files again: nothing was saved.")]
            context["form_errors"] = form.attach_errors(fields)
            status = 413 if isinstance(exc, TooLargeError) else 422
        else:
            messages.success(
                request, _("Follow-up with %(name)s logged.") % {"name": customer.name}
            )
            return redirect(back)
    context["form"] = form
    return render_page(request, "activities/form.html", context, status=status)


def _original_load(token: str) -> dict[str, Any] | None:
    try:
        value = signing.loads(token, salt=ORIGINAL_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, dict) else None


def _same(a: Any, b: Any) -> bool:
    return str(a if a is not None else "") == str(b if b is not None else "")


@followup_view
@require_http_methods(["GET", "POST"])
def followup_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a follow-up (the 24-hour rule). Only the fields the user changed are sent; an
    edit from a stale copy is refused (409) with who changed it, the input is kept, and
    saving again applies it onto the current version."""
    actor = request.user
    followup = followup_get(user=actor, followup_id=pk)
    if not followup_can_edit(actor, followup):
        raise PermissionDeniedError(
            _(
                "Follow-ups can be changed by their author for 24 hours after they were "
                "logged; after that only a manager can change them."
            )
        )
    # A follow-up on a lead (issue 7 §1) has no customer: no contacts or opportunities.
    customer = (
        customer_get(user=actor, customer_id=followup.customer_id)
        if followup.customer_id is not None
        else None
    )
    original = FollowUpForm.initial_from(followup)
    version: Any = followup.version
    context: dict[str, Any] = {"mode": "edit", "customer": customer, "followup": followup}
    status = 200
    if request.method == "GET":
        form = FollowUpForm(actor=actor, customer=customer, followup=followup, initial=original)
    else:
        form = FollowUpForm(request.POST, actor=actor, customer=customer, followup=followup)
        form.is_valid()
        version = request.POST.get("version", "")
        opened_with = _original_load(request.POST.get("original", ""))
        data = form.service_data()
        if opened_with is not None:
            data = {k: v for k, v in data.items() if not _same(v, opened_with.get(k))}
        try:
            updated = followup_update(actor=actor, followup=followup, data=data, version=version)
        except ValidationFailed as exc:
            context["form_errors"] = form.attach_errors(exc.fields)
            original = opened_with or original
            status = 422
        except ConflictError as exc:
            current = followup_get(user=actor, followup_id=pk)
            context["conflict"] = str(exc.message)
            context["followup"] = current
            original = FollowUpForm.initial_from(current)
            # The form now shows the current record with the user's own changes on top, so
            # saving again applies exactly those onto the current version.
            merged = {**original, **{k: v for k, v in form.service_data().items() if k in data}}
            form = FollowUpForm(merged, actor=actor, customer=customer, followup=current)
            form.is_valid()
            version = current.version
            status = 409
        else:
            if str(updated.version) == str(version):
                messages.info(request, _("Nothing was changed."))
            else:
                messages.success(request, _("Your changes have been saved."))
            return redirect("activities:detail", pk=followup.pk)
    context.update(form=form, version=version, original=signing.dumps(original, salt=ORIGINAL_SALT))
    return render_page(request, "activities/form.html", context, status=status)


# --- one follow-up --------------------------------------------------------------------------


def _history_value(name: str, value: Any) -> str:
    """An audited value as a person reads it: times local, codes by their label."""
    if value is None or value == "":
        return ""
    if name in ("occurred_at", "next_at", "next_done_at"):
        try:
            return f"{timezone.localtime(dt.datetime.fromisoformat(str(value))):%Y-%m-%d %H:%M}"
        except ValueError:
            return str(value)
    if name in ("method", "next_method"):
        return dictionary_label("followup_method", str(value)) or str(value)
    return str(value)


def _history(followup: FollowUp) -> list[dict[str, Any]]:
    labels = {f.name: f.verbose_name for f in FollowUp._meta.fields}
    result = []
    for entry in audit_history(followup)[:50]:
        changes = []
        for change in entry.changes or []:
            if not isinstance(change, dict):
                continue
            name = str(change.get("field", ""))
            before = _history_value(name, change.get("before"))
            after = _history_value(name, change.get("after"))
            if before or after:
                label = labels.get(name) or audit_field_label(FollowUp, name)
                changes.append({"label": label, "before": before, "after": after})
        result.append({"entry": entry, "changes": changes})
    return result


@followup_view
def followup_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "view")
    user = request.user
    followup = followup_get(user=user, followup_id=pk)
    now = timezone.now()
    context = {
        "followup": followup,
        "can": _perms(user),
        "can_edit": followup_can_edit(user, followup, now=now),
        "can_plan_done": followup_can_plan_done(user, followup),
        "plan_open": followup.next_at is not None and followup.next_done_at is None,
        "overdue": followup.next_at is not None and followup.next_at < now,
        "history": _history(followup),
        "edit_until": followup.created_at + dt.timedelta(hours=24),
    }
    return render_page(request, "activities/detail.html", context)


@followup_view
@require_POST
def followup_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    followup = followup_get(user=request.user, followup_id=pk, include_deleted=True)
    back = _safe_next(request, request.POST.get("next", "")) or _record_page(followup)
    try:
        followup_delete(
            actor=request.user, followup=followup, version=request.POST.get("version") or None
        )
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        return redirect(back)
    messages.success(
        request,
        _("The follow-up is in the recycle bin. It can be restored there for %(days)s days.")
        % {"days": setting_get("recycle_bin_days")},
    )
    return redirect(back)


@followup_view
@require_POST
def followup_restore_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    followup = followup_get(user=request.user, followup_id=pk, include_deleted=True)
    try:
        followup_restore(
            actor=request.user, followup=followup, version=request.POST.get("version") or None
        )
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        return redirect("activities:recycle_bin")
    messages.success(request, _("The follow-up has been restored."))
    return redirect("activities:detail", pk=followup.pk)


@followup_view
@require_POST
def followup_plan_done_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a plan without logging a follow-up for it."""
    if not (user_can(request.user, MODULE, "edit") or user_can(request.user, MODULE, "create")):
        raise PermissionDeniedError()
    followup = followup_get(user=request.user, followup_id=pk)
    back = _safe_next(request, request.POST.get("next", "")) or reverse("activities:mine")
    try:
        followup_plan_done(
            actor=request.user, followup=followup, version=request.POST.get("version") or None
        )
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        return redirect(back)
    messages.success(request, _("The planned follow-up is closed."))
    return redirect(back)


# --- my follow-ups --------------------------------------------------------------------------


@followup_view
def followups_mine_view(request: HttpRequest) -> HttpResponse:
    """My follow-ups: open plans due today, overdue, this week, and what I logged recently;
    a manager can look at a subordinate's."""
    _require(request, "view")
    user = request.user
    tab = request.GET.get("tab", "today")
    if tab not in MINE_TABS:
        tab = "today"
    team = [
        (u.pk, u.display_name)
        for u in users_assignable_by(user, MODULE)
        .filter(pk__in=[user.pk, *sorted(subordinate_ids(user))])
        .only("id", "full_name", "username", "first_name", "last_name")
    ]
    author_id = FollowUpFilters.from_params(request.GET).author_id
    if author_id not in {pk for pk, _n in team}:
        author_id = None
    now = timezone.now()
    if tab == "recent":
        rows = recent_for(user=user, author_id=author_id)
    else:
        rows = plans_for(user=user, which=tab, author_id=author_id, now=now)
    custom = custom_filters_parse(MODULE, request.GET)  # cf_<key>=... (list columns)
    if custom:
        rows = custom_filters_apply(rows, custom)
    page = paginate(rows, page=request.GET.get("page"), size=settings.CRM_PAGE_SIZE)
    counts = plan_counts(user=user, author_id=author_id, now=now)
    labels = {
        "today": _("Today"),
        "overdue": _("Overdue"),
        "week": _("This week"),
        "recent": _("Logged recently"),
    }
    context = {
        "tab": tab,
        "tabs": [
            {
                "key": key,
                "label": labels[key],
                "count": counts.get(key),
                "url": query_url(request, tab=key, page=None),
            }
            for key in MINE_TABS
        ],
        "page": page,
        "now": now,
        "team": team if len(team) > 1 else [],
        "author_id": author_id,
        "can": _perms(user),
        "here": request.get_full_path(),
        "previous_url": query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": query_url(request, page=page.next_number) if page.has_next else "",
    }
    template = "activities/mine.html"
    if is_htmx(request) and request.htmx.target == "mine-body":
        template += "#mine_body"
    return render_page(request, template, context)


@followup_view
def followups_recycle_bin_view(request: HttpRequest) -> HttpResponse:
    _require(request, "delete")
    rows = (
        followups_deleted_visible_to(request.user)
        .select_related("customer", "lead", "author", "deleted_by")
        .order_by("-deleted_at", "-id")
    )
    context = recycle_bin_context(request, rows, key="followup")
    return render_page(request, "activities/recycle_bin.html", context)


# --- tabs on the customer and opportunity pages (crm.web.tabs) ------------------------------


def _tab_context(
    request: HttpRequest, *, rows: Any, page_url: str, new_url: str, here: str
) -> dict[str, Any]:
    page = paginate(rows, page=request.GET.get("page"), size=TAB_PAGE_SIZE)

    def url(number: int | None) -> str:
        return f"{page_url}?page={number}" if number else ""

    return {
        "page": page,
        "now": timezone.now(),
        "can": _perms(request.user),
        "new_url": new_url,
        "page_url": page_url,
        "here": here,
        "previous_url": url(page.previous_number) if page.has_previous else "",
        "next_url": url(page.next_number) if page.has_next else "",
    }


def _customer_tab_context(request: HttpRequest, customer: Any) -> dict[str, Any]:
    rows = followup_list(user=request.user, filters=FollowUpFilters(customer_id=customer.pk))
    here = _customer_page(customer.pk)
    new_url = reverse("activities:create") + f"?customer={customer.pk}&next={here}"
    return {
        **_tab_context(
            request,
            rows=rows,
            page_url=reverse("activities:customer_tab", args=[customer.pk]),
            new_url=new_url,
            here=here,
        ),
        "host": "customer",
        "record": customer,
    }


def followups_customer_tab(request: HttpRequest, customer: Any) -> str:
    """The customer page's follow-ups tab (crm.web.tabs: host "customer", code "followups")."""
    return render_to_string(
        "activities/_tab.html", _customer_tab_context(request, customer), request=request
    )


def _opportunity_page(opportunity: Any) -> str:
    try:
        return reverse("sales:detail", args=[opportunity.pk]) + "?tab=followups"
    except NoReverseMatch:  # before the opportunity pages exist: the customer's tab
        return _customer_page(opportunity.customer_id)


def _opportunity_tab_context(request: HttpRequest, opportunity: Any) -> dict[str, Any]:
    rows = followup_list(user=request.user, filters=FollowUpFilters(opportunity_id=opportunity.pk))
    here = _opportunity_page(opportunity)
    new_url = (
        reverse("activities:create")
        + f"?customer={opportunity.customer_id}&opportunity={opportunity.pk}&next={here}"
    )
    return {
        **_tab_context(
            request,
            rows=rows,
            page_url=reverse("activities:opportunity_tab", args=[opportunity.pk]),
            new_url=new_url,
            here=here,
        ),
        "host": "opportunity",
        "record": opportunity,
    }


def followups_opportunity_tab(request: HttpRequest, opportunity: Any) -> str:
    """The opportunity page's follow-ups tab (host "opportunity", code "followups")."""
    return render_to_string(
        "activities/_tab.html", _opportunity_tab_context(request, opportunity), request=request
    )


def _tab_response(request: HttpRequest, context: dict[str, Any], fallback: str) -> HttpResponse:
    if not is_htmx(request):
        page = request.GET.get("page")
        return redirect(fallback + (f"&page={page}" if page else ""))
    return render_page(request, "activities/_tab.html#followups_tab", context)


@followup_view
def followups_customer_tab_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer tab's pages (HTMX); a plain request goes to the customer page's tab."""
    _require(request, "view")
    customer = customer_get(user=request.user, customer_id=pk)
    return _tab_response(
        request, _customer_tab_context(request, customer), _customer_page(customer.pk)
    )


@followup_view
def followups_opportunity_tab_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "view")
    opportunity = opportunity_visible(user=request.user, opportunity_id=pk)
    return _tab_response(
        request, _opportunity_tab_context(request, opportunity), _opportunity_page(opportunity)
    )
