"""Entering the loyalty programme; what an order's events change; moving it all at a merge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from procedo.accounts.actors import Actor
from procedo.analytics.kpis import sale_orders
from procedo.core.actors import actor_id_of
from procedo.customers.models import LIVE, Customer
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.loyalty.models import CustomerLoyalty, ReferralCode, ReferralConversion, Reward
from procedo.loyalty.services.programme import tiers_recompute
from procedo.loyalty.services.referrals import referral_codes_issue


def membership_enter(*, customer_id: int, actor: Actor = None) -> bool:
    """Make a customer who has bought a member (and give them a referral code); True when
    they enter now. Idempotent: a member stays one, and nothing is recorded twice."""
    return memberships_enter(customer_ids=[customer_id], actor=actor) == 1


@transaction.atomic
def memberships_enter(*, customer_ids: Sequence[int], actor: Actor = None) -> int:
    """`membership_enter` for many customers in a few statements (the event consumer after
    a rush of orders: make bench, B1b); how many entered now."""
    buyers = set(
        sale_orders()
        .filter(customer_id__in=list(customer_ids))
        .values_list("customer_id", flat=True)
        .distinct()
    )
    live = list(Customer.objects.filter(LIVE, pk__in=buyers).values_list("pk", flat=True))
    if not live:
        return 0
    CustomerLoyalty.objects.bulk_create(
        [CustomerLoyalty(customer_id=pk) for pk in live], ignore_conflicts=True
    )
    # Those not members yet, held so that a concurrent entry of the same customer waits
    # and then finds them members: each enters once.
    entering = sorted(
        CustomerLoyalty.objects.select_for_update()
        .filter(customer_id__in=live, member_since__isnull=True)
        .values_list("customer_id", flat=True)
    )
    if not entering:
        return 0
    CustomerLoyalty.objects.filter(customer_id__in=entering, member_since__isnull=True).update(
        member_since=timezone.now()
    )
    events_record_many(
        NewEvent(
            event_type="loyalty.membership_entered",
            subject_type="customer",
            subject_id=pk,
            customer_id=pk,
            actor_id=actor_id_of(actor),
            idempotency_key=f"loyalty:membership:{pk}",
        )
        for pk in entering
    )
    referral_codes_issue(customer_ids=entering, actor=actor)
    return len(entering)


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
    return memberships_enter(customer_ids=list(missing))


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
    memberships_enter(customer_ids=customer_ids)
