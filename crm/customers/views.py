"""The customer archive's web UI (CUS-1..7, CUS-11 so far, SYS-5).

Views are thin: they read through the scoped selectors, write through the services and turn
the services' errors into inline form errors (422), duplicate/conflict notices (409), a
friendly 403 page (missing function permission) or 404 (record outside the data scope).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from crm.core.audit import audit_field_label, audit_history
from crm.core.config import setting_get
from crm.core.customfields_forms import custom_data_fold, custom_same
from crm.core.dictionaries import dictionary_choices, dictionary_label
from crm.core.errors import (
    ConflictError,
    DuplicateError,
    DuplicateWarning,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailed,
)
from crm.core.masking import (
    contact_details_shown,
    contact_reveal_offered,
    mask_email,
    mask_phone,
)
from crm.core.models import Attachment, AuditEntry
from crm.core.pagination import PAGE_SIZE_CHOICES, page_size_choice, page_total, paginate
from crm.core.scope import user_can, users_assignable_by, users_who_can_own
from crm.core.timeline import timeline_for_customer, timeline_kinds_clean, timeline_kinds_for
from crm.customers.forms import (
    ContactForm,
    ContactRows,
    CustomerForm,
    TransferForm,
    date_input_lang,
)
from crm.customers.merge import customer_merged_visible
from crm.customers.models import Contact, Customer, CustomerType, Grade
from crm.customers.pool import pool_customers, pool_visible
from crm.customers.pool_views import release_context
from crm.customers.selectors import (
    DEFAULT_SORT,
    CustomerFilters,
    contact_get,
    customer_get,
    customer_list,
    customers_deleted_visible_to,
)
from crm.customers.services import (
    BULK_ACTIONS,
    contact_create,
    contact_delete,
    contact_update,
    customer_create,
    customer_delete,
    customer_restore,
    customer_transfer,
    customer_update,
    customers_bulk_delete,
    customers_bulk_grade_set,
    customers_bulk_summary,
    customers_bulk_transfer,
)
from crm.web.tabs import record_tab, record_tabs
from crm.web.views_support import (
    error_page,
    is_htmx,
    query_url,
    record_view,
    recycle_bin_context,
    render_page,
)

MODULE = "customers"
VARY = ("HX-Request",)
TABS = ("details", "timeline", "contacts", "history")
HISTORY_PAGE_SIZE = 30
TIMELINE_PAGE_SIZE = 30
RECENT_LINES = 5  # the newest timeline lines beside the details
# The page a timeline line links to, by its object type (URL name taking the id); a module
# whose page is not (yet) there simply gets no link.
TIMELINE_OBJECT_URLS = {
    "opportunity": "sales:detail",
    "followup": "activities:detail",
    "lead": "leads:detail",  # "converted from lead ..." (LEAD-4)
}
LAST_CHANGES_SCANNED = 200  # newest audit entries read for the "last changed" notes (CUS-7)
# Columns that sort: (column, ascending key, descending key, key of the first click).
SORTABLE = {
    "number": ("number", "-number", "number"),
    "name": ("name", "-name", "name"),
    "grade": ("grade", "-grade", "grade"),
    "created": ("-created", "created", "created"),
}
MASKED_FIELDS = {
    "phone": "phone",
    "email": "email",
    "contact.phone": "phone",
    "contact.email": "email",
}


# --- plumbing -------------------------------------------------------------------------------


def _back_to_customers() -> tuple[str, str]:
    return reverse("customers:list"), _("Back to customers")


customer_view = record_view(back=_back_to_customers)
_render = render_page
_is_htmx = is_htmx


def _error_page(request: HttpRequest, status: int, exc: Exception) -> HttpResponse:
    url, label = _back_to_customers()
    return error_page(request, status, exc, back_url=url, back_label=label)


def _require(request: HttpRequest, action: str) -> None:
    if not user_can(request.user, MODULE, action):
        raise PermissionDeniedError()


def _perms(user: Any) -> dict[str, bool]:
    """The actions the page offers. `view_contact` means "shown in clear here": off while
    reveal on demand is on (crm.core.masking), when `reveal` offers the click instead."""
    perms = {
        action: user_can(user, MODULE, action)
        for action in ("view", "create", "edit", "delete", "transfer")
    }
    perms["view_contact"] = contact_details_shown(user)
    perms["reveal"] = contact_reveal_offered(user)
    # Data-subject requests (export, anonymise) are for administrators (crm.privacy).
    perms["privacy"] = user_can(user, "settings", "configure")
    return perms


_query_url = query_url


# --- list -----------------------------------------------------------------------------------


@customer_view
def customer_list_view(request: HttpRequest) -> HttpResponse:
    """The customer list: filters, search, sortable columns, pages (never counted)."""
    _require(request, "view")
    user = request.user
    filters = CustomerFilters.from_params(request.GET)
    size = page_size_choice(request.GET.get("page_size"), default=settings.CRM_PAGE_SIZE)
    rows = customer_list(user=user, filters=filters)
    page = paginate(rows, page=request.GET.get("page"), size=size)
    perms = _perms(user)
    owners = [
        (u.pk, u.display_name)
        for u in users_assignable_by(user, MODULE).only("id", "full_name", "username")
    ]
    filters_active = any(
        [
            filters.type,
            filters.industry,
            filters.grade,
            filters.source,
            filters.status,
            filters.owner_id,
            filters.created_from,
            filters.created_to,
            filters.overdue,
            filters.dormant,
        ]
    )
    filtered = filters_active or bool(filters.q)
    columns = []
    for column, label in (
        ("number", gettext_lazy("Number")),
        ("name", gettext_lazy("Name")),
        ("grade", gettext_lazy("Grade")),
        ("created", gettext_lazy("Created")),
    ):
        ascending, descending, first = SORTABLE[column]
        state = "asc" if filters.sort == ascending else "desc" if filters.sort == descending else ""
        if state == "asc":
            target = descending
        elif state == "desc":
            target = ascending
        else:
            target = first
        columns.append(
            {
                "key": column,
                "label": label,
                "state": state,
                "url": _query_url(request, sort=target, page=None),
            }
        )
    context = {
        "page": page,
        "filters": filters,
        "filtered": filtered,
        "filters_active": filters_active,
        "default_sort": DEFAULT_SORT,
        "columns": {c["key"]: c for c in columns},
        "can": perms,
        "owners": owners,
        "total": page_total(rows, page) if page.items else None,
        "page_sizes": [
            {"size": n, "url": _query_url(request, page_size=n, page=None), "current": n == size}
            for n in PAGE_SIZE_CHOICES
        ],
        "bulk": _bulk_context(request, perms) if page.items else None,
        "type_choices": CustomerType.choices,
        "grade_choices": Grade.choices,
        "industry_choices": dictionary_choices("industry"),
        "source_choices": dictionary_choices("source"),
        "status_choices": dictionary_choices("customer_status"),
        "previous_url": _query_url(request, page=page.previous_number) if page.has_previous else "",
        "next_url": _query_url(request, page=page.next_number) if page.has_next else "",
        "oob": _is_htmx(request),
        "page_size": size if size != settings.CRM_PAGE_SIZE else "",
        "date_lang": date_input_lang(),
    }
    template = "customers/list.html"
    if _is_htmx(request):
        template += "#results"
    return _render(request, template, context)


def _bulk_context(request: HttpRequest, perms: dict[str, bool]) -> dict[str, Any] | None:
    """The bulk actions the viewer may use on a selection (none: no selection boxes)."""
    if not (perms["transfer"] or perms["edit"] or perms["delete"]):
        return None
    owners = []
    if perms["transfer"]:
        owners = [
            (u.pk, u.display_name)
            for u in users_who_can_own(actor=request.user, module=MODULE).only(
                "id", "full_name", "username"
            )
        ]
    return {
        "owners": owners,
        "grades": Grade.choices,
        "next": request.get_full_path(),
    }


@customer_view
@require_POST
def customers_bulk_view(request: HttpRequest) -> HttpResponse:
    """A bulk action on the customers selected in the list; back to the same list page with a
    summary of what was done and what was left alone."""
    _require(request, "view")
    action = request.POST.get("action", "")
    back = request.POST.get("next", "")
    if not back.startswith(reverse("customers:list")) or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        back = reverse("customers:list")
    if action not in BULK_ACTIONS:
        messages.error(request, _("Choose what to do with the selected customers."))
        return redirect(back)
    _require(request, BULK_ACTIONS[action])
    ids = request.POST.getlist("ids")
    try:
        if action == "transfer":
            owner = request.POST.get("to_user", "")
            result = customers_bulk_transfer(
                actor=request.user,
                ids=ids,
                to_user=int(owner) if owner.isascii() and owner.isdigit() else None,
            )
        elif action == "grade":
            result = customers_bulk_grade_set(
                actor=request.user, ids=ids, grade=request.POST.get("grade", "")
            )
        else:
            result = customers_bulk_delete(actor=request.user, ids=ids)
    except ValidationFailed as exc:
        messages.error(request, " ".join(str(m) for msgs in exc.fields.values() for m in msgs))
        return redirect(back)
    summary = customers_bulk_summary(action=action, result=result)
    messages.success(request, summary)
    return redirect(back)


# --- create / edit --------------------------------------------------------------------------


def _duplicate_context(exc: DuplicateError | DuplicateWarning) -> dict[str, Any]:
    if isinstance(exc, DuplicateWarning):
        return {
            "duplicate_warnings": _with_labels(exc.extra.get("warnings", [])),
            "warning_fields": exc.fields,
        }
    return {
        "duplicate": exc.extra.get("existing"),
        "duplicate_matches": _with_labels(exc.extra.get("matches", [])),
        "duplicate_message": " ".join(str(m) for msgs in exc.fields.values() for m in msgs),
    }


def _with_labels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "field_label": _field_label(item.get("field", ""))} for item in items]


@customer_view
@require_http_methods(["GET", "POST"])
def customer_create_view(request: HttpRequest) -> HttpResponse:
    """New customer with its contacts (CUS-1..6)."""
    _require(request, "create")
    actor = request.user
    can_view_contact = contact_details_shown(actor)
    context: dict[str, Any] = {"mode": "create", "can": _perms(actor)}
    status = 200
    if request.method == "GET":
        form = CustomerForm(
            actor=actor,
            initial={
                "type": CustomerType.ENTERPRISE,
                "grade": Grade.C,
                "owner": actor.pk,
                "status": "potential",
            },
            can_view_contact=can_view_contact,
        )
        contacts = ContactRows.blank()
    else:
        form = CustomerForm(request.POST, actor=actor, can_view_contact=can_view_contact)
        contacts = ContactRows.from_post(request.POST)
        form.is_valid()  # lenient fields: only strips; the service judges the values
        if "_add_contact" in request.POST:
            contacts.add_blank()
        elif "_remove_contact" in request.POST:
            contacts.remove(request.POST["_remove_contact"])
        else:
            try:
                customer = customer_create(
                    actor=actor,
                    data=custom_data_fold(form.service_data()),
                    contacts=contacts.service_data(),
                    confirm_duplicates=request.POST.get("confirm_duplicates") == "1",
                )
            except ValidationFailed as exc:
                context["form_errors"] = form.attach_errors(exc.fields)
                contacts.attach_errors(exc.fields)
                status = 422
            except (DuplicateError, DuplicateWarning) as exc:
                context.update(_duplicate_context(exc))
                if isinstance(exc, DuplicateError):
                    form.attach_errors(exc.fields)
                status = 409
            else:
                messages.success(
                    request,
                    _("Customer %(number)s %(name)s has been created.")
                    % {"number": customer.number, "name": customer.name},
                )
                return redirect("customers:detail", pk=customer.pk)
        if not contacts.rows:
            contacts.add_blank()
    blank_row = {name: "" for name in ("name", "title", "phone", "email", "notes")}
    blank_row.update(index="__prefix__", is_primary=False, errors={})
    context.update(form=form, contacts=contacts, blank_row=blank_row)
    return _render(request, "customers/form.html", context, status=status)


ORIGINAL_SALT = "crm.customers.edit.original"


def _original_load(token: str) -> dict[str, Any] | None:
    """The values the edit form was opened with (signed, so they cannot be forged)."""
    try:
        value = signing.loads(token, salt=ORIGINAL_SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, dict) else None


def _same(a: Any, b: Any) -> bool:
    return str(a if a is not None else "") == str(b if b is not None else "")


@customer_view
@require_http_methods(["GET", "POST"])
def customer_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a customer. Only the fields the user changed are sent, so an edit never reverts
    someone else's change; an edit made from a stale copy is refused (409) with who changed
    what, the user's input is kept, and saving again applies it onto the current version."""
    _require(request, "edit")
    actor = request.user
    customer = customer_get(user=actor, customer_id=pk)
    perms = _perms(actor)
    context: dict[str, Any] = {"mode": "edit", "customer": customer, "can": perms}
    status = 200

    def form_for(current: Customer, data: Any = None) -> CustomerForm:
        return CustomerForm(
            data,
            actor=actor,
            customer=current,
            can_transfer=perms["transfer"],
            can_view_contact=perms["view_contact"],
            initial=CustomerForm.initial_from(current, can_view_contact=perms["view_contact"]),
        )

    original = CustomerForm.initial_from(customer, can_view_contact=perms["view_contact"])
    version: Any = customer.version
    if request.method == "GET":
        form = form_for(customer)
    else:
        form = form_for(customer, request.POST)
        form.is_valid()
        version = request.POST.get("version", "")
        opened_with = _original_load(request.POST.get("original", ""))
        data = form.service_data()
        if opened_with is not None:
            data = {k: v for k, v in data.items() if not custom_same(v, opened_with.get(k))}
        try:
            customer = customer_update(
                actor=actor,
                customer=customer,
                data=custom_data_fold(data),
                version=version,
                confirm_duplicates=request.POST.get("confirm_duplicates") == "1",
            )
        except ValidationFailed as exc:
            context["form_errors"] = form.attach_errors(exc.fields)
            original = opened_with or original
            status = 422
        except (DuplicateError, DuplicateWarning) as exc:
            context.update(_duplicate_context(exc))
            if isinstance(exc, DuplicateError):
                form.attach_errors(exc.fields)
            original = opened_with or original
            status = 409
        except ConflictError as exc:
            current = customer_get(user=actor, customer_id=pk)
            current_values = CustomerForm.initial_from(
                current, can_view_contact=perms["view_contact"]
            )
            mine = dict(form.cleaned_data)
            context["conflict"] = _conflict_context(
                exc, form, opened_with, current, perms["view_contact"]
            )
            # The form now shows the current record with the user's own changes on top, so
            # "Save" applies exactly those changes onto the current version.
            merged = dict(current_values)
            merged.update(
                {k: mine.get(k, "") for k in data if k in mine and k not in form.masked_fields}
            )
            for name in form.masked_fields:
                merged[name] = mine.get(name, "")
            form = form_for(current, merged)
            form.is_valid()
            context["customer"] = customer = current
            original = current_values
            version = current.version
            status = 409
        else:
            if str(customer.version) == str(version):
                messages.info(request, _("Nothing was changed."))
            else:
                messages.success(request, _("Your changes have been saved."))
            return redirect("customers:detail", pk=customer.pk)
    context.update(
        form=form,
        version=version,
        original=signing.dumps(original, salt=ORIGINAL_SALT),
    )
    return _render(request, "customers/form.html", context, status=status)


