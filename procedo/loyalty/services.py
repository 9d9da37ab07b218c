"""Writes of the loyalty app: the programme's terms, tiers, membership and referrals.

Each records its Event in the same transaction. Tiers are recomputed set-based: one
statement reads every customer's spend in the window and the tier it reaches, and
returns only the customers whose tier changes; each change is then a compare-and-set
with its event, so two recomputes that race (the nightly one and an order's) record a
change once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Round
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.analytics.kpis import SIGNED_CENTS, sale_orders, valued_orders
from procedo.business.selectors import business_get
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean, money_format, money_quantize
from procedo.customers.models import LIVE, Customer
from procedo.events.services import event_record
from procedo.loyalty.codes import code_generate, code_in_source, code_normalise
from procedo.loyalty.models import (
    CustomerLoyalty,
    Program,
    ReferralCode,
    ReferralConversion,
    Reward,
    RewardFor,
    RewardKind,
    Tier,
)
from procedo.orders.models import Order
from procedo.orders.services.editing import order_discount_add

MAX_TIERS = 10
MAX_WINDOW_DAYS = 3650
MAX_BENEFITS = 2000
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _program() -> Program:
    program, _created = Program.objects.get_or_create(pk=1)
    return program


# --- the programme's terms -------------------------------------------------------------------


def _reward_clean(kind: str, value: Any, *, field: str, currency: str) -> tuple[str, Decimal]:
    if kind not in RewardKind.values:
        raise DomainError(
            field=f"{field}_kind",
            message=_("Choose one of: %(kinds)s.") % {"kinds": ", ".join(RewardKind.values)},
        )
    if kind == RewardKind.NONE:
        return kind, Decimal(0)
    amount = amount_clean(value, currency, field=f"{field}_value", positive=True)
    if kind == RewardKind.PERCENT and amount > 100:
        raise DomainError(field=f"{field}_value", message=_("A discount is at most 100%."))
    return kind, amount


def _text_clean(value: str, *, field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise DomainError(
            field=field, code="too_long", message=_("At most %(n)s characters.") % {"n": limit}
        )
    return text


@transaction.atomic
def program_update(
    *,
    actor: Actor,
    window_days: int | None = None,
    referrer_reward_kind: str | None = None,
    referrer_reward_value: Any = None,
    friend_reward_kind: str | None = None,
    friend_reward_value: Any = None,
    link_base: str | None = None,
    membership_name: str | None = None,
    membership_benefits: str | None = None,
) -> Program:
    """Change the terms; None leaves a term as it is. A new window recomputes the tiers."""
    program = _program()
    currency = business_get().currency
    changed: dict[str, Any] = {}
    if window_days is not None:
        if isinstance(window_days, bool) or not 1 <= int(window_days) <= MAX_WINDOW_DAYS:
            raise DomainError(
                field="window_days",
                message=_("Between 1 and %(n)s days.") % {"n": MAX_WINDOW_DAYS},
            )
        changed["window_days"] = int(window_days)
    rewards = (
        ("referrer_reward", referrer_reward_kind, referrer_reward_value),
        ("friend_reward", friend_reward_kind, friend_reward_value),
    )
    for side, kind, value in rewards:
        if kind is None and value is None:
            continue
        # A new amount alone keeps the kind of reward it is an amount of.
        kind = kind if kind is not None else getattr(program, f"{side}_kind")
        changed[f"{side}_kind"], changed[f"{side}_value"] = _reward_clean(
            kind, value, field=side, currency=currency
        )
    if link_base is not None:
        link = link_base.strip()
        if link and not re.match(r"^https?://[^\s/?#]+[^\s]*$", link):
            raise DomainError(
                field="link_base",
                message=_("The link starts with https:// and the store's address."),
            )
        changed["link_base"] = _text_clean(link, field="link_base", limit=300)
    if membership_name is not None:
        changed["membership_name"] = _text_clean(
            membership_name, field="membership_name", limit=100
        )
    if membership_benefits is not None:
        changed["membership_benefits"] = _text_clean(
            membership_benefits, field="membership_benefits", limit=MAX_BENEFITS
        )
    changed = {name: value for name, value in changed.items() if getattr(program, name) != value}
    if not changed:
        return program
    for name, value in changed.items():
        setattr(program, name, value)
    program.updated_at = timezone.now()
    program.save()
    event_record(
        event_type="loyalty.program_updated",
        subject_type="loyalty_program",
        subject_id=program.pk,
        actor=actor,
        payload={name: str(value) for name, value in changed.items()},
    )
    if "window_days" in changed:
        tiers_recompute(actor=actor)
    return program


# --- tiers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierIn:
    code: str
    name: str
    min_spend: Decimal | str
    benefits: str = ""


def _tiers_clean(tiers: Sequence[TierIn], currency: str) -> list[TierIn]:
    if len(tiers) > MAX_TIERS:
        raise DomainError(
            field="tiers", code="too_large", message=_("At most %(n)s tiers.") % {"n": MAX_TIERS}
        )
    cleaned: list[TierIn] = []
    for index, tier in enumerate(tiers):
        at = f"tiers.{index}"
        code = (tier.code or "").strip().lower()
        if not _CODE.match(code):
            raise DomainError(
                field=f"{at}.code",
                message=_("A code is up to 40 lower-case letters, digits, - and _."),
            )
        if any(code == other.code for other in cleaned):
            raise DomainError(
                field=f"{at}.code", message=_("Two tiers have the code %(code)s.") % {"code": code}
            )
        name = _text_clean(tier.name, field=f"{at}.name", limit=80)
        if not name:
            raise DomainError(field=f"{at}.name", message=_("Give the tier a name."))
        spend = amount_clean(tier.min_spend, currency, field=f"{at}.min_spend")
        if cleaned:
            before = cleaned[-1]
            if spend == before.min_spend:
                raise DomainError(
                    field=f"{at}.min_spend",
                    code="overlapping",
                    message=_("%(name)s starts at the same spend as %(other)s.")
                    % {"name": name, "other": before.name},
                )
            if spend < Decimal(before.min_spend):
                raise DomainError(
                    field=f"{at}.min_spend",
                    code="unordered",
                    message=_(
                        "List the tiers from the lowest spend up: %(name)s starts below %(other)s."
                    )
                    % {"name": name, "other": before.name},
                )
        benefits = _text_clean(tier.benefits, field=f"{at}.benefits", limit=MAX_BENEFITS)
        cleaned.append(TierIn(code=code, name=name, min_spend=spend, benefits=benefits))
    return cleaned


@transaction.atomic
def tiers_set(*, tiers: Sequence[TierIn], actor: Actor) -> list[Tier]:
    """Replace the tiers with `tiers` (lowest spend first) and recompute every customer's.

    A tier missing from the list is deleted (its holders get the tier their spend reaches);
    one whose code stays keeps its holders."""
    cleaned = _tiers_clean(tiers, business_get().currency)
    codes = [tier.code for tier in cleaned]
    Tier.objects.exclude(code__in=codes).delete()
    # Thresholds are UNIQUE; moving them in place could collide midway (two tiers swapping
    # their spends), so the kept ones step aside to a negative spend first.
    Tier.objects.update(min_spend=-F("id"))
    for tier in cleaned:
        Tier.objects.update_or_create(
            code=tier.code,
            defaults={"name": tier.name, "min_spend": tier.min_spend, "benefits": tier.benefits},
        )
    event_record(
        event_type="loyalty.tiers_set",
        subject_type="loyalty_program",
        subject_id=_program().pk,
        actor=actor,
        payload={"tiers": [{"code": t.code, "min_spend": str(t.min_spend)} for t in cleaned]},
    )
    tiers_recompute(actor=actor)
    return list(Tier.objects.all())


def _cents(expression: Any) -> Cast:
    return Cast(Round(expression * 100), BigIntegerField())


def spend_cents_subquery(since: datetime) -> Coalesce:
    """The customer's spend since `since` in minor units, for an outer Customer queryset:
    sales not cancelled and not returned, less return documents (as analytics counts)."""
    spent = (
        valued_orders()
        .filter(customer_id=OuterRef("pk"), placed_at__gte=since)
        .values("customer_id")
        .annotate(cents=Sum(SIGNED_CENTS))
        .values("cents")
    )
    return Coalesce(Subquery(spent, output_field=BigIntegerField()), Value(0))


def window_start(now: datetime) -> datetime:
    program = Program.objects.filter(pk=1).first() or Program()
    return now - timedelta(days=program.window_days)


def _reached_tier() -> Coalesce:
    """The id of the highest tier whose threshold the outer row's `spend_cents` reaches; 0 none."""
    reached = (
        Tier.objects.annotate(threshold=_cents(F("min_spend")))
        .filter(threshold__lte=OuterRef("spend_cents"))
        .order_by("-min_spend")
        .values("pk")[:1]
    )
    return Coalesce(Subquery(reached, output_field=IntegerField()), Value(0))


