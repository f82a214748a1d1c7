"""Leads (LEAD-1..4), their assignment rules and the public web forms. Flow in services.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from crm.core.models import SoftDeleteModel, TimeStampedModel, VersionedModel

LIVE = models.Q(deleted_at__isnull=True)


class LeadGrade(models.TextChoices):
    """LEAD-2, with the seed's meanings (seed 004 §二(一))."""

    A = "A", _("A: clear need, budget and authority")
    B = "B", _("B: potential need")
    C = "C", _("C: no clear need")


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    CONVERTED = "converted", _("Converted")
    DISQUALIFIED = "disqualified", _("Disqualified")


# Leads still being worked: the SLA and cadence clocks run only for these.
OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)


class SlaState(models.TextChoices):
    """The first-contact SLA (LEAD-3), stored by the sweep and settled by the first contact."""

    ON_TIME = "on_time", _("On time")
    DUE_SOON = "due_soon", _("Due soon")
    BREACHED = "breached", _("Breached")
    MET = "met", _("Met")
    NONE = "none", _("No deadline")


class Lead(TimeStampedModel, VersionedModel, SoftDeleteModel):
    number = models.CharField(_("lead number"), max_length=24, unique=True)
    company = models.CharField(_("company"), max_length=100)
    name = models.CharField(_("contact person"), max_length=60)
    title = models.CharField(_("title"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    source = models.SlugField(_("source"), max_length=40, blank=True)
    grade = models.CharField(
        _("grade"), max_length=1, choices=LeadGrade.choices, default=LeadGrade.B
    )
    status = models.CharField(
        _("status"), max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    # Empty: unassigned (seen by the users who may assign leads).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        verbose_name=_("owner"),
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    region = models.SlugField(_("region"), max_length=40, blank=True)
    requirement = models.TextField(_("requirement"), blank=True)
    budget = models.DecimalField(
        _("budget (¥)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    notes = models.TextField(_("notes"), blank=True)
    # Which public form captured it, if one did (LEAD-1).
    web_form = models.ForeignKey(
        "leads.WebForm",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        verbose_name=_("web form"),
    )

    # The first-contact SLA (LEAD-3): the deadline from the grade, when it was met, the state
    # as of the last sweep, and the notices already sent (each once).
    first_contact_due_at = models.DateTimeField(_("first contact due"), null=True, blank=True)
    first_contacted_at = models.DateTimeField(_("first contacted at"), null=True, blank=True)
    sla_state = models.CharField(
        _("SLA"), max_length=10, choices=SlaState.choices, default=SlaState.NONE
    )
    sla_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla_breach_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The cadence clock (LEAD-3 after the first contact).
    last_followup_at = models.DateTimeField(_("last follow-up"), null=True, blank=True)
    followup_overdue_since = models.DateTimeField(
        _("follow-up overdue since"), null=True, blank=True
    )

    # What it became (LEAD-4).
    converted_customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        verbose_name=_("converted to customer"),
    )
    converted_contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("converted to contact"),
    )
    converted_opportunity = models.ForeignKey(
        "sales.Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        verbose_name=_("converted to opportunity"),
    )
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    converted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("converted by"),
    )
    disqualify_reason = models.SlugField(_("disqualification reason"), max_length=40, blank=True)
    disqualify_note = models.TextField(_("disqualification note"), blank=True)
    disqualified_at = models.DateTimeField(_("disqualified at"), null=True, blank=True)
    # The status a requalified lead goes back to.
    status_before_disqualify = models.CharField(max_length=12, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("updated by"),
    )

    # Merged into another lead (CUS-6 for leads, crm.leads.merge): a tombstone kept in the
    # recycle-bin columns (deleted_at set) so every list, search and duplicate check skips
    # it, while its old URL and number still lead to the survivor.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)

    # Derived keys, written by the services, read by duplicate checks and search.
    company_key = models.CharField(max_length=100, db_index=True, editable=False)
    phone_digits = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    email_key = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    pinyin = models.CharField(max_length=100, blank=True, editable=False)
    search_blob = models.TextField(blank=True, editable=False)
    # The index tokens of search_blob's texts (crm.core.search; a stored vector on PostgreSQL).
    search_document = models.TextField(blank=True, editable=False)

    # Values of the custom fields an administrator defined for this module (SYS-1),
    # {key: JSON value}; validated by crm.core.customfields.custom_values_clean.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(
                fields=["-created_at", "-id"], condition=LIVE, name="lead_live_recent_idx"
            ),
            models.Index(
                fields=["owner", "-created_at", "-id"], condition=LIVE, name="lead_live_owner_idx"
            ),
            models.Index(
                fields=["status", "-created_at", "-id"],
                condition=LIVE,
                name="lead_live_status_idx",
            ),
            models.Index(
                fields=["grade", "-created_at", "-id"], condition=LIVE, name="lead_live_grade_idx"
            ),
            models.Index(
                fields=["source", "-created_at", "-id"],
                condition=LIVE,
                name="lead_live_source_idx",
            ),
            models.Index(
                fields=["sla_state", "-created_at", "-id"],
                condition=LIVE,
                name="lead_live_sla_idx",
            ),
            # The list's other sorts (crm.leads.selectors.SORTS): by deadline, by company
            # (pinyin), by last change.
            models.Index(
                fields=["first_contact_due_at", "id"], condition=LIVE, name="lead_live_due_idx"
            ),
            models.Index(
                fields=["pinyin", "company", "id"], condition=LIVE, name="lead_live_company_idx"
            ),
            models.Index(
                fields=["-updated_at", "-id"], condition=LIVE, name="lead_live_updated_idx"
            ),
            # Possible duplicates (crm.core.merge.duplicate_groups): open live leads grouped
            # by each duplicate key, the owner beside it for the scope (index-only scans).
            *[
                models.Index(
                    fields=[key, "owner"],
                    condition=LIVE
                    & models.Q(status__in=["new", "contacted", "qualified"])
                    & ~models.Q(**{key: ""}),
                    name=f"lead_dup_{short}_idx",
                )
                for key, short in (
                    ("company_key", "company"),
                    ("phone_digits", "phone"),
                    ("email_key", "email"),
                )
            ],
            # The SLA sweep: open deadlines not yet met, by deadline.
            models.Index(
                fields=["first_contact_due_at"],
                condition=LIVE
                & models.Q(first_contacted_at__isnull=True, first_contact_due_at__isnull=False),
                name="lead_sla_due_idx",
            ),
            models.Index(
                fields=["owner", "followup_overdue_since"],
                condition=LIVE & models.Q(followup_overdue_since__isnull=False),
                name="lead_overdue_idx",
            ),
            # The cadence sweep (crm.leads.sweeps), as for customers: open assigned leads
            # not yet overdue by the base their cadence counts from, per grade; overdue ones;
            # and the overdue page of a manager who sees everyone.
            models.Index(
                F("grade"),
                Coalesce(F("last_followup_at"), F("assigned_at"), F("created_at")),
                condition=LIVE
                & models.Q(
                    owner__isnull=False,
                    followup_overdue_since__isnull=True,
                    status__in=["new", "contacted", "qualified"],
                ),
                name="lead_cadence_due_idx",
            ),
            models.Index(
                F("grade"),
                Coalesce(F("last_followup_at"), F("assigned_at"), F("created_at")),
                F("followup_overdue_since"),
                condition=LIVE & models.Q(followup_overdue_since__isnull=False),
                name="lead_cadence_over_idx",
            ),
            models.Index(
                fields=["followup_overdue_since", "id"],
                condition=LIVE & models.Q(followup_overdue_since__isnull=False),
                name="lead_overdue_all_idx",
            ),
            models.Index(
                fields=["-deleted_at", "-id"],
                condition=models.Q(deleted_at__isnull=False),
                name="lead_binned_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.name} ({self.number})"


class AssignmentRule(models.Model):
    """One automatic assignment rule (LEAD-4), tried in `position` order; the first that
    matches assigns. A rule with no condition matches every lead (the fallback)."""

    class Target(models.TextChoices):
        USER = "user", _("A user")
        ROUND_ROBIN = "round_robin", _("Round-robin in a team")

    name = models.CharField(_("name"), max_length=60)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    match_source = models.SlugField(_("source"), max_length=40, blank=True)
    match_region = models.SlugField(_("region"), max_length=40, blank=True)
    match_grade = models.CharField(_("grade"), max_length=1, blank=True)
    target = models.CharField(
        _("assign to"), max_length=12, choices=Target.choices, default=Target.USER
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("team"),
    )
    # The round-robin's pointer: the member who got the last lead.
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class WebForm(TimeStampedModel):
    """A public form on the company's site that creates leads (LEAD-1; issue 7 §2)."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    # Which lead fields the form asks, in order, and which of them are required.
    fields = models.JSONField(_("fields"), default=list, blank=True)
    required = models.JSONField(_("required fields"), default=list, blank=True)
    source = models.SlugField(_("source"), max_length=40, blank=True)
    grade = models.CharField(_("grade"), max_length=1, blank=True)
    # Empty: the ordered assignment rules decide.
    assignment_rule = models.ForeignKey(
        AssignmentRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("assignment rule"),
    )
    thank_you = models.TextField(_("thank-you text"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    submissions = models.PositiveIntegerField(_("leads captured"), default=0)
    last_submitted_at = models.DateTimeField(_("last submission"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