def _conflict_context(
    exc: ConflictError,
    form: CustomerForm,
    opened_with: dict[str, Any] | None,
    current: Customer,
    can_view_contact: bool,
) -> dict[str, Any]:
    """Who changed the record and when, and per field: their change beside the user's input."""
    changed_at = exc.extra.get("changed_at")
    try:
        when = dt.datetime.fromisoformat(changed_at) if changed_at else None
    except ValueError:
        when = None
    now = CustomerForm.initial_from(current, can_view_contact=True)
    mine = getattr(form, "cleaned_data", {})
    rows = []
    for name, field in form.fields.items():
        if name in form.masked_fields or field.disabled:
            continue
        before = (opened_with or {}).get(name, "")
        after = now.get(name, "")
        typed = mine.get(name, "")
        they_changed = opened_with is None or not _same(before, after)
        you_changed = opened_with is None or not _same(typed, before)
        if not they_changed or (opened_with is None and _same(typed, after)):
            continue
        if name in ("phone", "email") and not can_view_contact:
            mask = mask_phone if name == "phone" else mask_email
            before, after = mask(str(before or "")), mask(str(after or ""))
        rows.append(
            {
                "label": field.label,
                "before": form.display_value(name, before),
                "after": form.display_value(name, after),
                "mine": form.display_value(name, typed),
                "you_changed": you_changed and not _same(typed, now.get(name, "")),
                "known_before": opened_with is not None,
            }
        )
    return {
        "message": str(exc.message),
        "changed_by": exc.extra.get("changed_by") or _("Someone"),
        "changed_at": when,
        "current_version": exc.extra.get("current_version"),
        "rows": rows,
    }


