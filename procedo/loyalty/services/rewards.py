"""Rewards: credited once for a referral, used once on an order."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.business.selectors import business_get
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.money import money_quantize
from procedo.events.services.recording import event_record
from procedo.loyalty.models import ReferralConversion, Reward, RewardFor, RewardKind
from procedo.orders.models import Order
from procedo.orders.services.editing import order_discount_add


def _reward_terms(conversion: ReferralConversion, earned_for: str) -> tuple[int, str, Decimal]:
    """(customer, kind, value) of one side of a referral, as its terms were when it converted."""
    if earned_for == RewardFor.REFERRING:
        return (
            conversion.referrer_id,
            conversion.referrer_reward_kind,
            conversion.referrer_reward_value,
        )
    return conversion.referred_id, conversion.friend_reward_kind, conversion.friend_reward_value


@idempotent("reward.credit", replay=lambda pk: Reward.objects.get(pk=pk))
@transaction.atomic
def reward_credit(
    *, conversion_id: int, earned_for: str, actor: Actor, idempotency_key: str | None
) -> Reward:
    """Credit one side of a referral with the reward its terms gave. The key (a day) and
    the unique (referral, side) row (for ever) keep it to one, however often it is asked."""
    conversion = ReferralConversion.objects.select_related("order").get(pk=conversion_id)
    customer_id, kind, value = _reward_terms(conversion, earned_for)
    if kind == RewardKind.NONE or value <= 0:
        raise DomainError(field="earned_for", message=_("The referral's terms gave no reward."))
    existing = Reward.objects.filter(conversion=conversion, earned_for=earned_for).first()
    if existing is not None:
        return existing
    currency = business_get().currency
    reward = Reward.objects.create(
        customer_id=customer_id,
        conversion=conversion,
        earned_for=earned_for,
        kind=kind,
        value=value,
        currency=currency,
    )
    event_record(
        event_type="reward.credited",
        subject_type="customer",
        subject_id=customer_id,
        customer_id=customer_id,
        actor=actor,
        payload={
            "reward_id": reward.pk,
            "for": earned_for,
            "kind": kind,
            "value": str(value),
            "currency": currency,
            "order": conversion.order.number,
        },
        idempotency_key=idempotency_key,
    )
    return reward


def rewards_credit(*, conversion: ReferralConversion, actor: Actor = None) -> list[Reward]:
    """Both sides of a referral credited with what its terms give (a side given nothing is
    skipped); a second call (a retry, the nightly catch-up) returns the same rewards."""
    credited = []
    for earned_for in (RewardFor.REFERRING, RewardFor.REFERRED):
        _customer, kind, value = _reward_terms(conversion, earned_for)
        if kind != RewardKind.NONE and value > 0:
            credited.append(
                reward_credit(
                    conversion_id=conversion.pk,
                    earned_for=earned_for,
                    actor=actor,
                    idempotency_key=f"loyalty:reward:{conversion.pk}:{earned_for}",
                )
            )
    return credited


GIVING = (RewardKind.PERCENT, RewardKind.CREDIT)


def rewards_credit_missing(*, limit: int = 1000) -> int:
    """Referrals that converted before rewards were credited (or whose crediting was lost):
    one query finds them, each is credited as on its order."""
    missing = (
        ReferralConversion.objects.filter(
            Q(referrer_reward_kind__in=GIVING, referrer_reward_value__gt=0)
            | Q(friend_reward_kind__in=GIVING, friend_reward_value__gt=0)
        )
        .exclude(Exists(Reward.objects.filter(conversion_id=OuterRef("pk"))))
        .order_by("pk")[:limit]
    )
    return sum(len(rewards_credit(conversion=conversion)) for conversion in missing)


def _reward_amount(reward: Reward, order: Order) -> Decimal:
    """What the reward takes off the order: its credit, or its percent of the goods left."""
    if reward.kind == RewardKind.CREDIT:
        return reward.value
    goods = max(order.subtotal - order.discount_total, Decimal(0))
    return money_quantize(goods * reward.value / 100, order.currency)


# Marked, not translated: the order's timeline says it in its reader's language.
REWARD_REASON = gettext_noop("a referral reward")


@idempotent("reward.redeem", replay=lambda pk: Reward.objects.get(pk=pk))
@transaction.atomic
def reward_redeem(
    *, reward_id: int, order_id: int, actor: Actor, idempotency_key: str | None
) -> Reward:
    """Use a reward on one of its customer's orders: the order's total goes down through the
    orders' service (never below zero, nor below what was paid). A reward is used once;
    another order, another customer's order or an order past editing is refused, unchanged."""
    reward = Reward.objects.filter(pk=reward_id).select_related("order").first()
    if reward is None:
        raise NotFound(field="reward_id", message=_("No reward %(id)s.") % {"id": reward_id})
    if reward.order_id is not None:
        raise Conflict(
            field="reward_id",
            message=_("This reward was used on order %(order)s already.")
            % {"order": reward.order.number if reward.order else reward.order_id},
        )
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound(field="order_id", message=_("No order with id %(id)s.") % {"id": order_id})
    if order.customer_id != reward.customer_id:
        raise DomainError(
            field="order_id",
            message=_("Order %(order)s is another customer's; a reward is for its own customer.")
            % {"order": order.number},
        )
    if order.currency != reward.currency:
        raise DomainError(
            field="order_id",
            message=_("Order %(order)s is in %(currency)s; the reward is in %(reward)s.")
            % {"order": order.number, "currency": order.currency, "reward": reward.currency},
        )
    amount = _reward_amount(reward, order)
    if amount <= 0:
        raise DomainError(
            field="order_id",
            message=_("Order %(order)s has nothing left to take the reward off.")
            % {"order": order.number},
        )
    now = timezone.now()
    # Compare-and-set: of two uses racing, one claims the reward and the other is refused.
    if not Reward.objects.filter(pk=reward.pk, order__isnull=True).update(
        order=order, amount=amount, redeemed_at=now
    ):
        raise Conflict(field="reward_id", message=_("This reward was used meanwhile."))
    order_discount_add(
        order_id=order.pk,
        amount=amount,
        reason=REWARD_REASON,
        actor=actor,
        # The order's event is keyed by the reward: the last guard against using it twice.
        idempotency_key=f"loyalty:reward:{reward.pk}:used",
    )
    event_record(
        event_type="reward.redeemed",
        subject_type="customer",
        subject_id=reward.customer_id,
        customer_id=reward.customer_id,
        actor=actor,
        payload={
            "reward_id": reward.pk,
            "order_id": order.pk,
            "order": order.number,
            "amount": str(amount),
            "currency": order.currency,
        },
        idempotency_key=idempotency_key,
    )
    reward.order, reward.amount, reward.redeemed_at = order, amount, now
    return reward
