"""Segments (customers chosen by rules), RFM scores, campaigns and the product ladder.

A segment stores its rules, never its members: `procedo.marketing.rules` compiles
them into one query whenever they are asked. RFM rows and computed ladder rows are
written set-based by `procedo.marketing.services` and recomputed, never edited.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Match(models.TextChoices):
    ALL = "all", _("all of these")
    ANY = "any", _("any of these")


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=200)
    match = models.CharField(_("match"), max_length=3, choices=Match.choices, default=Match.ALL)
    # [{"field": "orders_count", "op": "gte", "value": "2", "days": null}, …], cleaned by
    # `rules.rules_clean` before it is stored.
    rules = models.JSONField(_("rules"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("segment")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class RfmGroup(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalist")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class CustomerRfm(models.Model):
    """One customer's recency, frequency and monetary quintiles (5 is best) and their group."""

    customer = models.OneToOneField(
        "customers.Customer",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="rfm",
        # No database constraint, as on SOP runs: on PostgreSQL each would be a row lock
        # on the customer, taken per inserted row at commit, a third of a refresh that
        # scores everyone (make bench, B4A). A refresh writes only ids it reads from the
        # customers in the same statement and deletes the rows of customers gone, and
        # Django's collector still cascades a deleted customer.
        db_constraint=False,
    )
    last_order_at = models.DateTimeField(_("last order"))
    frequency = models.PositiveIntegerField(_("orders"))
    monetary = models.DecimalField(_("lifetime value"), max_digits=14, decimal_places=2)
    r = models.PositiveSmallIntegerField("R")
    f = models.PositiveSmallIntegerField("F")
    m = models.PositiveSmallIntegerField("M")
    group = models.CharField(_("RFM group"), max_length=20, choices=RfmGroup.choices)
    # The group before the last move ("" until the customer first moves) and when the
    # move was: a refresh records `rfm.group_changed` for the rows it moved.
    previous_group = models.CharField(
        _("previous RFM group"), max_length=20, choices=RfmGroup.choices, blank=True, default=""
    )
    group_since = models.DateTimeField(_("in the group since"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("RFM score")
        indexes = [models.Index(fields=["group", "customer"], name="marketing_rfm_group")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.r}{self.f}{self.m} {self.group}"


class CampaignState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    segment = models.ForeignKey(
        Segment, verbose_name=_("audience"), on_delete=models.PROTECT, related_name="campaigns"
    )
    template = models.ForeignKey(
        "messaging.Template",
        verbose_name=_("template"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    # None: sent when someone presses "Send now".
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(_("holdout %"), default=10)
    attribution_days = models.PositiveSmallIntegerField(_("attribution window (days)"), default=14)
    state = models.CharField(
        _("state"), max_length=10, choices=CampaignState.choices, default=CampaignState.DRAFT
    )
    started_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("campaign")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["scheduled_at"],
                name="marketing_campaign_due",
                condition=models.Q(state="scheduled"),
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        """The messages' `source`: how the ledger's rows are found again."""
        return f"campaign:{self.pk}"


class CampaignRecipient(models.Model):
    """A customer of the audience when the campaign went out: sent to, or held out."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    held_out = models.BooleanField(_("held out"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"], name="marketing_recipient_unique"
            )
        ]
        indexes = [models.Index(fields=["customer"], name="marketing_recipient_customer")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.customer_id}"


class LadderStep(models.Model):
    """What customers buy after `product`: computed from order history, or set by a manager.

    When a product has manual steps they are its ladder; computed ones are kept for
    the figures but not offered.
    """

    product = models.ForeignKey(
        "catalog.Product", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    next_product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    manual = models.BooleanField(_("set by hand"), default=False)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    median_days = models.PositiveIntegerField(_("median days"), null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ladder step")
        ordering = ["product", "-manual", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "manual", "next_product"], name="marketing_ladder_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_id} → {self.next_product_id}"
