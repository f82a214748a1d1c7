"""Shared tables and model mixins used by every module."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class VersionedModel(models.Model):
    """A version column: every saved edit increments it; a stale edit is refused."""

    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        abstract = True


class SoftDeleteModel(models.Model):
    """Deleted rows stay in the table (recycle bin) until the purge sweep removes them."""

    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("deleted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class NumberingRule(models.Model):
    """How numbers of one kind look: prefix + period + zero-padded sequence (CUS-2)."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    prefix = models.CharField(_("prefix"), max_length=10)
    period_format = models.CharField(
        _("period format"),
        max_length=20,
        default="%Y%m",
        help_text=_("strftime pattern; the sequence restarts whenever it changes"),
    )
    digits = models.PositiveSmallIntegerField(_("sequence digits"), default=4)

    class Meta:
        verbose_name = _("numbering rule")
        verbose_name_plural = _("numbering rules")

    def __str__(self) -> str:
        return f"{self.key}: {self.prefix}{self.period_format}{'#' * self.digits}"


class NumberSequence(models.Model):
    """The counter for one rule and period; locked while a number is taken."""

    key = models.SlugField(max_length=40)
    period = models.CharField(max_length=20)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "period"], name="core_numbersequence_key_period")
        ]

    def __str__(self) -> str:
        return f"{self.key}/{self.period}={self.last_value}"


class DictionaryItem(models.Model):
    """One entry of a configurable list (industries, sources, statuses, loss reasons...)."""

    kind = models.SlugField(_("list"), max_length=40)
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("label (Chinese)"), max_length=80)
    label_en = models.CharField(_("label (English)"), max_length=80, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("list entry")
        verbose_name_plural = _("list entries")
        ordering = ["kind", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "code"], name="core_dictionaryitem_kind_code")
        ]

    def __str__(self) -> str:
        return self.display_label

    @property
    def display_label(self) -> str:
        lang = (get_language() or "zh-hans").lower()
        if lang.startswith("en") and self.label_en:
            return self.label_en
        return self.label


