"""The administrator's Settings area (ORG-1..4, SYS-1 lists, SYS-2 audit log).

Every page needs the `settings.configure` permission, except the audit log, which is gated by
the `audit` module's own permission and data scope (an executive or a sales manager reads it
without configuring anything). Users, departments, roles, list entries and settings are
configuration, not owned records, so they have no data scope: reading them here is gated by
the permission alone. Every write goes through a service.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import models, transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.accounts.forms import (
    AuditFilterForm,
    DeactivateForm,
    DepartmentForm,
    DictionaryItemForm,
    PasswordResetForm,
    RoleForm,
    SystemRulesForm,
    UserFilterForm,
    UserForm,
    departments_tree,
    errors_apply,
)
from crm.accounts.models import Department, Role, User
from crm.accounts.selectors import audit_actors_visible_to, audit_entries_visible_to
from crm.accounts.services import (
    department_deactivate,
    department_reactivate,
    department_save,
    role_save,
    user_create,
    user_deactivate,
    user_password_reset,
    user_reactivate,
    user_unlock,
    user_update,
    users_locked_for_everybody,
    users_locked_out,
)
from crm.core.audit import audit_field_label
from crm.core.config import DUPLICATE_FIELDS, setting_get, settings_update
from crm.core.dictionaries import (
    KINDS,
    dictionary_item_deactivate,
    dictionary_item_reactivate,
    dictionary_item_save,
    dictionary_items,
)
from crm.core.errors import ValidationFailed
from crm.core.masking import contact_details_shown, mask_email, mask_phone
from crm.core.models import Attachment, AuditEntry, DictionaryItem
from crm.core.pagination import paginate
from crm.core.permissions import MODULES, Action, Scope
from crm.core.scope import (
    department_tree_ids,
    user_can,
    user_scope,
)
from crm.core.tasks import sweeps_run
from crm.customers.models import Contact, Customer

logger = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 50
AUDIT_CHANGES_SHOWN = 3


def configure_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in users with `settings.configure`; everyone else gets the 403 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not user_can(request.user, "settings", "configure"):
            return render(request, "accounts/settings/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def _render(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    partial: str | None = None,
) -> HttpResponse:
    """Full page, or only `partial` when HTMX asks for it (DESIGN convention 6)."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _posted(request: HttpRequest):
    """The POST data on a POST (even an empty one), None otherwise: bound forms on submit."""
    return request.POST if request.method == "POST" else None