# --- detail ---------------------------------------------------------------------------------


def _field_label(name: str) -> str:
    """The label of an audited field, from the models' verbose names."""
    if name == "contacts":
        return str(Contact._meta.verbose_name_plural)
    if name == "pool":  # moves into and out of the public pool (crm.customers.pool)
        return _("Public pool")
    if name == "attachments":  # files added or removed (crm.core.files)
        return str(Attachment._meta.verbose_name_plural)
    if name.startswith("contact."):
        try:
            return str(Contact._meta.get_field(name.split(".", 1)[1]).verbose_name)
        except FieldDoesNotExist:
            return name
    return audit_field_label(Customer, name)


def _history_value(name: str, value: Any, can_view_contact: bool) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    kind = MASKED_FIELDS.get(name)
    if kind and not can_view_contact:
        return mask_email(str(value)) if kind == "email" else mask_phone(str(value))
    if name == "budget":
        from crm.web.templatetags.crm import cny

        return cny(value)
    return str(value)


def _history_entries(entries: list[Any], can_view_contact: bool) -> list[dict[str, Any]]:
    result = []
    for entry in entries:
        changes = []
        for change in entry.changes or []:
            name = change.get("field", "")
            before = _history_value(name, change.get("before"), can_view_contact)
            after = _history_value(name, change.get("after"), can_view_contact)
            if not before and not after:
                continue  # a field left empty at creation says nothing
            changes.append(
                {
                    "field": name,
                    "label": _field_label(name),
                    "contact": change.get("contact", ""),
                    "before": before,
                    "after": after,
                }
            )
        result.append({"entry": entry, "changes": changes})
    return result