class SystemSetting(models.Model):
    """Business rules as data: values an administrator changes in Settings."""

    key = models.SlugField(_("key"), max_length=60, unique=True)
    value = models.JSONField(_("value"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("system setting")
        verbose_name_plural = _("system settings")

    def __str__(self) -> str:
        return self.key


class AuditEntry(models.Model):
    """Who did what, when, to which record, with each field's before and after (SYS-2)."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        UPDATE = "update", _("Updated")
        DELETE = "delete", _("Deleted")
        RESTORE = "restore", _("Restored")
        PURGE = "purge", _("Purged")
        TRANSFER = "transfer", _("Transferred")
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logged out")
        PASSWORD_CHANGE = "password_change", _("Password changed")
        DEACTIVATE = "deactivate", _("Deactivated")
        PERMISSION_CHANGE = "permission_change", _("Permissions changed")
        TOKEN = "token", _("API token")
        EXPORT = "export", _("Exported")
        ACCOUNT_LOCKED = "account_locked", _("Account locked")
        # Personal data (issue 8 §6, crm.privacy): a masked phone/email shown on demand (the
        # changes name the field, never the value), a data-subject export, an anonymisation.
        REVEAL = "reveal", _("Revealed contact details")
        PERSONAL_EXPORT = "personal_export", _("Personal data exported")
        ANONYMISE = "anonymise", _("Anonymised")

    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=30, choices=Action.choices)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_id = models.BigIntegerField(null=True, blank=True)
    object_repr = models.CharField(_("record"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=list, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "-created_at"], name="core_audit_object_idx"
            ),
            models.Index(fields=["actor", "-created_at"], name="core_audit_actor_idx"),
            models.Index(fields=["-created_at"], name="core_audit_time_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"
        )

    SYSTEM_ACTOR = "system"  # what the sweeps and purges record as their actor

    @property
    def actor_label(self) -> str:
        """Who did it, as a page shows it: the user's name, or "System" (translated) for the
        sweeps and purges, which record the actor "system" or none."""
        if self.actor_id is None and self.actor_name in ("", self.SYSTEM_ACTOR):
            return str(_("System"))
        return self.actor_name


class ConfigStamp(models.Model):
    """One row whose token changes with every configuration write (crm.core.configstate).

    Processes cache the parsed configuration under the token they read; a new token means
    "load again". A random token, never a counter: a rolled-back change can never come back
    as the stamp of different data.
    """

    token = models.CharField(max_length=32)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("configuration stamp")
        verbose_name_plural = _("configuration stamps")

    def __str__(self) -> str:
        return self.token


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    """A dated folder and a random name: the user's file name is kept in `name`, never used
    as a path (no traversal, no collisions, nothing guessable)."""
    import uuid

    from django.utils import timezone

    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on any record (customers, opportunities, follow-ups; later tasks and orders).

    Stored through Django's storage API (a folder under the data directory by default, an
    S3-compatible bucket when configured); read only through the download view, which checks
    that the viewer may see the record (crm.core.attachments). Deleting an attachment moves it
    to the recycle bin; deleting its record keeps it; purging the record removes the file.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.BigIntegerField()
    # The customer the record belongs to, for the customer page's files tab and timeline.
    customer_id = models.BigIntegerField(null=True, blank=True)
    file = models.FileField(_("file"), upload_to=attachment_upload_to, max_length=200)
    name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    mime_type = models.CharField(_("type"), max_length=100)
    sha256 = models.CharField(max_length=64, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("deleted by"),
    )

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "-created_at"],
                name="core_attach_object_idx",
            ),
            models.Index(
                fields=["customer_id", "-created_at"],
                condition=models.Q(deleted_at__isnull=True),
                name="core_attach_customer_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TimelineEntry(models.Model):
    """One line of a customer's timeline (CUS-11): a follow-up, a stage change, a win or a
    loss, a milestone, a file upload or a field change, written by the service that did it.

    A table of its own (not a union of the modules' tables read at page time) so that a
    customer's page of 30 newest entries, of any kinds, is one index range however many
    opportunities and follow-ups the customer has. `data` holds the values the text is made
    of, so the line is worded in the reader's language when it is shown. `module` and
    `owner_id` say whose record the line comes from: the reader sees it only when their data
    scope in that module covers that owner.
    """

    customer_id = models.BigIntegerField()
    kind = models.SlugField(max_length=30)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    module = models.SlugField(max_length=40)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_type = models.SlugField(max_length=40)
    object_id = models.BigIntegerField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        indexes = [
            models.Index(fields=["customer_id", "-at", "-id"], name="core_timeline_idx"),
            models.Index(
                fields=["customer_id", "kind", "-at", "-id"], name="core_timeline_kind_idx"
            ),
            models.Index(fields=["object_type", "object_id"], name="core_timeline_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.object_type}:{self.object_id}"


class Approval(TimeStampedModel):
    """One approval request (issue 7 §5): a change that waits for a decision.

    Generic on purpose: the customer lifecycle uses it first, order discounts and contracts
    will use it too. `kind` names a handler registered in crm.core.approvals, which chooses
    the approvers and applies `payload` to the object when the request is approved.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kind = models.SlugField(_("kind"), max_length=40)
    object_type = models.SlugField(_("object type"), max_length=40)
    object_id = models.BigIntegerField(_("object id"))
    # The customer the object belongs to, when it has one: its timeline and its scope.
    customer_id = models.BigIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="approvals_requested",
        verbose_name=_("requested by"),
    )
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="approvals_to_decide", verbose_name=_("approvers")
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    payload = models.JSONField(_("requested change"), default=dict, blank=True)
    # Why the requester asks (shown to the approver) and what the approver answered.
    note = models.TextField(_("request note"), blank=True)
    comment = models.TextField(_("comment"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("approval")
        verbose_name_plural = _("approvals")
        indexes = [
            models.Index(fields=["state", "-created_at", "-id"], name="core_approval_state_idx"),
            models.Index(
                fields=["requested_by", "state", "-created_at"], name="core_approval_req_idx"
            ),
            models.Index(fields=["object_type", "object_id"], name="core_approval_object_idx"),
            # The approvals list of every state, newest first ("all I can see", "my requests").
            models.Index(fields=["-created_at", "-id"], name="core_approval_recent_idx"),
            models.Index(
                fields=["requested_by", "-created_at", "-id"], name="core_approval_mine_idx"
            ),
        ]
        constraints = [
            # A pending request blocks a second one of the same kind on the same object.
            models.UniqueConstraint(
                fields=["kind", "object_type", "object_id"],
                condition=models.Q(state="pending"),
                name="core_approval_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_type}:{self.object_id} ({self.state})"


class CustomField(TimeStampedModel):
    """A field an administrator adds to a module (SYS-1, issue 8 §1).

    Values live in the module's own `custom` JSON column, keyed by `key`, so adding a field
    never alters a table. The key and the type are fixed once created: stored values are
    written in the type's JSON form under that key. Retiring (is_active=False) hides the field
    and keeps its values. Choice options are the dictionary kind `cf_<module>_<key>`.
    """

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        TEXTAREA = "textarea", _("Long text")
        INTEGER = "integer", _("Integer")
        DECIMAL = "decimal", _("Decimal")
        DATE = "date", _("Date")
        DATETIME = "datetime", _("Date and time")
        CHOICE = "choice", _("Single choice")
        MULTICHOICE = "multichoice", _("Multiple choice")
        BOOL = "bool", _("Yes/no")
        USER = "user", _("User")
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        URL = "url", _("URL")

    module = models.SlugField(_("module"), max_length=30)
    key = models.SlugField(_("key"), max_length=20)
    label = models.CharField(_("label (Chinese)"), max_length=60)
    label_en = models.CharField(_("label (English)"), max_length=60, blank=True)
    type = models.CharField(_("type"), max_length=12, choices=Type.choices)
    required = models.BooleanField(_("required"), default=False)
    help = models.CharField(_("help text"), max_length=200, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    show_in_list = models.BooleanField(_("show in list"), default=False)
    # Optional bounds of an integer or decimal field, checked on every value.
    min_value = models.DecimalField(
        _("minimum"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum"), max_digits=16, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["module", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["module", "key"], name="core_customfield_module_key")
        ]

    def __str__(self) -> str:
        return self.display_label

    @property
    def display_label(self) -> str:
        lang = (get_language() or "zh-hans").lower()
        if lang.startswith("en") and self.label_en:
            return self.label_en
        return self.label

    @property
    def dictionary_kind(self) -> str:
        return f"cf_{self.module}_{self.key}"
