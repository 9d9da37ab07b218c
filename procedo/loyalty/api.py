"""The loyalty programme over the API: terms, tiers, a customer's standing, referrals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.business.selectors import business_get
from procedo.core.bounds import Amount, Id, PathId
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema
from procedo.loyalty import selectors
from procedo.loyalty.codes import MAX_TYPED
from procedo.loyalty.models import Tier
from procedo.loyalty.services import programme as programme_services
from procedo.loyalty.services import referrals as referral_services
from procedo.loyalty.services import rewards as reward_services

router = Router(tags=["loyalty"])


class TierOut(Schema):
    code: str
    name: str
    min_spend: Decimal = Field(description="In the business's currency, over the window.")
    benefits: str
    holders: int


class ProgramOut(Schema):
    currency: str
    window_days: int = Field(description="Spend counts over this many days back from now.")
    referrer_reward_kind: str = Field(description="none, percent or credit")
    referrer_reward_value: Decimal
    referrer_reward: str = Field(description="What the referrer gets, in words.")
    friend_reward_kind: str
    friend_reward_value: Decimal
    friend_reward: str = Field(description="What the referred friend gets, in words.")
    link_base: str
    membership_name: str
    membership_benefits: str
    members: int
    tiers: list[TierOut]


def _tier_out(tier: Tier) -> dict[str, Any]:
    return {
        "code": tier.code,
        "name": tier.name,
        "min_spend": tier.min_spend,
        "benefits": tier.benefits,
        "holders": getattr(tier, "holders_count", 0),
    }


def _program_out() -> dict[str, Any]:
    program = selectors.program_get()
    rewards = selectors.rewards_get(program)
    return {
        "currency": business_get().currency,
        "window_days": program.window_days,
        "referrer_reward_kind": program.referrer_reward_kind,
        "referrer_reward_value": program.referrer_reward_value,
        "referrer_reward": rewards.referrer,
        "friend_reward_kind": program.friend_reward_kind,
        "friend_reward_value": program.friend_reward_value,
        "friend_reward": rewards.friend,
        "link_base": program.link_base,
        "membership_name": program.membership_name,
        "membership_benefits": program.membership_benefits,
        "members": selectors.members_count(),
        "tiers": [_tier_out(tier) for tier in selectors.tiers_list()],
    }


@router.get("/program", response=ProgramOut, auth=requires_api("loyalty.view"))
def loyalty_program(request: ApiRequest) -> dict[str, Any]:
    """The programme's terms: rewards, spend window, tiers with their holders, membership."""
    return _program_out()


RewardKind = Annotated[str, Field(max_length=10, description="none, percent or credit")]


class ProgramPatch(Schema):
    window_days: int | None = Field(default=None, ge=1, le=programme_services.MAX_WINDOW_DAYS)
    referrer_reward_kind: RewardKind | None = None
    referrer_reward_value: Amount | None = None
    friend_reward_kind: RewardKind | None = None
    friend_reward_value: Amount | None = None
    link_base: str | None = Field(default=None, max_length=300)
    membership_name: str | None = Field(default=None, max_length=100)
    membership_benefits: str | None = Field(
        default=None, max_length=programme_services.MAX_BENEFITS
    )


@router.patch("/program", response=ProgramOut, auth=requires_api("loyalty.manage"))
def program_update(request: ApiRequest, payload: ProgramPatch) -> dict[str, Any]:
    """Change the terms; a field left out stays. A reward kind goes with its value."""
    programme_services.program_update(actor=request.auth, **payload.dict(exclude_unset=True))
    return _program_out()


class TierIn(Schema):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=80)
    min_spend: Amount
    benefits: str = Field(default="", max_length=programme_services.MAX_BENEFITS)


class TiersIn(Schema):
    tiers: list[TierIn] = Field(
        max_length=programme_services.MAX_TIERS,
        description="Lowest spend first; overlapping or unordered thresholds are a 422 "
        "naming the tier's field (tiers.N.min_spend).",
    )