def _last_changes(customer: Customer) -> dict[str, dict[str, Any]]:
    """CUS-7: when each field last changed and by whom, from the audit trail."""
    last: dict[str, dict[str, Any]] = {}
    # Bounded: a long-lived customer may have thousands of entries, and reading all of them
    # (JSON included) on every page view would make the page slower with every edit.
    for entry in (
        audit_history(customer)
        .exclude(action=AuditEntry.Action.REVEAL)  # a reveal reads a field, changes nothing
        .select_related(None)
        .only("created_at", "actor_name", "changes", "action")[:LAST_CHANGES_SCANNED]
    ):
        for change in entry.changes or []:
            name = change.get("field", "")
            if name and name not in last:
                last[name] = {
                    "at": entry.created_at,
                    "by": entry.actor_name,
                    "action": entry.action,
                }
    return last


def _detail_fields(
    customer: Customer, can_view_contact: bool, reveal: bool = False
) -> list[dict[str, Any]]:
    from crm.web.templatetags.crm import cny, contact_value, local_date

    # Masked, with the reveal button when reveal on demand offers it (crm.privacy).
    pk = customer.pk
    phone = contact_value(customer.phone, can_view_contact, "phone", reveal, "customer", pk)
    email = contact_value(customer.email, can_view_contact, "email", reveal, "customer", pk)
    values = [
        ("number", customer.number),
        ("type", customer.get_type_display()),
        ("name", customer.name),
        ("industry", dictionary_label("industry", customer.industry)),
        ("source", dictionary_label("source", customer.source)),
        ("grade", customer.get_grade_display()),
        ("status", dictionary_label("customer_status", customer.status)),
        ("owner", customer.owner.display_name if customer.owner_id else _("(public pool)")),
        ("phone", phone),
        ("email", email),
        ("credit_code", customer.credit_code),
        ("address", customer.address),
        ("first_contact_date", local_date(customer.first_contact_date)),
        ("budget", cny(customer.budget)),
        ("requirement", customer.requirement),
        ("background", customer.background),
        ("decision_chain", customer.decision_chain),
        ("competitors", customer.competitors),
        ("remarks", customer.remarks),
    ]
    return [{"name": n, "label": _field_label(n), "value": v} for n, v in values]


