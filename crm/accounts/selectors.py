"""Reads for accounts that other pages need."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from crm.accounts.models import RolePermission, User
from crm.core.models import AuditEntry
from crm.core.permissions import Scope
from crm.core.scope import scope_filter, user_scope, users_assignable_by
from crm.customers.models import Customer
from crm.customers.selectors import customers_deleted_visible_to, customers_visible_to


def administrators() -> QuerySet[User]:
    """Active users who can manage users and roles (`settings.configure`): whom to ask for
    access. Two queries; the permission list is small (one row per role and module)."""
    role_ids = [
        perm.role_id
        for perm in RolePermission.objects.filter(module="settings").only("role_id", "actions")
        if "configure" in (perm.actions or [])
    ]
    return (
        User.objects.filter(Q(is_superuser=True) | Q(roles__in=role_ids), is_active=True)
        .distinct()
        .order_by("full_name", "username")
    )


def audit_actors_visible_to(user: Any) -> QuerySet[User]:
    """Whom a scoped viewer may pick in the "who" filter: the users inside their audit scope."""
    return users_assignable_by(user, "audit")


def audit_entries_visible_to(user: Any) -> QuerySet[AuditEntry]:
    """The entries a viewer may read (SYS-2, SYS-5), two rules together:

    - the `audit` scope applies to the entry's actor: "own" is what the viewer did,
      "subordinates" adds what the people below them did, "department" what their department
      did, "all" every entry (system and anonymous ones, such as failed logins, included);
    - entries about customers are further limited to the customers the viewer may see (the
      recycle bin's too): the audit log must not open a customer's name, changes and contact
      details that the customer list would not show.
    """
    qs = AuditEntry.objects.select_related("content_type").filter(
        scope_filter(user, "audit", owner_field="actor")
    )
    if user_scope(user, "customers") == Scope.ALL:
        return qs
    about_customers = Q(content_type=ContentType.objects.get_for_model(Customer))
    visible = Q(object_id__in=customers_visible_to(user).values("pk")) | Q(
        object_id__in=customers_deleted_visible_to(user).values("pk")
    )
    return qs.filter(~about_customers | visible)