def tier_changes(
    *, customer_ids: Iterable[int] | None = None, now: datetime | None = None
) -> list[tuple[int, int, int, int]]:
    """(customer_id, old tier id, new tier id, spend in cents) of every customer whose tier
    changes, all in one statement (0 stands for no tier)."""
    customers = Customer.objects.filter(LIVE)
    if customer_ids is not None:
        customers = customers.filter(pk__in=list(customer_ids))
    rows = (
        customers.annotate(
            spend_cents=spend_cents_subquery(window_start(now or timezone.now())),
            new_tier=_reached_tier(),
            old_tier=Coalesce(F("loyalty__tier_id"), Value(0)),
        )
        .filter(~Q(new_tier=F("old_tier")))
        .order_by("pk")
        .values_list("pk", "old_tier", "new_tier", "spend_cents")
    )
    return list(rows)


@transaction.atomic
def tiers_recompute(
    *, customer_ids: Iterable[int] | None = None, actor: Actor = None, now: datetime | None = None
) -> int:
    """Give every customer (or those of `customer_ids`) the tier their spend reaches; each
    change records `loyalty.tier_upgraded` or `loyalty.tier_downgraded`. The changes made."""
    now = now or timezone.now()
    changes = tier_changes(customer_ids=customer_ids, now=now)
    if not changes:
        return 0
    tiers = {tier.pk: tier for tier in Tier.objects.all()}
    CustomerLoyalty.objects.bulk_create(
        [CustomerLoyalty(customer_id=customer_id) for customer_id, *_rest in changes],
        ignore_conflicts=True,
    )
    made = 0
    for customer_id, old_id, new_id, cents in changes:
        rows = CustomerLoyalty.objects.filter(customer_id=customer_id)
        rows = rows.filter(tier_id=old_id) if old_id else rows.filter(tier__isnull=True)
        if rows.update(tier_id=new_id or None, tier_since=now if new_id else None) != 1:
            continue  # another recompute moved it meanwhile and recorded that change
        old, new = tiers.get(old_id), tiers.get(new_id)
        up = new is not None and (old is None or new.min_spend > old.min_spend)
        event_record(
            event_type="loyalty.tier_upgraded" if up else "loyalty.tier_downgraded",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            actor=actor,
            payload={
                "from": old.code if old else "",
                "to": new.code if new else "",
                "from_name": old.name if old else "",
                "to_name": new.name if new else "",
                "spend": str(Decimal(cents) / 100),
            },
        )
        made += 1
    return made


