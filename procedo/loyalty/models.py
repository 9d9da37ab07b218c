"""Referral codes and what they brought, loyalty tiers by spend, and the membership.

Every write goes through `procedo.loyalty.services`. The programme's terms (rewards,
the tiers' thresholds, the spend window, the membership's benefits) are data a manager
edits, in the business's currency.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RewardKind(models.TextChoices):
    NONE = "none", _("Nothing")
    PERCENT = "percent", _("A discount in percent")
    CREDIT = "credit", _("Store credit")


class Program(models.Model):
    """The one row of the programme's terms (id 1)."""

    window_days = models.PositiveIntegerField(_("spend window in days"), default=365)
    referrer_reward_kind = models.CharField(
        _("the referrer gets"), max_length=10, choices=RewardKind.choices, default=RewardKind.NONE
    )
    referrer_reward_value = models.DecimalField(
        _("referrer's reward"), max_digits=14, decimal_places=2, default=Decimal(0)
    )
    friend_reward_kind = models.CharField(
        _("the friend gets"), max_length=10, choices=RewardKind.choices, default=RewardKind.NONE
    )
    friend_reward_value = models.DecimalField(
        _("friend's reward"), max_digits=14, decimal_places=2, default=Decimal(0)
    )
    # The store's page a shared link opens; the code rides along as ?ref=CODE.
    link_base = models.URLField(_("link to the store"), max_length=300, blank=True, default="")
    membership_name = models.CharField(_("membership name"), max_length=100, blank=True, default="")
    membership_benefits = models.TextField(_("membership benefits"), blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("loyalty programme")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="loyalty_program_singleton")]

    def __str__(self) -> str:
        return str(_("Loyalty programme"))


class Tier(models.Model):
    """A tier a customer holds while their spend in the window reaches `min_spend`."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    min_spend = models.DecimalField(_("from spend"), max_digits=14, decimal_places=2)
    benefits = models.TextField(_("benefits"), blank=True, default="")

    class Meta:
        verbose_name = _("loyalty tier")
        ordering = ["min_spend"]
        constraints = [
            models.UniqueConstraint(fields=["min_spend"], name="loyalty_tier_threshold_unique")
        ]

    def __str__(self) -> str:
        return self.name


class CustomerLoyalty(models.Model):
    """A customer's tier and membership; a row exists once either was ever set."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="loyalty"
    )
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="holders"
    )
    tier_since = models.DateTimeField(null=True, blank=True)
    member_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tier_id}"


class ReferralCode(models.Model):
    """A customer's code; stored upper-case, matched case-insensitively. A merged duplicate's
    code moves to the survivor, so a code already shared keeps working."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="referral_codes"
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("referral code")
        indexes = [models.Index(fields=["customer", "created_at"], name="loyalty_code_customer")]

    def __str__(self) -> str:
        return self.code


class ReferralConversion(models.Model):
    """An order a referral code brought: its buyer was referred by the code's owner."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(ReferralCode, on_delete=models.PROTECT, related_name="conversions")
    referrer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="referrals_made"
    )
    referred = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="referrals_received"
    )
    # The terms as they were when it converted, so a later change of rewards does not
    # rewrite what was promised.
    referrer_reward_kind = models.CharField(max_length=10, choices=RewardKind.choices)
    referrer_reward_value = models.DecimalField(max_digits=14, decimal_places=2)
    friend_reward_kind = models.CharField(max_length=10, choices=RewardKind.choices)
    friend_reward_value = models.DecimalField(max_digits=14, decimal_places=2)
    converted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("referral")
        # A customer is referred once: by whoever brought their first referred order.
        constraints = [models.UniqueConstraint(fields=["referred"], name="loyalty_referred_once")]
        indexes = [
            models.Index(fields=["converted_at", "referrer"], name="loyalty_conv_when"),
            models.Index(fields=["referrer", "converted_at"], name="loyalty_conv_referrer"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_id}"


class RewardFor(models.TextChoices):
    REFERRING = "referring", _("Referring a friend")
    REFERRED = "referred", _("Coming by a friend's referral")


class Reward(models.Model):
    """A reward credited to a customer: one per side of a referral whose terms give one.

    It is used once, on one of the customer's orders, whose total it lowers through the
    orders' own service; the row then says which order and how much it took off.
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="rewards"
    )
    conversion = models.ForeignKey(
        ReferralConversion, on_delete=models.CASCADE, related_name="rewards"
    )
    earned_for = models.CharField(_("for"), max_length=10, choices=RewardFor.choices)
    kind = models.CharField(_("reward"), max_length=10, choices=RewardKind.choices)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    credited_at = models.DateTimeField(_("credited at"), default=timezone.now)
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("used on order"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    amount = models.DecimalField(
        _("taken off"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    redeemed_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reward")
        ordering = ["-credited_at", "-id"]
        constraints = [
            # Each side of a referral is credited once, however often crediting runs.
            models.UniqueConstraint(fields=["conversion", "earned_for"], name="loyalty_reward_once")
        ]
        indexes = [models.Index(fields=["customer", "credited_at"], name="loyalty_reward_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.kind} {self.value}"
