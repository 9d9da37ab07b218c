"""Reads of the loyalty app: the terms, the tiers, a customer's standing, the referral numbers.

Every number is one set-based query (GROUP BY and HAVING run in SQL); Python gets counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from procedo.analytics.kpis import sale_orders
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.customers.models import LIVE, Customer
from procedo.loyalty.models import (
    CustomerLoyalty,
    Program,
    ReferralCode,
    ReferralConversion,
    Reward,
    RewardFor,
    Tier,
)
from procedo.loyalty.services.programme import spend_cents_subquery, window_start
from procedo.loyalty.services.referrals import reward_words

# Referrals a customer is asked for in a year: the seed's "two referrals a year".
REFERRALS_A_YEAR = 2
EARLIEST_YEAR = 2000


def program_get() -> Program:
    return Program.objects.filter(pk=1).first() or Program(pk=1)


def tiers_list() -> list[Tier]:
    """The tiers, lowest spend first, each with `holders_count`."""
    return list(Tier.objects.annotate(holders_count=Count("holders")).order_by("min_spend"))


@dataclass(frozen=True)
class Rewards:
    referrer: str
    friend: str


def rewards_get(program: Program | None = None) -> Rewards:
    program = program or program_get()
    currency = business_get().currency
    return Rewards(
        referrer=reward_words(
            program.referrer_reward_kind, program.referrer_reward_value, currency
        ),
        friend=reward_words(program.friend_reward_kind, program.friend_reward_value, currency),
    )


def referral_link(code: str, program: Program | None = None) -> str:
    """The link a customer shares: the store's page with ?ref=CODE; "" until it is set."""
    base = (program or program_get()).link_base
    if not base:
        return ""
    return f"{base}{'&' if '?' in base else '?'}ref={code}"


# --- a year of referrals ---------------------------------------------------------------------


def year_clean(year: int | None, *, today: date | None = None) -> int:
    today = today or timezone.localdate()
    chosen = today.year if year is None else year
    if not EARLIEST_YEAR <= chosen <= today.year:
        raise DomainError(field="year", message=f"a year between {EARLIEST_YEAR} and {today.year}")
    return chosen


def year_bounds(year: int) -> tuple[datetime, datetime]:
    zone = business_get().zone
    return (
        datetime(year, 1, 1, tzinfo=zone),
        datetime(year + 1, 1, 1, tzinfo=zone),
    )


@dataclass(frozen=True)
class ReferralNumbers:
    year: int
    referred: int  # customers referred in the year
    buyers: int  # customers who had bought by the year's end
    referrers: int  # buyers who referred someone in the year
    repeat_referrers: int  # of those, who referred two or more
    reached_goal: int  # customers with REFERRALS_A_YEAR referrals in the year (or more)

    @property
    def referring_share(self) -> Decimal | None:
        return _percent(self.referrers, self.buyers)

    @property
    def again_share(self) -> Decimal | None:
        return _percent(self.repeat_referrers, self.referrers)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"))


def referral_numbers(*, year: int) -> ReferralNumbers:
    """The seed's referral numbers for a calendar year in the business's time zone (2 queries)."""
    start, end = year_bounds(year)
    in_year = ReferralConversion.objects.filter(converted_at__gte=start, converted_at__lt=end)
    per_referrer = in_year.order_by().values("referrer_id").annotate(n=Count("id"))
    totals = in_year.aggregate(
        referred=Count("referred_id", distinct=True),
        referrers=Count("referrer_id", distinct=True),
    )
    # Each subquery below is one count in the same statement as the buyers.
    repeat = per_referrer.filter(n__gte=2)
    goal = per_referrer.filter(n__gte=REFERRALS_A_YEAR)
    counts = Customer.objects.filter(LIVE).aggregate(
        buyers=Count(
            "pk",
            filter=Q(Exists(sale_orders().filter(customer_id=OuterRef("pk"), placed_at__lt=end))),
        ),
        repeat=Count("pk", filter=Q(pk__in=repeat.values("referrer_id"))),
        goal=Count("pk", filter=Q(pk__in=goal.values("referrer_id"))),
    )
    return ReferralNumbers(
        year=year,
        referred=totals["referred"],
        buyers=counts["buyers"],
        referrers=totals["referrers"],
        repeat_referrers=counts["repeat"],
        reached_goal=counts["goal"],
    )


