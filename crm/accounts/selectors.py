"""Reads for accounts that other pages need."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from crm.accounts.models import RolePermission, User


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
