"""Opportunities and their pipeline (OPP-1..5). No business flow here: see services.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.core.models import SoftDeleteModel, TimeStampedModel, VersionedModel

LIVE = models.Q(deleted_at__isnull=True)


class StageKind(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Stage(TimeStampedModel):
    """A pipeline stage, managed in Settings (OPP-2; DESIGN convention 4: rows, not choices).

    A stage that opportunities use is never deleted, only retired (`is_active=False`): it
    stays on those records and in their history, and is offered for nothing new.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=40)
    name_en = models.CharField(_("name (English)"), max_length=40, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(_("win probability (%)"), default=0)
    kind = models.CharField(
        _("kind"), max_length=8, choices=StageKind.choices, default=StageKind.OPEN
    )
    entry_criteria = models.TextField(_("entry criteria"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__lte=100), name="sales_stage_probability_0_100"
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        lang = (get_language() or "zh-hans").lower()
        if lang.startswith("en") and self.name_en:
            return self.name_en
        return self.name


class OpportunityStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Opportunity(TimeStampedModel, VersionedModel, SoftDeleteModel):
    number = models.CharField(_("opportunity number"), max_length=24, unique=True)
    name = models.CharField(_("name"), max_length=120)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,  # purging a customer purges its opportunities with it
        related_name="opportunities",
        verbose_name=_("customer"),
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
        verbose_name=_("contact"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="opportunities",
        verbose_name=_("owner"),
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("stage")
    )
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=OpportunityStatus.choices,
        default=OpportunityStatus.OPEN,
    )
    amount = models.DecimalField(_("amount (¥)"), max_digits=14, decimal_places=2, default=0)
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    probability = models.PositiveSmallIntegerField(_("win probability (%)"), default=0)
    # False: the probability follows the stage; True: the user set it and it stays.
    probability_manual = models.BooleanField(_("probability set by hand"), default=False)
    description = models.TextField(_("description"), blank=True)
    competitors = models.TextField(_("competitors"), blank=True)
    source = models.SlugField(_("source"), max_length=40, blank=True)
    contract_no = models.CharField(_("contract number"), max_length=60, blank=True)
    actual_amount = models.DecimalField(
        _("actual amount (¥)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    lost_reason = models.SlugField(_("loss reason"), max_length=40, blank=True)
    lost_note = models.TextField(_("loss note"), blank=True)
    stage_entered_at = models.DateTimeField(_("in this stage since"))

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
    # Derived, written by the services: pinyin initials of the name, and the folded texts a
    # search matches (number, name, the customer's name and its pinyin initials).
    pinyin = models.CharField(max_length=120, blank=True, editable=False)
    search_blob = models.TextField(blank=True, editable=False)

    # Values of the custom fields an administrator defined for this module (SYS-1),
    # {key: JSON value}; validated by crm.core.customfields.custom_values_clean.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            models.Index(fields=["-created_at", "-id"], condition=LIVE, name="opp_live_recent_idx"),
            models.Index(
                fields=["owner", "-created_at", "-id"], condition=LIVE, name="opp_live_owner_idx"
            ),
            models.Index(
                fields=["stage", "-created_at", "-id"], condition=LIVE, name="opp_live_stage_idx"
            ),
            models.Index(
                fields=["owner", "stage", "-created_at", "-id"],
                condition=LIVE,
                name="opp_live_owner_stage_idx",
            ),
            models.Index(
                fields=["status", "-created_at", "-id"], condition=LIVE, name="opp_live_status_idx"
            ),
            models.Index(
                fields=["customer", "-created_at", "-id"],
                condition=LIVE,
                name="opp_live_customer_idx",
            ),
            # The forecast and the expected-close filter/sort.
            models.Index(
                fields=["status", "expected_close_date"],
                condition=LIVE,
                name="opp_live_close_idx",
            ),
            models.Index(
                fields=["owner", "status", "expected_close_date"],
                condition=LIVE,
                name="opp_live_owner_close_idx",
            ),
            models.Index(fields=["-amount", "-id"], condition=LIVE, name="opp_live_amount_idx"),
            # The list's other sorts: by name (pinyin) and by expected close date.
            models.Index(fields=["pinyin", "name", "id"], condition=LIVE, name="opp_live_name_idx"),
            models.Index(
                fields=["expected_close_date", "id"], condition=LIVE, name="opp_live_close_sort_idx"
            ),
            models.Index(
                fields=["owner", "-amount", "-id"], condition=LIVE, name="opp_live_owner_amount_idx"
            ),
            models.Index(
                fields=["-deleted_at", "-id"],
                condition=models.Q(deleted_at__isnull=False),
                name="opp_binned_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    @property
    def weighted_amount(self):
        from decimal import ROUND_HALF_UP, Decimal

        # Rounded half up, like PostgreSQL's round() in the pipeline totals' rebuild.
        return (Decimal(self.amount) * self.probability / Decimal(100)).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )


class StageChange(models.Model):
    """One move of an opportunity between stages (OPP-2: time and operator, automatically)."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()
    seconds_in_previous = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [
            models.Index(fields=["opportunity", "-changed_at", "-id"], name="sales_stagechg_idx")
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} -> {self.to_stage_id}"


class Milestone(models.Model):
    """A key milestone (OPP-5): 提交合同, 收到首付款, 完成签约 ... (dictionary "milestone")."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="milestones"
    )
    kind = models.SlugField(_("milestone"), max_length=40)
    occurred_on = models.DateField(_("date"))
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        indexes = [
            models.Index(fields=["opportunity", "-occurred_on", "-id"], name="sales_milestone_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.occurred_on}"


class PipelineTotal(models.Model):
    """Running totals of the live open opportunities per (owner, stage, expected-close month).

    Written by crm.sales.services in the same transaction as every change that moves an
    opportunity in or out of a bucket (create, edit, move, close, reopen, delete, restore,
    transfer), and rebuilt from the opportunities by `pipeline_totals_rebuild()` (the bench
    generator, the sweep). The kanban's column totals, the pipeline and the forecast read these
    few thousand rows instead of summing hundreds of thousands of opportunities per request;
    the data scope applies through `owner` exactly as on the opportunities themselves.
    `close_month` is yyyymm (202701), 0 for "no expected close date".
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    close_month = models.PositiveIntegerField(default=0)
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    weighted_amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("pipeline total")
        verbose_name_plural = _("pipeline totals")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "stage", "close_month"], name="sales_pipelinetotal_key"
            )
        ]
        indexes = [models.Index(fields=["stage", "owner"], name="sales_pipelinetotal_stage_idx")]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.stage_id}/{self.close_month}: {self.count}"