def referral_progress(*, customer_ids: list[int], year: int) -> dict[int, int]:
    """Referrals each customer made in the year (one GROUP BY); absent customers made none."""
    start, end = year_bounds(year)
    rows = (
        ReferralConversion.objects.filter(
            referrer_id__in=customer_ids, converted_at__gte=start, converted_at__lt=end
        )
        .order_by()
        .values_list("referrer_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


@dataclass(frozen=True)
class Referrer:
    customer: Customer
    referrals: int
    code: str


def referrers_top(*, year: int, limit: int = 20) -> list[Referrer]:
    """Who referred most in the year, most first, with their code (2 queries)."""
    start, end = year_bounds(year)
    customers = list(
        Customer.objects.annotate(
            made=Count(
                "referrals_made",
                filter=Q(
                    referrals_made__converted_at__gte=start, referrals_made__converted_at__lt=end
                ),
            )
        )
        .filter(made__gt=0)
        .order_by("-made", "pk")[:limit]
    )
    codes: dict[int, str] = {}
    for customer_id, code in (
        ReferralCode.objects.filter(customer_id__in=[c.pk for c in customers])
        .order_by("-created_at")
        .values_list("customer_id", "code")
    ):
        codes[customer_id] = code  # the oldest wins: it is the one shown on the card
    return [Referrer(c, c.made, codes.get(c.pk, "")) for c in customers]


# --- one customer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditedReward:
    reward: Reward
    words: str  # "200.00 ₴ store credit", in the reader's language
    friend: Customer  # the other side of the referral it was earned by

    @property
    def unused(self) -> bool:
        return self.reward.order_id is None


def _credited(rows: Iterable[Reward]) -> list[CreditedReward]:
    return [
        CreditedReward(
            reward=row,
            words=reward_words(row.kind, row.value, row.currency),
            friend=(
                row.conversion.referred
                if row.earned_for == RewardFor.REFERRING
                else row.conversion.referrer
            ),
        )
        for row in rows
    ]


_REWARD_WITH = ("order", "conversion__referrer", "conversion__referred")


def rewards_of_customer(customer_id: int) -> list[CreditedReward]:
    """The customer's rewards, newest first, each with the friend it came by (one query)."""
    return _credited(
        Reward.objects.filter(customer_id=customer_id).select_related(*_REWARD_WITH)[:50]
    )


def reward_get(reward_id: int) -> CreditedReward:
    found = _credited(Reward.objects.filter(pk=reward_id).select_related(*_REWARD_WITH))
    if not found:
        raise NotFound(field="reward_id", message=f"no reward with id {reward_id}")
    return found[0]


@dataclass(frozen=True)
class LoyaltyCard:
    customer_id: int
    currency: str
    window_days: int
    spend: Decimal
    tier: Tier | None
    tier_since: datetime | None
    next_tier: Tier | None
    to_next: Decimal | None
    member_since: datetime | None
    membership_name: str
    membership_benefits: str
    code: str
    link: str
    referrals_this_year: int
    referrals_goal: int
    referred_by: Customer | None
    rewards: Rewards
    credited: list[CreditedReward]

    @property
    def goal_reached(self) -> bool:
        return self.referrals_this_year >= self.referrals_goal


def loyalty_card(*, customer_id: int) -> LoyaltyCard:
    """A customer's tier, spend, membership and referrals, as the card and the API show them."""
    program = program_get()
    currency = business_get().currency
    row = (
        Customer.objects.filter(pk=customer_id)
        .annotate(spend_cents=spend_cents_subquery(window_start(timezone.now())))
        .values("spend_cents")
        .first()
    )
    if row is None:
        raise NotFound(field="customer_id", message=f"no customer with id {customer_id}")
    spend = Decimal(row["spend_cents"]) / 100
    standing = (
        CustomerLoyalty.objects.select_related("tier").filter(customer_id=customer_id).first()
    )
    tier = standing.tier if standing else None
    next_tier = Tier.objects.filter(min_spend__gt=spend).order_by("min_spend").first()
    code = (
        ReferralCode.objects.filter(customer_id=customer_id)
        .order_by("created_at")
        .values_list("code", flat=True)
        .first()
    )
    year = timezone.localdate().year
    referred = (
        ReferralConversion.objects.select_related("referrer")
        .filter(referred_id=customer_id)
        .first()
    )
    return LoyaltyCard(
        customer_id=customer_id,
        currency=currency,
        window_days=program.window_days,
        spend=spend,
        tier=tier,
        tier_since=standing.tier_since if standing else None,
        next_tier=next_tier,
        to_next=(next_tier.min_spend - spend) if next_tier else None,
        member_since=standing.member_since if standing else None,
        membership_name=program.membership_name,
        membership_benefits=program.membership_benefits,
        code=code or "",
        link=referral_link(code, program) if code else "",
        referrals_this_year=referral_progress(customer_ids=[customer_id], year=year).get(
            customer_id, 0
        ),
        referrals_goal=REFERRALS_A_YEAR,
        referred_by=referred.referrer if referred else None,
        rewards=rewards_get(program),
        credited=rewards_of_customer(customer_id),
    )


def members_count() -> int:
    return CustomerLoyalty.objects.filter(member_since__isnull=False).count()


# What message templates read about a customer's loyalty as `customer.<name>`.
TEMPLATE_SAMPLE = {
    "loyalty_tier": "Gold",
    "loyalty_benefits": "−10% on everything",
    "referral_code": "K7M2QX9P",
    "referral_link": "https://shop.example/?ref=K7M2QX9P",
    "friend_reward": "10% off the next order",
    "referrer_reward": "200 ₴ store credit",
}


def template_variables(customer_ids: list[int]) -> dict[int, dict[str, str]]:
    """`customer.loyalty_tier`, `customer.referral_code`… of each customer, for message
    templates: three queries for any number of customers (a campaign's whole batch)."""
    tiers = {
        row.customer_id: row.tier
        for row in CustomerLoyalty.objects.select_related("tier").filter(
            customer_id__in=customer_ids
        )
    }
    codes: dict[int, str] = {}
    for customer_id, code in (
        ReferralCode.objects.filter(customer_id__in=customer_ids)
        .order_by("-created_at")
        .values_list("customer_id", "code")
    ):
        codes[customer_id] = code  # oldest last: each customer's first code wins
    program = program_get()
    rewards = rewards_get(program)
    found = {}
    for customer_id in customer_ids:
        tier, code = tiers.get(customer_id), codes.get(customer_id, "")
        found[customer_id] = {
            "loyalty_tier": tier.name if tier else "",
            "loyalty_benefits": tier.benefits if tier else "",
            "referral_code": code,
            "referral_link": referral_link(code, program) if code else "",
            "friend_reward": rewards.friend,
            "referrer_reward": rewards.referrer,
        }
    return found