@router.put("/tiers", response=ProgramOut, auth=requires_api("loyalty.manage"))
def tiers_set(request: ApiRequest, payload: TiersIn) -> dict[str, Any]:
    """Replace the tiers and give every customer the tier their spend reaches now."""
    programme_services.tiers_set(
        tiers=[programme_services.TierIn(**tier.dict()) for tier in payload.tiers],
        actor=request.auth,
    )
    return _program_out()


class RewardOut(Schema):
    id: int
    earned_for: str = Field(description="referring (a friend) or referred (by a friend)")
    friend_id: int = Field(description="The other customer of the referral.")
    kind: str = Field(description="percent or credit")
    value: Decimal
    currency: str
    words: str = Field(description="The reward in words.")
    credited_at: datetime
    order_id: int | None = Field(description="The order it was used on; null while unused.")
    amount: Decimal | None = Field(description="What it took off that order.")
    redeemed_at: datetime | None


class CustomerLoyaltyOut(Schema):
    customer_id: int
    currency: str
    window_days: int
    spend: Decimal = Field(description="Spend in the window: kept sales less returns.")
    tier: str | None = Field(description="The tier's code; null below the lowest tier.")
    tier_name: str | None
    tier_benefits: str
    tier_since: datetime | None
    next_tier: str | None
    to_next_tier: Decimal | None
    member_since: datetime | None
    membership_benefits: str
    referral_code: str = Field(description="Empty until one is issued.")
    referral_link: str
    referrals_this_year: int
    referrals_goal: int
    referred_by_id: int | None
    rewards: list[RewardOut] = Field(description="Credited rewards, newest first.")


def _reward_out(credited: selectors.CreditedReward) -> dict[str, Any]:
    reward = credited.reward
    return {
        "id": reward.pk,
        "earned_for": reward.earned_for,
        "friend_id": credited.friend.pk,
        "kind": reward.kind,
        "value": reward.value,
        "currency": reward.currency,
        "words": credited.words,
        "credited_at": reward.credited_at,
        "order_id": reward.order_id,
        "amount": reward.amount,
        "redeemed_at": reward.redeemed_at,
    }


def _card_out(card: selectors.LoyaltyCard) -> dict[str, Any]:
    return {
        "customer_id": card.customer_id,
        "currency": card.currency,
        "window_days": card.window_days,
        "spend": card.spend,
        "tier": card.tier.code if card.tier else None,
        "tier_name": card.tier.name if card.tier else None,
        "tier_benefits": card.tier.benefits if card.tier else "",
        "tier_since": card.tier_since,
        "next_tier": card.next_tier.code if card.next_tier else None,
        "to_next_tier": card.to_next,
        "member_since": card.member_since,
        "membership_benefits": card.membership_benefits,
        "referral_code": card.code,
        "referral_link": card.link,
        "referrals_this_year": card.referrals_this_year,
        "referrals_goal": card.referrals_goal,
        "referred_by_id": card.referred_by.pk if card.referred_by else None,
        "rewards": [_reward_out(credited) for credited in card.credited],
    }


@router.get(
    "/customers/{int:customer_id}", response=CustomerLoyaltyOut, auth=requires_api("loyalty.view")
)
def customer_loyalty(request: ApiRequest, customer_id: PathId) -> dict[str, Any]:
    """A customer's tier, spend, membership, referral code and progress this year."""
    return _card_out(selectors.loyalty_card(customer_id=customer_id))


@router.post(
    "/customers/{int:customer_id}/referral-code",
    response=CustomerLoyaltyOut,
    auth=requires_api("customers.change"),
)
def referral_code_issue(request: ApiRequest, customer_id: PathId) -> dict[str, Any]:
    """Give the customer a referral code (their existing one if they have it)."""
    referral_services.referral_code_issue(customer_id=customer_id, actor=request.auth)
    return _card_out(selectors.loyalty_card(customer_id=customer_id))


