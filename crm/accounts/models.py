"""Users, departments, roles with permissions and data scopes, API tokens (ORG-1..4)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.permissions import Scope


class Department(models.Model):
    name = models.CharField(_("name"), max_length=80)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent department"),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "name"], name="accounts_department_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    name_en = models.CharField(_("name (English)"), max_length=80, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    description_en = models.CharField(_("description (English)"), max_length=200, blank=True)
    is_system = models.BooleanField(_("built in"), default=False)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["id"]

    def __str__(self) -> str:
        if _english() and self.name_en:
            return self.name_en
        return self.name

    @property
    def description_display(self) -> str:
        """The description in the interface language (Chinese when no English is given)."""
        if _english() and self.description_en:
            return self.description_en
        return self.description


def _english() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "").startswith("en")


class RolePermission(models.Model):
    """What one role may do in one module, and over which records."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="permissions")
    module = models.SlugField(_("module"), max_length=40)
    actions = models.JSONField(_("actions"), default=list, blank=True)
    scope = models.CharField(
        _("data scope"), max_length=20, choices=Scope.choices, default=Scope.OWN
    )

    class Meta:
        verbose_name = _("role permission")
        verbose_name_plural = _("role permissions")
        constraints = [
            models.UniqueConstraint(
                fields=["role", "module"], name="accounts_rolepermission_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role.code}:{self.module}"


class CrmUserManager(UserManager):
    pass


class User(AbstractUser):
    full_name = models.CharField(_("full name"), max_length=80, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("department"),
    )
    supervisor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subordinates",
        verbose_name=_("supervisor"),
    )
    roles = models.ManyToManyField(Role, blank=True, related_name="users", verbose_name=_("roles"))
    must_change_password = models.BooleanField(
        _("must change password at next login"), default=False
    )
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True)

    objects = CrmUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["id"]
        indexes = [models.Index(fields=["department", "is_active"], name="accounts_user_dept_idx")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username


class ApiToken(models.Model):
    """A per-user API token; only its SHA-256 is stored, the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(_("prefix"), max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class LoginFailure(models.Model):
    """One failed password check, kept for the longest login window (issue 5 §3).

    The per-address and per-account limits count these rows. django-axes' own AccessAttempt
    keeps one counter per username and address and forgets it 15 minutes after its last
    failure, too short for the hour-long account window; its AccessFailureLog has no index on
    the time and, past 1,000 rows per username, drops the newest rows, which would let an
    attacker who filled it first fail unseen from then on.
    """

    username = models.CharField(max_length=255)
    ip_address = models.GenericIPAddressField(null=True)
    # What the per-address limit counts: the IPv4 address, or the IPv6 address's /64.
    network = models.CharField(max_length=50, blank=True)
    at = models.DateTimeField(default=timezone.now)
    # An administrator's unlock forgives the account's failures; they still count against the
    # addresses they came from.
    counts_for_account = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["username", "at"], name="accounts_loginfail_user_idx"),
            models.Index(fields=["network", "at"], name="accounts_loginfail_net_idx"),
            models.Index(fields=["at"], name="accounts_loginfail_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.ip_address} {self.at:%Y-%m-%d %H:%M:%S}"