def _contacts_context(
    request: HttpRequest,
    customer: Customer,
    *,
    new_form: ContactForm | None = None,
    edit_form: ContactForm | None = None,
    error: str = "",
) -> dict[str, Any]:
    return {
        "contacts": list(customer.contacts.all()),
        "new_form": new_form,
        "edit_form": edit_form,
        "editing_id": edit_form.contact.pk if edit_form is not None else None,
        "contacts_error": error,
    }


def _timeline_object_url(object_type: str, object_id: int) -> str:
    name = TIMELINE_OBJECT_URLS.get(object_type)
    if not name:
        return ""
    try:
        return reverse(name, args=[object_id])
    except NoReverseMatch:
        return ""


def _timeline_lines(items: list[Any]) -> list[dict[str, Any]]:
    return [
        {"item": item, "url": _timeline_object_url(item.object_type, item.object_id)}
        for item in items
    ]


def _timeline_kind_url(request: HttpRequest, kinds: list[str]) -> str:
    params = request.GET.copy()
    params["tab"] = "timeline"
    params.pop("page", None)
    params.setlist("kind", kinds)
    if not kinds:
        params.pop("kind", None)
    return f"{request.path}?{params.urlencode()}"


def _timeline_context(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    """The timeline tab (CUS-11): every module's lines the viewer may see, newest first,
    filtered by kind chips (several may be on), paged older/newer without counting."""
    user = request.user
    kinds = timeline_kinds_for(user)
    visible = {k.code for k in kinds}
    selected, _unknown = timeline_kinds_clean(request.GET.getlist("kind"))
    selected = [code for code in selected if code in visible]  # the rest is ignored
    page = timeline_for_customer(
        user=user,
        customer=customer,
        kinds=selected,
        page=request.GET.get("page"),
        size=TIMELINE_PAGE_SIZE,
    )
    chips = [
        {
            "code": "",
            "label": _("All"),
            "active": not selected,
            "url": _timeline_kind_url(request, []),
        }
    ]
    for kind in kinds:
        on = kind.code in selected
        toggled = [c for c in selected if c != kind.code] if on else [*selected, kind.code]
        chips.append(
            {
                "code": kind.code,
                "label": kind.label,
                "icon": kind.icon,
                "active": on,
                "url": _timeline_kind_url(request, toggled),
            }
        )
    return {
        "timeline": _timeline_lines(page.items),
        "timeline_page": page,
        "timeline_chips": chips,
        "timeline_filtered": bool(selected),
        "timeline_next_url": (
            _query_url(request, tab="timeline", page=page.next_number) if page.has_next else ""
        ),
        "timeline_previous_url": (
            _query_url(request, tab="timeline", page=page.previous_number)
            if page.has_previous
            else ""
        ),
    }


def _detail_context(request: HttpRequest, customer: Customer, tab: str) -> dict[str, Any]:
    user = request.user
    perms = _perms(user)
    context: dict[str, Any] = {
        "customer": customer,
        "tab": tab,
        "can": perms,
        "tabs": [
            ("details", _("Details")),
            ("timeline", _("Timeline")),
            ("contacts", _("Contacts")),
            *((t.code, t.label) for t in record_tabs(host="customer", user=user)),
            ("history", _("History")),
        ],
    }
    registered = record_tab(host="customer", code=tab, user=user)
    if registered is not None:
        context["tab_html"] = registered.render(request, customer)
    # The "Change status" action and the banner of a pending approval (CUS-8).
    from crm.customers.views_lifecycle import lifecycle_context

    context.update(lifecycle_context(user, customer))
    if perms["transfer"]:
        context["transfer_form"] = TransferForm(actor=user, customer=customer)
    context.update(release_context(user, customer))
    context["can_view_pool"] = pool_visible(user)
    if tab == "details":
        last = _last_changes(customer)
        fields = _detail_fields(customer, perms["view_contact"], perms["reveal"])
        for field in fields:
            field["last"] = last.get(field["name"])
        context["fields"] = fields
        recent = timeline_for_customer(user=user, customer=customer, size=RECENT_LINES)
        context["recent"] = _timeline_lines(recent.items)
        context["recent_more"] = recent.has_next
    elif tab == "timeline":
        context.update(_timeline_context(request, customer))
    elif tab == "contacts":
        context.update(_contacts_context(request, customer))
    elif tab == "history":
        page = paginate(
            audit_history(customer), page=request.GET.get("page"), size=HISTORY_PAGE_SIZE
        )
        context["history_page"] = page
        context["history"] = _history_entries(page.items, perms["view_contact"])
        context["history_next_url"] = (
            _query_url(request, tab="history", page=page.next_number) if page.has_next else ""
        )
        context["history_previous_url"] = (
            _query_url(request, tab="history", page=page.previous_number)
            if page.has_previous
            else ""
        )
    return context


@customer_view
def customer_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer page (CUS-11): details, contacts, history, and the tabs other modules
    add (crm.web.tabs: opportunities, follow-ups, files, timeline)."""
    _require(request, "view")
    try:
        customer = customer_get(user=request.user, customer_id=pk)
    except NotFoundError:
        # A customer that went to the public pool: its former owner's links lead there.
        if pool_visible(request.user) and pool_customers().filter(pk=pk).exists():
            return redirect("pool:detail", pk=pk)
        # A customer merged into another (CUS-6): its old links lead to the survivor.
        survivor = customer_merged_visible(user=request.user, customer_id=pk)
        if survivor is not None:
            return redirect("customers:detail", pk=survivor.pk)
        raise
    tab = request.GET.get("tab", "details")
    if tab not in TABS and record_tab(host="customer", code=tab, user=request.user) is None:
        tab = "details"
    context = _detail_context(request, customer, tab)
    template = "customers/detail.html"
    if _is_htmx(request) and request.htmx.target == "tab-body":
        template += "#tab_body"
    return _render(request, template, context)


# --- contacts (inline, HTMX) ----------------------------------------------------------------


def _contact_of(request: HttpRequest, pk: int, contact_id: int) -> Contact:
    contact = contact_get(user=request.user, contact_id=contact_id)
    if contact.customer_id != int(pk):
        raise NotFoundError()
    return contact


def _contacts_response(
    request: HttpRequest,
    customer: Customer,
    *,
    status: int = 200,
    partial: str = "contacts",
    **kwargs: Any,
) -> HttpResponse:
    """The contacts section (HTMX) or the whole customer page on its contacts tab."""
    if _is_htmx(request):
        context = {
            "customer": customer,
            "can": _perms(request.user),
            **_contacts_context(request, customer, **kwargs),
        }
        return _render(request, f"customers/detail.html#{partial}", context, status=status)
    context = _detail_context(request, customer, "contacts")
    context.update(_contacts_context(request, customer, **kwargs))
    return _render(request, "customers/detail.html", context, status=status)


def _contacts_done(request: HttpRequest, customer: Customer, message: str) -> HttpResponse:
    if _is_htmx(request):
        # Fetched again: the contacts prefetched before the write are stale now.
        customer = customer_get(user=request.user, customer_id=customer.pk)
        response = _contacts_response(request, customer)
        # The request came from a form that swaps itself; the answer is the whole section.
        return reswap(retarget(response, "#contacts"), "outerHTML")
    messages.success(request, message)
    return redirect(reverse("customers:detail", args=[customer.pk]) + "?tab=contacts")


@customer_view
def contacts_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "view")
    customer = customer_get(user=request.user, customer_id=pk)
    return _contacts_response(request, customer)


@customer_view
@require_http_methods(["GET", "POST"])
def contact_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "edit")
    customer = customer_get(user=request.user, customer_id=pk)
    if request.method == "GET":
        form = ContactForm()
        return _contacts_response(request, customer, partial="contact_new", new_form=form)
    form = ContactForm(request.POST)
    form.is_valid()
    try:
        contact = contact_create(actor=request.user, customer=customer, data=form.service_data())
    except (ValidationFailed, ConflictError) as exc:
        other = form.attach_errors(exc.fields) if exc.fields else [str(exc.message)]
        form.other_errors = other
        return _contacts_response(
            request, customer, status=422, partial="contact_new", new_form=form
        )
    return _contacts_done(request, customer, _("Contact %(name)s added.") % {"name": contact.name})


@customer_view
@require_http_methods(["GET", "POST"])
def contact_edit_view(request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
    _require(request, "edit")
    customer = customer_get(user=request.user, customer_id=pk)
    contact = _contact_of(request, pk, contact_id)
    can_view_contact = contact_details_shown(request.user)
    if request.method == "GET":
        form = ContactForm(contact=contact, can_view_contact=can_view_contact)
        return _contacts_response(request, customer, partial="contact_edit", edit_form=form)
    form = ContactForm(request.POST, contact=contact, can_view_contact=can_view_contact)
    form.is_valid()
    try:
        contact_update(actor=request.user, contact=contact, data=form.service_data())
    except (ValidationFailed, ConflictError) as exc:
        form.other_errors = form.attach_errors(exc.fields) if exc.fields else [str(exc.message)]
        return _contacts_response(
            request, customer, status=422, partial="contact_edit", edit_form=form
        )
    return _contacts_done(request, customer, _("Contact %(name)s saved.") % {"name": contact.name})


@customer_view
@require_POST
def contact_delete_view(request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
    _require(request, "edit")
    customer = customer_get(user=request.user, customer_id=pk)
    contact = _contact_of(request, pk, contact_id)
    try:
        contact_delete(actor=request.user, contact=contact)
    except (ValidationFailed, ConflictError) as exc:
        error = " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)
        return _contacts_response(request, customer, status=422, error=error)
    return _contacts_done(
        request, customer, _("Contact %(name)s removed.") % {"name": contact.name}
    )


@customer_view
@require_POST
def contact_primary_view(request: HttpRequest, pk: int, contact_id: int) -> HttpResponse:
    _require(request, "edit")
    customer = customer_get(user=request.user, customer_id=pk)
    contact = _contact_of(request, pk, contact_id)
    try:
        contact_update(actor=request.user, contact=contact, data={"is_primary": True})
    except (ValidationFailed, ConflictError) as exc:
        error = " ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)
        return _contacts_response(request, customer, status=422, error=error)
    return _contacts_done(
        request, customer, _("%(name)s is now the primary contact.") % {"name": contact.name}
    )


# --- delete, restore, transfer --------------------------------------------------------------


@customer_view
@require_POST
def customer_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a customer to the recycle bin."""
    _require(request, "delete")
    # Deleted ones too, so that a second click (or a colleague's) meets the version check
    # and gets its message instead of a bare 404.
    customer = customer_get(user=request.user, customer_id=pk, include_deleted=True)
    try:
        customer_delete(
            actor=request.user, customer=customer, version=request.POST.get("version") or None
        )
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        current = customer_get(user=request.user, customer_id=pk, include_deleted=True)
        if current.deleted_at is not None:
            return redirect("customers:list")  # its detail page is gone with it
        return redirect("customers:detail", pk=customer.pk)
    days = setting_get("recycle_bin_days")
    messages.success(
        request,
        _("%(number)s %(name)s is in the recycle bin. It can be restored there for %(days)s days.")
        % {"number": customer.number, "name": customer.name, "days": days},
    )
    return redirect("customers:list")


@customer_view
@require_POST
def customer_restore_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "delete")
    customer = customer_get(user=request.user, customer_id=pk, include_deleted=True)
    try:
        customer_restore(
            actor=request.user, customer=customer, version=request.POST.get("version") or None
        )
    except DuplicateError as exc:
        messages.error(request, " ".join(str(m) for msgs in exc.fields.values() for m in msgs))
        return redirect("customers:recycle_bin")
    except (ConflictError, ValidationFailed) as exc:
        messages.error(request, str(exc.message))
        return redirect("customers:recycle_bin")
    messages.success(
        request,
        _("%(number)s %(name)s has been restored.")
        % {"number": customer.number, "name": customer.name},
    )
    return redirect("customers:detail", pk=customer.pk)