# --- membership --------------------------------------------------------------------------


@transaction.atomic
def membership_enter(*, customer_id: int, actor: Actor = None) -> bool:
    """Make a customer who has bought a member (and give them a referral code); True when
    they enter now. Idempotent: a member stays one, and nothing is recorded twice."""
    if not sale_orders().filter(customer_id=customer_id).exists():
        return False
    if not Customer.objects.filter(LIVE, pk=customer_id).exists():
        return False
    CustomerLoyalty.objects.bulk_create(
        [CustomerLoyalty(customer_id=customer_id)], ignore_conflicts=True
    )
    now = timezone.now()
    entered = CustomerLoyalty.objects.filter(
        customer_id=customer_id, member_since__isnull=True
    ).update(member_since=now)
    if entered != 1:
        return False
    event_record(
        event_type="loyalty.membership_entered",
        subject_type="customer",
        subject_id=customer_id,
        customer_id=customer_id,
        actor=actor,
        idempotency_key=f"loyalty:membership:{customer_id}",
    )
    referral_code_issue(customer_id=customer_id, actor=actor)
    return True


def memberships_enter_missing(*, limit: int = 1000) -> int:
    """Customers who bought but are not members yet (history imported before the programme,
    an event missed): one query finds them, each enters as on its order."""
    buyers = sale_orders().filter(customer_id=OuterRef("pk"))
    missing = (
        Customer.objects.filter(LIVE)
        .filter(Exists(buyers))
        .exclude(loyalty__member_since__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(membership_enter(customer_id=pk) for pk in list(missing))


# --- referrals ---------------------------------------------------------------------------


@transaction.atomic
def referral_code_issue(*, customer_id: int, actor: Actor) -> ReferralCode:
    """The customer's referral code, made the first time it is asked for."""
    existing = ReferralCode.objects.filter(customer_id=customer_id).order_by("created_at").first()
    if existing is not None:
        return existing
    if not Customer.objects.filter(LIVE, pk=customer_id).exists():
        raise NotFound(
            field="customer_id", message=_("No customer with id %(id)s.") % {"id": customer_id}
        )
    for _attempt in range(5):  # a clash among 6.6e11 codes is rare; five in a row is a bug
        code = ReferralCode(customer_id=customer_id, code=code_generate())
        try:
            with transaction.atomic():
                code.save(force_insert=True)
        except IntegrityError:
            continue
        event_record(
            event_type="loyalty.referral_code_issued",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            actor=actor,
            payload={"code": code.code},
        )
        return code
    raise Conflict(field="code", message=_("No free referral code was found; try again."))


def _code_find(typed: str, *, field: str) -> ReferralCode:
    code = code_normalise(typed)
    found = ReferralCode.objects.filter(code=code).first() if code else None
    if found is None:
        raise DomainError(
            field=field,
            code="unknown_code",
            message=_("%(code)s is not a referral code.") % {"code": (typed or "")[:40]},
        )
    return found


def _attribute(order: Order, typed: str, *, field: str, actor: Actor) -> ReferralConversion:
    code = _code_find(typed, field=field)
    if order.customer_id is None:
        raise DomainError(
            field="customer_id", message=_("A referred order needs the customer who placed it.")
        )
    if code.customer_id == order.customer_id:
        raise DomainError(
            field=field,
            code="own_code",
            message=_("This is the customer's own referral code; it refers someone else."),
        )
    if ReferralConversion.objects.filter(order=order).exists():
        raise Conflict(field="order_id", message=_("This order is attributed already."))
    if ReferralConversion.objects.filter(referred_id=order.customer_id).exists():
        raise Conflict(field=field, message=_("This customer was referred before."))
    program = Program.objects.filter(pk=1).first() or Program()
    conversion = ReferralConversion.objects.create(
        order=order,
        code=code,
        referrer_id=code.customer_id,
        referred_id=order.customer_id,
        referrer_reward_kind=program.referrer_reward_kind,
        referrer_reward_value=program.referrer_reward_value,
        friend_reward_kind=program.friend_reward_kind,
        friend_reward_value=program.friend_reward_value,
    )
    event_record(
        event_type="referral.converted",
        subject_type="customer",
        subject_id=code.customer_id,
        customer_id=code.customer_id,
        actor=actor,
        payload={
            "code": code.code,
            "order_id": order.pk,
            "order": order.number,
            "referred_id": order.customer_id,
            # The terms as data: a reader sees them in words in their own language.
            "referrer_reward": {
                "kind": program.referrer_reward_kind,
                "value": str(program.referrer_reward_value),
            },
            "friend_reward": {
                "kind": program.friend_reward_kind,
                "value": str(program.friend_reward_value),
            },
        },
        idempotency_key=f"loyalty:referral:order:{order.pk}",
    )
    rewards_credit(conversion=conversion, actor=actor)
    return conversion


@idempotent("referral.attribute", replay=lambda pk: ReferralConversion.objects.get(pk=pk))
@transaction.atomic
def referral_attribute(
    *, order_id: int, code: str, actor: Actor, idempotency_key: str | None
) -> ReferralConversion:
    """Attribute an order to the owner of `code` (typed on the order after it was placed).
    The customer's own code, an unknown code or a second referral is refused, unchanged."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound(field="order_id", message=_("No order with id %(id)s.") % {"id": order_id})
    return _attribute(order, code, field="code", actor=actor)


def referral_attribute_placed(order: Order, actor: Actor) -> None:
    """The order hook: an order placed with "ref:CODE" in its source is the code owner's
    referral. A bad code refuses the order naming `source`; a customer referred before
    keeps their first referrer and the order stands."""
    typed = code_in_source(order.source)
    if typed is None:
        return
    if (
        order.customer_id
        and ReferralConversion.objects.filter(referred_id=order.customer_id).exists()
    ):
        code = _code_find(typed, field="source")
        if code.customer_id == order.customer_id:
            _attribute(order, typed, field="source", actor=actor)  # refuses: own code
        return
    _attribute(order, typed, field="source", actor=actor)


def reward_words(kind: str, value: Decimal, currency: str) -> str:
    """A reward as a person reads it: "10% off", "200.00 ₴ store credit", "nothing"."""
    if kind == RewardKind.PERCENT:
        return _("%(percent)s%% off the next order") % {"percent": f"{value.normalize():f}"}
    if kind == RewardKind.CREDIT:
        return _("%(amount)s store credit") % {"amount": money_format(value, currency)}
    return _("nothing")


# --- rewards: credited once, used once on an order ----------------------------------------


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


# --- merging duplicates ------------------------------------------------------------------


def loyalty_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """The duplicate's codes and referrals become the survivor's (a shared code keeps
    working); the earlier membership stays; the tier is recomputed from the merged orders."""
    moved = ReferralCode.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    moved += Reward.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    moved += ReferralConversion.objects.filter(referrer_id=duplicate_id).update(
        referrer_id=survivor_id
    )
    if not ReferralConversion.objects.filter(referred_id=survivor_id).exists():
        moved += ReferralConversion.objects.filter(referred_id=duplicate_id).update(
            referred_id=survivor_id
        )
    # A survivor who referred the duplicate would now refer itself: that referral goes.
    ReferralConversion.objects.filter(referrer_id=survivor_id, referred_id=survivor_id).delete()
    duplicate = CustomerLoyalty.objects.filter(customer_id=duplicate_id).first()
    if duplicate is not None and duplicate.member_since is not None:
        CustomerLoyalty.objects.bulk_create(
            [CustomerLoyalty(customer_id=survivor_id)], ignore_conflicts=True
        )
        CustomerLoyalty.objects.filter(customer_id=survivor_id).filter(
            Q(member_since__isnull=True) | Q(member_since__gt=duplicate.member_since)
        ).update(member_since=duplicate.member_since)
    CustomerLoyalty.objects.filter(customer_id=duplicate_id).delete()
    tiers_recompute(customer_ids=[survivor_id])
    return moved


# The order events after which a customer's spend may have changed.
SPEND_EVENTS = frozenset(
    {
        "order.created",
        "order.status_changed",
        "order.lines_changed",
        "order.imported",
        "return.created",
        "return.received",
        "refund.recorded",
        "order.discount_added",
    }
)


def loyalty_consume(events: Sequence[Any]) -> None:
    """The event consumer: customers whose orders changed get their tier again, and a first
    purchase makes a member."""
    customer_ids = sorted(
        {e.customer_id for e in events if e.event_type in SPEND_EVENTS and e.customer_id}
    )
    if not customer_ids:
        return
    tiers_recompute(customer_ids=customer_ids)
    for customer_id in customer_ids:
        membership_enter(customer_id=customer_id)