def _secret_page(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The one page that shows an initial password; never cached, never stored."""
    response = render(request, "accounts/settings/user_credentials.html", context)
    add_never_cache_headers(response)
    return response


# --- overview -------------------------------------------------------------------------------


@configure_required
def settings_index(request: HttpRequest) -> HttpResponse:
    counts = {
        "users": User.objects.filter(is_active=True).count(),
        "departments": Department.objects.filter(is_active=True).count(),
        "roles": Role.objects.count(),
        "lists": len(KINDS),
    }
    return render(request, "accounts/settings/index.html", {"counts": counts, "section": "index"})


# --- users ----------------------------------------------------------------------------------

USER_SORTS = {
    "username": ("username",),
    "-username": ("-username",),
    "name": ("full_name", "username"),
    "-name": ("-full_name", "-username"),
    "last_login": ("last_login",),
    "-last_login": ("-last_login",),
}


@configure_required
def users_list(request: HttpRequest) -> HttpResponse:
    form = UserFilterForm(request.GET)
    filters = form.filters()
    qs = User.objects.select_related("department", "supervisor").prefetch_related("roles")
    if filters.get("q"):
        q = filters["q"].strip()
        qs = qs.filter(Q(username__icontains=q) | Q(full_name__icontains=q))
    if filters.get("department"):
        qs = qs.filter(department_id__in=department_tree_ids(filters["department"].pk))
    if filters.get("role"):
        qs = qs.filter(roles=filters["role"])
    if filters["status"] == "active":
        qs = qs.filter(is_active=True)
    elif filters["status"] == "inactive":
        qs = qs.filter(is_active=False)
    sort = request.GET.get("sort", "username")
    if sort not in USER_SORTS:
        sort = "username"
    page = paginate(
        qs.order_by(*USER_SORTS[sort], "id"),
        page=request.GET.get("page"),
        size=settings.CRM_PAGE_SIZE,
    )
    locked = users_locked_out(usernames=[u.username for u in page.items])
    for user in page.items:
        user.is_locked_out = user.username in locked
    context = {
        "form": form,
        "page": page,
        "locked_accounts": users_locked_for_everybody(),
        "section": "users",
        **_sort_context(sort, ["name", "username", "last_login"], descending_first={"last_login"}),
    }
    return _render(request, "accounts/settings/users.html", context, partial="results")


def _sort_context(sort: str, columns: list[str], *, descending_first: set[str]) -> dict[str, Any]:
    """Header links: clicking the sorted column reverses it; another column starts sorted."""
    column = sort.lstrip("-")
    links = {}
    for name in columns:
        if name == column:
            links[name] = name if sort.startswith("-") else f"-{name}"
        else:
            links[name] = f"-{name}" if name in descending_first else name
    return {
        "sort": sort,
        "sort_column": column,
        "sort_arrow": " ↓" if sort.startswith("-") else " ↑",
        "sort_links": links,
    }


@configure_required
def user_create_view(request: HttpRequest) -> HttpResponse:
    form = UserForm(_posted(request))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user, password = user_create(actor=request.user, data=form.service_data())
            except ValidationFailed as exc:
                errors_apply(form, exc.fields)
            else:
                return _secret_page(
                    request, {"subject": user, "password": password, "created": True}
                )
        status = 422
    return render(
        request,
        "accounts/settings/user_form.html",
        {"form": form, "section": "users"},
        status=status,
    )


def _user_or_404(pk: int) -> User:
    return get_object_or_404(User.objects.select_related("department", "supervisor"), pk=pk)


@configure_required
def user_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _user_or_404(pk)
    form = UserForm(_posted(request), instance=subject)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user_update(actor=request.user, user=subject, data=form.service_data())
            except ValidationFailed as exc:
                errors_apply(form, exc.fields)
            else:
                messages.success(
                    request, _("%(name)s has been saved.") % {"name": subject.display_name}
                )
                return redirect("settings:user_edit", pk=subject.pk)
        status = 422
        subject.refresh_from_db()
    context = {
        "form": form,
        "subject": subject,
        "is_locked_out": subject.username in users_locked_out(usernames=[subject.username]),
        "section": "users",
    }
    return render(request, "accounts/settings/user_form.html", context, status=status)


@configure_required
def user_password_view(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _user_or_404(pk)
    form = PasswordResetForm(_posted(request))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                password = user_password_reset(
                    actor=request.user, user=subject, password=form.cleaned_data["password"]
                )
            except ValidationFailed as exc:
                errors_apply(form, exc.fields)
            else:
                return _secret_page(
                    request, {"subject": subject, "password": password, "created": False}
                )
        status = 422
    return render(
        request,
        "accounts/settings/user_password.html",
        {"form": form, "subject": subject, "section": "users"},
        status=status,
    )


@configure_required
def user_deactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _user_or_404(pk)
    if not subject.is_active:
        return redirect("settings:user_edit", pk=subject.pk)
    form = DeactivateForm(_posted(request), user=subject, actor=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            to_user = form.cleaned_data["transfer_to"]
            try:
                moved = user_deactivate(actor=request.user, user=subject, transfer_to=to_user)
            except ValidationFailed as exc:
                errors_apply(form, exc.fields)
            else:
                messages.success(request, _deactivated_message(subject, to_user, moved))
                return redirect("settings:user_edit", pk=subject.pk)
        status = 422
    return render(
        request,
        "accounts/settings/user_deactivate.html",
        {"form": form, "subject": subject, "section": "users"},
        status=status,
    )


def _deactivated_message(subject: User, to_user: User | None, moved: dict[str, int]) -> str:
    text = _("%(name)s has been deactivated; their sessions and API tokens no longer work.") % {
        "name": subject.display_name
    }
    if to_user is None:
        return text
    parts = [
        _("%(module)s: %(count)d")
        % {"module": MODULES[module].label if module in MODULES else module, "count": count}
        for module, count in moved.items()
    ]
    return " ".join(
        [
            text,
            _("Transferred to %(name)s: %(counts)s.")
            % {"name": to_user.display_name, "counts": "; ".join(parts) or _("nothing")},
        ]
    )


@configure_required
@require_POST
def user_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _user_or_404(pk)
    user_reactivate(actor=request.user, user=subject)
    messages.success(request, _("%(name)s can log in again.") % {"name": subject.display_name})
    return redirect("settings:user_edit", pk=subject.pk)


@configure_required
@require_POST
def user_unlock_view(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _user_or_404(pk)
    user_unlock(actor=request.user, user=subject)
    messages.success(
        request, _("%(name)s's login lockout has been lifted.") % {"name": subject.display_name}
    )
    return redirect("settings:user_edit", pk=subject.pk)


# --- departments ----------------------------------------------------------------------------


@configure_required
def departments_list(request: HttpRequest) -> HttpResponse:
    rows = Department.objects.annotate(
        member_count=Count("members", filter=Q(members__is_active=True))
    )
    return render(
        request,
        "accounts/settings/departments.html",
        {"departments": departments_tree(rows), "section": "departments"},
    )


def _department_form_page(request: HttpRequest, department: Department | None) -> HttpResponse:
    form = DepartmentForm(_posted(request), instance=department)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = department_save(
                    actor=request.user, data=form.cleaned_data, department=department
                )
            except ValidationFailed as exc:
                errors_apply(form, exc.fields)
            else:
                messages.success(request, _("Department %(name)s saved.") % {"name": saved.name})
                return redirect("settings:departments")
        status = 422
    return render(
        request,
        "accounts/settings/department_form.html",
        {"form": form, "department": department, "section": "departments"},
        status=status,
    )


@configure_required
def department_create_view(request: HttpRequest) -> HttpResponse:
    return _department_form_page(request, None)


@configure_required
def department_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _department_form_page(request, get_object_or_404(Department, pk=pk))


@configure_required
@require_POST
def department_deactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=pk)
    try:
        department_deactivate(actor=request.user, department=department)
    except ValidationFailed as exc:
        return render(
            request,
            "accounts/settings/department_form.html",
            {
                "form": DepartmentForm(instance=department),
                "department": department,
                "deactivate_errors": [str(m) for msgs in exc.fields.values() for m in msgs],
                "section": "departments",
            },
            status=422,
        )
    messages.success(request, _("Department %(name)s deactivated.") % {"name": department.name})
    return redirect("settings:departments")


@configure_required
@require_POST
def department_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    department = get_object_or_404(Department.objects.select_related("parent"), pk=pk)
    try:
        department_reactivate(actor=request.user, department=department)
    except ValidationFailed as exc:
        for msgs in exc.fields.values():
            for message in msgs:
                messages.error(request, str(message))
    else:
        messages.success(request, _("Department %(name)s reactivated.") % {"name": department.name})
    return redirect("settings:departments")


# --- roles ----------------------------------------------------------------------------------

# Columns of the permission matrix: every action at least one module supports, in enum order.
ACTION_COLUMNS = [a for a in Action if any(a.value in m.actions for m in MODULES.values())]


@configure_required
def roles_list(request: HttpRequest) -> HttpResponse:
    roles = (
        Role.objects.annotate(user_count=Count("users", filter=Q(users__is_active=True)))
        .prefetch_related("permissions")
        .order_by("id")
    )
    rows = []
    for role in roles:
        grants = {p.module: p for p in role.permissions.all() if p.actions}
        rows.append(
            {
                "role": role,
                "modules": [
                    {
                        "label": module.label,
                        "scope": Scope(grants[code].scope).label if module.scoped else "",
                        "count": len(grants[code].actions),
                    }
                    for code, module in MODULES.items()
                    if code in grants
                ],
            }
        )
    return render(request, "accounts/settings/roles.html", {"rows": rows, "section": "roles"})


def _matrix(
    grants: dict[str, dict[str, Any]], errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """One row per module: a checkbox per supported action, a scope select when scoped."""
    rows = []
    for code, module in MODULES.items():
        grant = grants.get(code, {})
        actions = set(grant.get("actions", []))
        rows.append(
            {
                "code": code,
                "label": module.label,
                "scoped": module.scoped,
                "scope": grant.get("scope") or Scope.OWN,
                "cells": [
                    {
                        "action": a.value,
                        "label": a.label,
                        "supported": a.value in module.actions,
                        "checked": a.value in actions,
                    }
                    for a in ACTION_COLUMNS
                ],
                "errors": [
                    str(m)
                    for key in (f"permissions.{code}.actions", f"permissions.{code}.scope")
                    for m in errors.get(key, [])
                ],
            }
        )
    return rows


def _matrix_from_post(request: HttpRequest) -> dict[str, dict[str, Any]]:
    return {
        code: {
            "actions": request.POST.getlist(f"perm-{code}"),
            "scope": request.POST.get(f"scope-{code}", Scope.OWN) if module.scoped else Scope.ALL,
        }
        for code, module in MODULES.items()
    }


def _role_form_page(request: HttpRequest, role: Role | None) -> HttpResponse:
    form = RoleForm(_posted(request), instance=role)
    if role is not None:
        grants = {
            p.module: {"actions": p.actions, "scope": p.scope} for p in role.permissions.all()
        }
    else:
        grants = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        grants = _matrix_from_post(request)
        if form.is_valid():
            try:
                saved = role_save(
                    actor=request.user,
                    data={**form.cleaned_data, "permissions": grants},
                    role=role,
                )
            except ValidationFailed as exc:
                errors = {k: [str(m) for m in v] for k, v in exc.fields.items()}
                errors_apply(
                    form, {k: v for k, v in errors.items() if not k.startswith("permissions.")}
                )
            else:
                messages.success(request, _("Role %(name)s saved.") % {"name": saved})
                return redirect("settings:roles")
        status = 422
    user_count = role.users.filter(is_active=True).count() if role is not None else 0
    context = {
        "form": form,
        "role": role,
        "user_count": user_count,
        "columns": ACTION_COLUMNS,
        "matrix": _matrix(grants, errors),
        "scopes": Scope.choices,
        "section": "roles",
    }
    return render(request, "accounts/settings/role_form.html", context, status=status)


@configure_required
def role_create_view(request: HttpRequest) -> HttpResponse:
    return _role_form_page(request, None)


@configure_required
def role_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _role_form_page(request, get_object_or_404(Role, pk=pk))


# --- lists (dictionaries) -------------------------------------------------------------------


def _kind_or_404(kind: str) -> str:
    if kind not in KINDS:
        raise Http404
    return kind


def _kinds_nav(active: str) -> list[dict[str, Any]]:
    return [
        {
            "kind": k,
            "label": label,
            "active": k == active,
            "url": reverse("settings:list", args=[k]),
        }
        for k, label in KINDS.items()
    ]


@configure_required
def lists_index(request: HttpRequest) -> HttpResponse:
    return redirect("settings:list", kind=next(iter(KINDS)))


@configure_required
def list_view(request: HttpRequest, kind: str) -> HttpResponse:
    _kind_or_404(kind)
    context = {
        "kind": kind,
        "kind_label": KINDS[kind],
        "kinds": _kinds_nav(kind),
        "items": dictionary_items(kind, include_inactive=True),
        "section": "lists",
    }
    return render(request, "accounts/settings/lists.html", context)


def _list_item_form_page(request: HttpRequest, kind: str, item: DictionaryItem | None):
    form = DictionaryItemForm(_posted(request), instance=item)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = dictionary_item_save(
                    actor=request.user, kind=kind, data=form.cleaned_data, item=item
                )
            except ValidationFailed as exc:
                errors_apply(form, exc.fields)
            else:
                messages.success(request, _("Entry %(label)s saved.") % {"label": saved.label})
                return redirect("settings:list", kind=kind)
        status = 422
    context = {
        "form": form,
        "item": item,
        "kind": kind,
        "kind_label": KINDS[kind],
        "kinds": _kinds_nav(kind),
        "section": "lists",
    }
    return render(request, "accounts/settings/list_item_form.html", context, status=status)


def _item_or_404(kind: str, pk: int) -> DictionaryItem:
    return get_object_or_404(DictionaryItem, kind=_kind_or_404(kind), pk=pk)


@configure_required
def list_item_create_view(request: HttpRequest, kind: str) -> HttpResponse:
    return _list_item_form_page(request, _kind_or_404(kind), None)


@configure_required
def list_item_edit_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    return _list_item_form_page(request, kind, _item_or_404(kind, pk))


@configure_required
@require_POST
def list_item_deactivate_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    item = dictionary_item_deactivate(actor=request.user, item=_item_or_404(kind, pk))
    messages.success(
        request,
        _("%(label)s is hidden from new choices; records using it keep it.")
        % {"label": item.label},
    )
    return redirect("settings:list", kind=kind)


@configure_required
@require_POST
def list_item_reactivate_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    item = dictionary_item_reactivate(actor=request.user, item=_item_or_404(kind, pk))
    messages.success(request, _("%(label)s is offered again.") % {"label": item.label})
    return redirect("settings:list", kind=kind)


# --- system rules ---------------------------------------------------------------------------


def _purge_due_now() -> None:
    """A shorter retention makes purges due at once: run the sweeps in the worker now, so the
    recycle bin never lists a purge date that has passed until the next hourly sweep. If the
    queue cannot be reached, the hourly sweep still catches up; the save stands."""
    try:
        sweeps_run.enqueue()
    except Exception:
        logger.warning("could not enqueue the sweeps after the retention was shortened")


@configure_required
def rules_view(request: HttpRequest) -> HttpResponse:
    rules = setting_get("duplicate_rules")
    initial = {
        "recycle_bin_days": setting_get("recycle_bin_days"),
        "followup_reminder_minutes": setting_get("followup_reminder_minutes"),
        "attachment_rules": "1",
        "attachment_max_mb": setting_get("attachment_max_mb"),
        "attachment_types": setting_get("attachment_types"),
        "reveal_rules": "1",
        "reveal_on_demand": setting_get("contact_reveal")["on_demand"],
        "reveal_per_hour": setting_get("contact_reveal")["per_hour"],
        **{f"duplicate_{name}": rules.get(name) for name in DUPLICATE_FIELDS},
    }
    form = SystemRulesForm(_posted(request), initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                # Both rules or neither: one form, one decision.
                with transaction.atomic():
                    settings_update(
                        actor=request.user,
                        key="duplicate_rules",
                        value={name: data[f"duplicate_{name}"] for name in DUPLICATE_FIELDS},
                    )
                    settings_update(
                        actor=request.user,
                        key="recycle_bin_days",
                        value=data["recycle_bin_days"],
                    )
                    if "followup_reminder_minutes" in request.POST:
                        settings_update(
                            actor=request.user,
                            key="followup_reminder_minutes",
                            value=data["followup_reminder_minutes"],
                        )
                    if data.get("attachment_rules"):
                        settings_update(
                            actor=request.user,
                            key="attachment_max_mb",
                            value=data["attachment_max_mb"],
                        )
                        settings_update(
                            actor=request.user,
                            key="attachment_types",
                            value=data["attachment_types"],
                        )
                    if data.get("reveal_rules"):
                        settings_update(
                            actor=request.user,
                            key="contact_reveal",
                            value={
                                "on_demand": bool(data["reveal_on_demand"]),
                                "per_hour": data["reveal_per_hour"],
                            },
                        )
            except ValidationFailed as exc:
                errors_apply(form, exc.fields, aliases=SystemRulesForm.error_aliases())
            else:
                if data["recycle_bin_days"] < initial["recycle_bin_days"]:
                    _purge_due_now()
                    messages.success(
                        request,
                        _(
                            "System rules saved. Deleted customers past the new retention are "
                            "being purged."
                        ),
                    )
                else:
                    messages.success(request, _("System rules saved."))
                return redirect("settings:rules")
        status = 422
    return render(
        request,
        "accounts/settings/rules.html",
        {"form": form, "section": "rules"},
        status=status,
    )


# --- audit log ------------------------------------------------------------------------------

# Where a record of each kind is opened, for links from the audit log.
RECORD_URLS = {
    ("customers", "customer"): "customers:detail",
    ("accounts", "user"): "settings:user_edit",
    ("accounts", "role"): "settings:role_edit",
    ("accounts", "department"): "settings:department_edit",
}


# Contact details inside customers' entries, masked for viewers without "view contact details".
MASKED_CHANGES = {
    "phone": mask_phone,
    "email": mask_email,
    "contact.phone": mask_phone,
    "contact.email": mask_email,
}


def _change_label(model: type[models.Model] | None, name: str) -> str:
    """A changed field as people read it (its verbose name), not its code: "contact.phone" on
    a customer is the contact's phone field."""
    if model is Customer and name.startswith("contact."):
        model, name = Contact, name.split(".", 1)[1]
    if model is Customer and name == "contacts":
        return str(Contact._meta.verbose_name_plural)
    if model is None or not name:
        return name
    if name == "attachments":  # files added or removed on any record (crm.core.files)
        return str(Attachment._meta.verbose_name_plural)
    return audit_field_label(model, name)


def _value_text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return Truncator(str(value)).chars(60)


def _audit_row(entry: AuditEntry, *, can_view_contact: bool = True) -> dict[str, Any]:
    ct = entry.content_type
    model = ct.model_class() if ct is not None else None
    url = ""
    if ct is not None and entry.object_id is not None:
        name = RECORD_URLS.get((ct.app_label, ct.model))
        if name:
            try:
                url = reverse(name, args=[entry.object_id])
            except NoReverseMatch:
                url = ""
    changes = [c for c in entry.changes if isinstance(c, dict)] if entry.changes else []
    shown = AUDIT_CHANGES_SHOWN
    rows = []
    for c in changes[:shown]:
        name = str(c.get("field", ""))
        before, after = c.get("before"), c.get("after")
        mask = MASKED_CHANGES.get(name) if model is Customer and not can_view_contact else None
        if mask is not None:
            before = mask(before) if isinstance(before, str) else before
            after = mask(after) if isinstance(after, str) else after
        rows.append(
            {
                "field": _change_label(model, name),
                "before": _value_text(before),
                "before_empty": before in (None, "", []),
                "after": _value_text(after),
            }
        )
    return {
        "entry": entry,
        "kind": model._meta.verbose_name if model is not None else "",
        "url": url,
        # A creation has no "before": show only the values it started with.
        "is_create": entry.action == AuditEntry.Action.CREATE,
        "changes": rows,
        "more": max(0, len(changes) - shown),
    }


def audit_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in users with `audit.view`; everyone else gets the 403 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not user_can(request.user, "audit", "view"):
            return render(
                request, "accounts/settings/forbidden.html", {"module": "audit"}, status=403
            )
        return view(request, *args, **kwargs)

    return login_required(wrapper)


@audit_required
def audit_view(request: HttpRequest) -> HttpResponse:
    actors = (
        None
        if user_scope(request.user, "audit") == Scope.ALL
        else audit_actors_visible_to(request.user)
    )
    form = AuditFilterForm(request.GET or None, actors=actors)
    qs = audit_entries_visible_to(request.user).order_by("-created_at", "-id")
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data.get("action"):
            qs = qs.filter(action=data["action"])
        if data.get("actor"):
            qs = qs.filter(actor=data["actor"])
        if data.get("date_from"):
            qs = qs.filter(created_at__gte=_day_start(data["date_from"]))
        if data.get("date_to"):
            qs = qs.filter(created_at__lt=_day_start(data["date_to"], days_later=1))
    page = paginate(qs, page=request.GET.get("page"), size=AUDIT_PAGE_SIZE)
    can_view_contact = contact_details_shown(request.user)
    context = {
        "form": form,
        "page": page,
        "rows": [_audit_row(e, can_view_contact=can_view_contact) for e in page.items],
        "section": "audit",
        "show_settings_nav": user_can(request.user, "settings", "configure"),
        "audit_scope": Scope(user_scope(request.user, "audit")).label,
    }
    return _render(request, "accounts/settings/audit.html", context, partial="results")


# Days the database can hold in UTC once a time zone offset is applied: 0001-01-01 or
# 9999-12-31 typed in a filter would overflow instead of matching nothing or everything.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(9999, 12, 1)


def _day_start(day: dt.date, *, days_later: int = 0) -> dt.datetime:
    """Midnight of `day` (plus `days_later`) in the viewer's time zone (Asia/Shanghai by
    default), clamped to the calendar the database can store."""
    day = min(max(day, FIRST_DAY), LAST_DAY) + dt.timedelta(days=days_later)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