@customer_view
@require_POST
def customer_transfer_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand the customer to another owner (needs the transfer permission)."""
    _require(request, "transfer")
    customer = customer_get(user=request.user, customer_id=pk)
    form = TransferForm(request.POST, actor=request.user, customer=customer)
    if not form.is_valid() or form.cleaned_data["to_user"] is None:
        messages.error(request, _("Choose the new owner from the list, then confirm."))
        return redirect("customers:detail", pk=customer.pk)
    to_user = (
        users_who_can_own(actor=request.user, module=MODULE)
        .filter(pk=form.cleaned_data["to_user"])
        .first()
    )
    if to_user is None:  # deactivated or given another role since the form was built
        messages.error(request, _("Choose the new owner from the list, then confirm."))
        return redirect("customers:detail", pk=customer.pk)
    try:
        customer_transfer(actor=request.user, customer=customer, to_user=to_user)
    except ValidationFailed as exc:
        messages.error(request, " ".join(str(m) for msgs in exc.fields.values() for m in msgs))
        return redirect("customers:detail", pk=customer.pk)
    messages.success(
        request,
        _("%(name)s now belongs to %(owner)s.")
        % {"name": customer.name, "owner": to_user.display_name},
    )
    # The new owner may be outside the actor's scope only if the actor could assign them, so
    # the page stays visible; go back to it.
    return redirect("customers:detail", pk=customer.pk)


@customer_view
def recycle_bin_view(request: HttpRequest) -> HttpResponse:
    """Deleted customers in the viewer's scope, restorable until the purge sweep."""
    _require(request, "delete")
    queryset = (
        customers_deleted_visible_to(request.user)
        .select_related("owner", "deleted_by")
        .only(
            "id",
            "number",
            "name",
            "grade",
            "deleted_at",
            "version",  # the restore form sends it back
            "owner__full_name",
            "owner__username",
            "deleted_by__full_name",
            "deleted_by__username",
        )
        .order_by("-deleted_at", "-id")
    )
    context = recycle_bin_context(request, queryset, key="customer")
    return _render(request, "customers/recycle_bin.html", context)
