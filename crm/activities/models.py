"""The follow-up log (FUP-1) and the planned next steps (FUP-2). Flow in services.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.core.models import SoftDeleteModel, TimeStampedModel, VersionedModel

LIVE = models.Q(deleted_at__isnull=True)
# A planned next step not yet done: what "my follow-ups" lists and the reminder sweep reads.
PLAN_OPEN = models.Q(deleted_at__isnull=True, next_at__isnull=False, next_done_at__isnull=True)


class FollowUp(TimeStampedModel, VersionedModel, SoftDeleteModel):
    """One follow-up: what happened (method, time, summary, feedback, next action) and,
    optionally, the next step planned on the same form (next_at, next_method, next_goal).

    `author` is whose follow-up it is (the data scope's owner field): the person who made it,
    or the subordinate a manager logged it for; `created_by` is who typed it in.
    """

    # A follow-up hangs on a customer, or on a lead not yet converted (issue 7 §1); when
    # the lead is converted its follow-ups get the customer too.
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,  # purged with its customer
        related_name="followups",
        verbose_name=_("customer"),
    )
    lead = models.ForeignKey(
        "leads.Lead",
        null=True,
        blank=True,
        on_delete=models.CASCADE,  # purged with its lead
        related_name="followups",
        verbose_name=_("lead"),
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity",
        null=True,
        blank=True,
        # A purged opportunity leaves its follow-ups in the customer's log.
        on_delete=models.SET_NULL,
        related_name="followups",
        verbose_name=_("opportunity"),
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="followups",
        verbose_name=_("contact"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="followups",
        verbose_name=_("followed up by"),
    )
    method = models.SlugField(_("method"), max_length=40)
    occurred_at = models.DateTimeField(_("time"))
    summary = models.TextField(_("summary"))
    feedback = models.TextField(_("customer feedback"), blank=True)
    next_action = models.TextField(_("next action"), blank=True)
    due_on = models.DateField(_("expected completion date"), null=True, blank=True)
    # The next step planned on the same form (FUP-2).
    next_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    next_method = models.SlugField(_("next method"), max_length=40, blank=True)
    next_goal = models.CharField(_("next goal"), max_length=500, blank=True)
    # The planned time each reminder (FUP-2) was settled for, written by the sweep: a plan
    # reminded for its current time is not read again; a re-planned time differs and reminds.
    reminded_soon_for = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_overdue_for = models.DateTimeField(null=True, blank=True, editable=False)
    # When the planned step was done: the follow-up that did it (logged from the plan).
    next_done_at = models.DateTimeField(_("plan done at"), null=True, blank=True)
    next_done_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("done by follow-up"),
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("logged by"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("updated by"),
    )

    # Values of the custom fields an administrator defined for this module (SYS-1),
    # {key: JSON value}; validated by crm.core.customfields.custom_values_clean.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [
            models.Index(
                fields=["-occurred_at", "-id"], condition=LIVE, name="fup_live_recent_idx"
            ),
            models.Index(
                fields=["author", "-occurred_at", "-id"], condition=LIVE, name="fup_live_author_idx"
            ),
            models.Index(
                fields=["customer", "-occurred_at", "-id"],
                condition=LIVE,
                name="fup_live_customer_idx",
            ),
            models.Index(
                fields=["opportunity", "-occurred_at", "-id"],
                condition=LIVE,
                name="fup_live_opp_idx",
            ),
            models.Index(
                fields=["lead", "-occurred_at", "-id"],
                condition=LIVE & models.Q(lead__isnull=False),
                name="fup_live_lead_idx",
            ),
            # Open plans: "my follow-ups" (by author, by time) and the reminder sweep (by time).
            models.Index(
                fields=["author", "next_at"], condition=PLAN_OPEN, name="fup_plan_author_idx"
            ),
            models.Index(fields=["next_at"], condition=PLAN_OPEN, name="fup_plan_due_idx"),
            models.Index(
                fields=["-deleted_at", "-id"],
                condition=models.Q(deleted_at__isnull=False),
                name="fup_binned_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(customer__isnull=False) | models.Q(lead__isnull=False),
                name="fup_customer_or_lead",
            )
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.summary[:30]}"