class YearQuery(Schema):
    year: int | None = Field(default=None, ge=selectors.EARLIEST_YEAR, le=9999)


class ReferrerOut(Schema):
    customer_id: int
    name: str
    referrals: int
    code: str


class ReferralNumbersOut(Schema):
    year: int
    referred: int = Field(description="Customers referred in the year.")
    buyers: int = Field(description="Customers who had bought by the year's end.")
    referrers: int = Field(description="Customers who referred someone in the year.")
    referring_share: Decimal | None = Field(description="referrers / buyers, percent.")
    repeat_referrers: int = Field(description="Referrers with two referrals or more.")
    again_share: Decimal | None = Field(description="repeat_referrers / referrers, percent.")
    goal: int = Field(description="Referrals a year each customer is asked for.")
    reached_goal: int
    referrer_reward: str
    friend_reward: str
    top: list[ReferrerOut]


@router.get("/referrals", response=ReferralNumbersOut, auth=requires_api("loyalty.view"))
def referral_numbers(request: ApiRequest, query: Query[YearQuery]) -> dict[str, Any]:
    """The year's referral numbers (default: this year) and who referred most."""
    year = selectors.year_clean(query.year)
    numbers = selectors.referral_numbers(year=year)
    rewards = selectors.rewards_get()
    return {
        "year": numbers.year,
        "referred": numbers.referred,
        "buyers": numbers.buyers,
        "referrers": numbers.referrers,
        "referring_share": numbers.referring_share,
        "repeat_referrers": numbers.repeat_referrers,
        "again_share": numbers.again_share,
        "goal": selectors.REFERRALS_A_YEAR,
        "reached_goal": numbers.reached_goal,
        "referrer_reward": rewards.referrer,
        "friend_reward": rewards.friend,
        "top": [
            {
                "customer_id": r.customer.pk,
                "name": str(r.customer),
                "referrals": r.referrals,
                "code": r.code,
            }
            for r in selectors.referrers_top(year=year)
        ],
    }


class AttributeIn(Schema):
    order_id: Id
    code: str = Field(min_length=1, max_length=MAX_TYPED, description="Any case; dashes allowed.")


class ConversionOut(Schema):
    id: int
    order_id: int
    referrer_id: int
    referred_id: int
    code: str
    converted_at: datetime


@router.post("/referrals", response={201: ConversionOut}, auth=requires_api("orders.change"))
def referral_attribute(
    request: ApiRequest, payload: AttributeIn, idempotency_key: str | None = idempotency_header()
) -> Status[dict[str, Any]]:
    """Attribute an order to the referral code its customer gave. The customer's own code is
    a 422 (field `code`), a customer referred before a 409; nothing changes then."""
    conversion = referral_services.referral_attribute(
        order_id=payload.order_id,
        code=payload.code,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(
        201,
        {
            "id": conversion.pk,
            "order_id": conversion.order_id,
            "referrer_id": conversion.referrer_id,
            "referred_id": conversion.referred_id,
            "code": conversion.code.code,
            "converted_at": conversion.converted_at,
        },
    )


class RedeemIn(Schema):
    order_id: Id


@router.post(
    "/rewards/{int:reward_id}/redeem", response=RewardOut, auth=requires_api("orders.change")
)
def reward_redeem(
    request: ApiRequest,
    reward_id: PathId,
    payload: RedeemIn,
    idempotency_key: str | None = idempotency_header(),
) -> dict[str, Any]:
    """Use a credited reward on one of its customer's orders (its status still editable): the
    order's total goes down by the credit or the percent. A reward used already is a 409,
    another customer's order a 422 (field `order_id`); nothing changes then."""
    reward = reward_services.reward_redeem(
        reward_id=reward_id,
        order_id=payload.order_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return _reward_out(selectors.reward_get(reward.pk))
