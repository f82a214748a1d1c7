"""Customer archive tables (CUS-1..7). No business flow here: see services.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.core.models import SoftDeleteModel, TimeStampedModel, VersionedModel


class CustomerType(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    INDIVIDUAL = "individual", _("Individual")


class Grade(models.TextChoices):
    A = "A", _("A (key)")
    B = "B", _("B (potential)")
    C = "C", _("C (normal)")


# Rows outside the recycle bin: the condition of the list indexes below.
LIVE = models.Q(deleted_at__isnull=True)

# The clocks of the public pool's return rules (issue 7 §4, crm.customers.pool), as SQL over
# the row: since when the owner has not followed up (the later of the last follow-up and the
# day they got the customer), and since when it has had no won opportunity. Rows without
# `owned_since` count from their creation. The sweep filters on exactly these expressions,
# so that the planner answers it from the indexes below.
OWNED_SINCE = Coalesce(F("owned_since"), F("created_at"))
FOLLOWUP_CLOCK = Greatest(Coalesce(F("last_followup_at"), OWNED_SINCE), OWNED_SINCE)
WON_CLOCK = Greatest(Coalesce(F("last_won_at"), OWNED_SINCE), OWNED_SINCE)
OWNED_LIVE = LIVE & models.Q(owner__isnull=False)


class Customer(TimeStampedModel, VersionedModel, SoftDeleteModel):
    number = models.CharField(_("customer number"), max_length=24, unique=True)
    type = models.CharField(
        _("type"), max_length=12, choices=CustomerType.choices, default=CustomerType.ENTERPRISE
    )
    name = models.CharField(_("name"), max_length=100)
    industry = models.SlugField(_("industry"), max_length=40)
    source = models.SlugField(_("source"), max_length=40, blank=True)
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, default=Grade.C)
    status = models.SlugField(_("status"), max_length=40, default="potential")
    # Empty: the customer is in the public pool (公海, issue 7 §4).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        verbose_name=_("owner"),
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    background = models.TextField(_("cooperation background"), blank=True)
    remarks = models.TextField(_("remarks"), blank=True)
    first_contact_date = models.DateField(_("first contact date"), null=True, blank=True)
    requirement = models.TextField(_("initial requirement"), blank=True)
    budget = models.DecimalField(
        _("budget (¥)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    decision_chain = models.TextField(_("decision chain"), blank=True)
    competitors = models.TextField(_("competitors"), blank=True)
    last_followup_at = models.DateTimeField(_("last follow-up"), null=True, blank=True)
    # The earliest open plan of its follow-ups (FUP-2), kept by crm.activities.services.
    next_followup_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)

    # Lifecycle (CUS-8): why the customer was lost, and when the status last changed.
    lost_reason = models.SlugField(_("loss reason"), max_length=40, blank=True)
    lost_note = models.TextField(_("loss note"), blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    # The clocks of issue 7, stored by the sweep as of its run and settled at once by the
    # actions that settle them (crm.customers.clocks):
    # since when the current owner has the customer (claim, transfer, creation) ...
    owned_since = models.DateTimeField(_("owned since"), null=True, blank=True)
    # ... when it last had a won opportunity (the pool's "no deal for M days" rule) ...
    last_won_at = models.DateTimeField(_("last won opportunity"), null=True, blank=True)
    # ... the last interaction of any kind: follow-up, opportunity change, order (CUS-10) ...
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    # ... overdue by its grade's follow-up cadence since (FUP-3) ...
    followup_overdue_since = models.DateTimeField(
        _("follow-up overdue since"), null=True, blank=True
    )
    # ... dormant since (CUS-10) ...
    dormant_since = models.DateTimeField(_("dormant since"), null=True, blank=True)
    # ... in the public pool since, and when its owner was told it is about to return there.
    pool_entered_at = models.DateTimeField(_("in the pool since"), null=True, blank=True)
    pool_notice_at = models.DateTimeField(_("pool return notice sent"), null=True, blank=True)

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

    # Merged into another customer (CUS-6, crm.customers.merge): a tombstone kept in the
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
    name_key = models.CharField(max_length=100, db_index=True, editable=False)
    phone_digits = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    email_key = models.CharField(max_length=254, blank=True, db_index=True, editable=False)
    pinyin = models.CharField(max_length=100, blank=True, editable=False)
    search_blob = models.TextField(blank=True, editable=False)
    search_document = models.TextField(blank=True, editable=False)

    # Values of the custom fields an administrator defined for this module (SYS-1),
    # {key: JSON value}; validated by crm.core.customfields.custom_values_clean.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            # Live rows in each list order, as partial indexes: PostgreSQL cannot walk an index
            # led by "deleted_at" in the order of the columns after it ("IS NULL" is no
            # equality for the planner), and sorted the whole table for every page instead.
            models.Index(
                fields=["-created_at", "-id"], condition=LIVE, name="cust_live_recent_idx"
            ),
            models.Index(
                fields=["owner", "-created_at", "-id"], condition=LIVE, name="cust_live_owner_idx"
            ),
            models.Index(
                fields=["pinyin", "name", "id"], condition=LIVE, name="cust_live_name_idx"
            ),
            # A rep's own customers by name (the owner column leads, as in the scope filter).
            models.Index(
                fields=["owner", "pinyin", "name", "id"],
                condition=LIVE,
                name="cust_live_owner_name_idx",
            ),
            # The grade filter, and the grade sort in both directions (grade, then newest).
            models.Index(
                fields=["grade", "-created_at", "-id"], condition=LIVE, name="cust_live_grade_idx"
            ),
            models.Index(
                fields=["-grade", "-created_at", "-id"],
                condition=LIVE,
                name="cust_live_grade_desc_idx",
            ),
            # The other list filters, each in list order within the value.
            models.Index(
                fields=["industry", "-created_at", "-id"],
                condition=LIVE,
                name="cust_live_industry_idx",
            ),
            models.Index(
                fields=["source", "-created_at", "-id"], condition=LIVE, name="cust_live_source_idx"
            ),
            models.Index(
                fields=["status", "-created_at", "-id"], condition=LIVE, name="cust_live_status_idx"
            ),
            models.Index(
                fields=["type", "-created_at", "-id"], condition=LIVE, name="cust_live_type_idx"
            ),
            models.Index(
                fields=["-updated_at", "-id"], condition=LIVE, name="cust_live_updated_idx"
            ),
            models.Index(fields=["credit_code"], name="cust_credit_code_idx"),
            # Possible duplicates (CUS-6, crm.core.merge.duplicate_groups): live rows grouped
            # by each duplicate key, the owner beside it for the scope (index-only scans).
            *[
                models.Index(
                    fields=[key, "owner"],
                    condition=LIVE & ~models.Q(**{key: ""}),
                    name=f"cust_dup_{short}_idx",
                )
                for key, short in (
                    ("name_key", "name"),
                    ("phone_digits", "phone"),
                    ("email_key", "email"),
                    ("credit_code", "credit"),
                )
            ],
            # The public pool, newest arrivals first (issue 7 §4).
            models.Index(
                fields=["-pool_entered_at", "-id"],
                condition=LIVE & models.Q(owner__isnull=True),
                name="cust_pool_idx",
            ),
            # The pool sweep: customers per grade by each return clock (nearly every row is
            # owned and live, and PostgreSQL reads no statistics from a partial index's
            # expression: partial, the planner guessed a third of the table was due and
            # scanned it all), and the customers whose owner was told they are about to return.
            models.Index(F("grade"), FOLLOWUP_CLOCK, name="cust_pool_followup_idx"),
            models.Index(F("grade"), WON_CLOCK, name="cust_pool_won_idx"),
            models.Index(
                fields=["pool_notice_at"],
                condition=OWNED_LIVE & models.Q(pool_notice_at__isnull=False),
                name="cust_pool_notice_idx",
            ),
            # Overdue follow-ups per owner (FUP-3) and dormant customers (CUS-10).
            models.Index(
                fields=["owner", "followup_overdue_since"],
                condition=LIVE & models.Q(followup_overdue_since__isnull=False),
                name="cust_overdue_idx",
            ),
            models.Index(
                fields=["owner", "-dormant_since", "-id"],
                condition=LIVE & models.Q(dormant_since__isnull=False),
                name="cust_dormant_idx",
            ),
            # The clocks' sweeps (crm.customers.clocks), each query's own condition: owned
            # customers not yet overdue by the base their cadence counts from, per grade ...
            models.Index(
                F("grade"),
                Coalesce(F("last_followup_at"), F("owned_since"), F("created_at")),
                condition=LIVE & models.Q(owner__isnull=False, followup_overdue_since__isnull=True),
                name="cust_cadence_due_idx",
            ),
            # ... overdue ones (back in cadence, or overdue from another moment) ...
            models.Index(
                F("grade"),
                Coalesce(F("last_followup_at"), F("owned_since"), F("created_at")),
                F("followup_overdue_since"),
                condition=LIVE & models.Q(followup_overdue_since__isnull=False),
                name="cust_cadence_over_idx",
            ),
            # ... and the same two for dormancy, by the last activity.
            models.Index(
                Coalesce(F("last_activity_at"), F("created_at")),
                condition=LIVE & models.Q(dormant_since__isnull=True),
                name="cust_dormant_due_idx",
            ),
            models.Index(
                Coalesce(F("last_activity_at"), F("created_at")),
                F("dormant_since"),
                condition=LIVE & models.Q(dormant_since__isnull=False),
                name="cust_dormant_over_idx",
            ),
            # The overdue page for a manager who sees everyone (longest overdue first), the
            # dormant page likewise (latest first), and the list's overdue/dormant filters.
            models.Index(
                fields=["followup_overdue_since", "id"],
                condition=LIVE & models.Q(followup_overdue_since__isnull=False),
                name="cust_overdue_all_idx",
            ),
            models.Index(
                fields=["-dormant_since", "-id"],
                condition=LIVE & models.Q(dormant_since__isnull=False),
                name="cust_dormant_all_idx",
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=LIVE & models.Q(followup_overdue_since__isnull=False),
                name="cust_overdue_recent_idx",
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=LIVE & models.Q(dormant_since__isnull=False),
                name="cust_dormant_recent_idx",
            ),
            # The recycle bin and its purge sweep. Partial, so that no plan for live rows can
            # pick it: SQLite's statistics count NULLs as distinct values and took "deleted_at
            # IS NULL" for a hundred rows, then sorted the whole table for each page.
            models.Index(
                fields=["-deleted_at", "-id"],
                condition=models.Q(deleted_at__isnull=False),
                name="cust_binned_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"


class PoolMove(models.Model):
    """One move of a customer into or out of the public pool (issue 7 §4).

    `user` is the owner who released or lost the customer (release, return) or the user who
    took it (claim, assign): the claim cool-down reads the moves of the claiming user.
    """

    class Kind(models.TextChoices):
        RELEASE = "release", _("Released")
        RETURN = "return", _("Returned by rule")
        CLAIM = "claim", _("Claimed")
        ASSIGN = "assign", _("Assigned from the pool")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="pool_moves", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.TextField(_("reason"), blank=True)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("pool move")
        verbose_name_plural = _("pool moves")
        indexes = [
            models.Index(fields=["customer", "user", "-at"], name="cust_poolmove_cooldown_idx"),
            models.Index(fields=["-at", "-id"], name="cust_poolmove_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.customer_id}"


class Contact(TimeStampedModel):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("customer")
    )
    # A person's name reads 姓名, a company's 名称: same English word, its own context.
    name = models.CharField(pgettext_lazy("person", "name"), max_length=60)
    title = models.CharField(_("title"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    phone_digits = models.CharField(max_length=32, blank=True, db_index=True, editable=False)

    # Values of the custom fields an administrator defined for this module (SYS-1),
    # {key: JSON value}; validated by crm.core.customfields.custom_values_clean.
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(is_primary=True),
                name="customers_contact_one_primary",
            )
        ]

    def __str__(self) -> str:
        return self.name
