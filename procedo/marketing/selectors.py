"""Reads of segments, RFM, campaigns and the ladder: each a query or a few, never a loop of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.errors import NotFound
from procedo.customers.models import LIVE, Customer, Identity
from procedo.marketing import rules
from procedo.marketing.models import (
    Campaign,
    CampaignRecipient,
    CustomerRfm,
    LadderStep,
    Segment,
)

SAMPLE_SIZE = 10


def customers_matching(
    rule_list: Sequence[Mapping[str, Any]], match: str, *, now: datetime | None = None
) -> QuerySet[Customer]:
    """Live customers the (cleaned) rules choose: one query, whatever it is asked."""
    q = rules.rules_q(rule_list, match, now=now or timezone.now())
    return Customer.objects.filter(LIVE).filter(q)


def segment_get(segment_id: int) -> Segment:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise NotFound(field="segment_id", message=_("No segment %(id)s.") % {"id": segment_id})
    return segment


def segment_customers(segment: Segment, *, now: datetime | None = None) -> QuerySet[Customer]:
    return customers_matching(segment.rules, segment.match, now=now)


def segment_ids_q(segment_id: int, *, lookup: str = "pk") -> Q:
    """`lookup` (a path to a customer id) is in the segment: for SOP conditions."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return Q(pk__in=[])
    return Q(**{f"{lookup}__in": segment_customers(segment).values("pk")})


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Customer]


def customers_preview(
    rule_list: Sequence[Mapping[str, Any]], match: str, *, sample: int = SAMPLE_SIZE
) -> Preview:
    """The count and the most valuable few of a segment being edited (two queries)."""
    chosen = customers_matching(rule_list, match)
    return Preview(
        count=chosen.count(),
        sample=list(chosen.order_by("-lifetime_value", "-id")[: max(0, min(sample, 50))]),
    )


def segments_list() -> list[Segment]:
    return list(Segment.objects.all()[:500])


# ---------------------------------------------------------------- RFM


def rfm_of_customer(customer_id: int) -> CustomerRfm | None:
    return CustomerRfm.objects.filter(customer_id=customer_id).first()


def rfm_groups_count() -> dict[str, int]:
    return dict(
        CustomerRfm.objects.values("group").annotate(n=Count("pk")).values_list("group", "n")
    )


# ---------------------------------------------------------------- campaigns


def campaign_get(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_related("segment", "template").filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound(field="campaign_id", message=_("No campaign %(id)s.") % {"id": campaign_id})
    return campaign


def campaigns_list() -> list[Campaign]:
    return list(Campaign.objects.select_related("segment", "template")[:200])


def consented(customers: QuerySet[Customer], channel: str) -> QuerySet[Customer]:
    """The customers with an identity of the channel whose marketing consent is granted."""
    kind = "email" if channel == "email" else "phone"
    return customers.filter(
        Exists(
            Identity.objects.filter(
                customer_id=OuterRef("pk"), kind=kind, marketing_consent="granted"
            )
        )
    )


@dataclass(frozen=True)
class CampaignCounts:
    audience: int
    held_out: int
    messages: int
    sent: int
    delivered: int
    failed: int
    suppressed: int
    waiting: int
    unsubscribed: int
    orders: int
    revenue: Decimal
    held_out_orders: int
    held_out_revenue: Decimal
    lift: Any  # procedo.analytics.impact.Effect, or None before the campaign is sent
    verdict: str


def _attributed(campaign: Campaign) -> Any:
    from procedo.analytics.kpis import SIGNED_CENTS, valued_orders

    assert campaign.started_at is not None
    until = campaign.started_at + timedelta(days=campaign.attribution_days)
    orders = valued_orders().filter(
        customer_id=OuterRef("customer_id"),
        placed_at__gt=campaign.started_at,
        placed_at__lte=until,
    )
    cents = orders.values("customer_id").annotate(c=Sum(SIGNED_CENTS)).values("c")
    count = orders.values("customer_id").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(cents), 0), Coalesce(Subquery(count), 0)


def campaign_counts(campaign: Campaign) -> CampaignCounts:
    """Messages by fate, unsubscribes, attributed orders and the lift over the held out.

    Three queries: the ledger's rows of the campaign, the recipients' outcomes by side,
    the unsubscribes. An order counts when it was placed within `attribution_days`
    after the campaign went out, for both sides alike, so the difference is the lift.
    """
    from procedo.analytics.impact import SPEND, Group, compare, verdict
    from procedo.analytics.kpis import KPIS
    from procedo.business.selectors import business_get
    from procedo.messaging.models import Message

    states = dict(
        Message.objects.filter(source=campaign.source)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    delivered = (
        Message.objects.filter(source=campaign.source, state="sent")
        .filter(Q(channel="email") | Q(delivery_status="delivered"))
        .count()
    )
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    zero = {"n": 0, "held": 0, "o": 0, "c": 0, "sq": 0, "ho": 0, "hc": 0, "hsq": 0, "hn": 0}
    figures: dict[str, Any] = dict(zero)
    lift, text = None, _("The campaign has not gone out yet.")
    if campaign.started_at is not None:
        cents, count = _attributed(campaign)
        rows = recipients.annotate(cents=cents, orders=count)
        treated, held = Q(held_out=False), Q(held_out=True)
        figures = rows.aggregate(
            n=Count("pk", filter=treated),
            o=Coalesce(Sum("orders", filter=treated), 0),
            c=Coalesce(Sum("cents", filter=treated), 0),
            sq=Coalesce(Sum(F("cents") * F("cents"), filter=treated), 0),
            hn=Count("pk", filter=held),
            ho=Coalesce(Sum("orders", filter=held), 0),
            hc=Coalesce(Sum("cents", filter=held), 0),
            hsq=Coalesce(Sum(F("cents") * F("cents"), filter=held), 0),
        )
        figures["held"] = figures["hn"]
        effect = compare(
            KPIS["revenue"],
            SPEND,
            Group(figures["n"], float(figures["c"]), float(figures["sq"])),
            Group(figures["hn"], float(figures["hc"]), float(figures["hsq"])),
        )
        lift = effect
        if campaign.holdout_percent:
            text = verdict(effect, currency=business_get().currency, per_day=0)
        else:
            text = _("The campaign holds nobody out, so there is nothing to compare with.")
    unsubscribed = 0
    if campaign.started_at is not None:
        unsubscribed = (
            recipients.filter(held_out=False)
            .filter(
                Exists(
                    Identity.objects.filter(
                        customer_id=OuterRef("customer_id"),
                        marketing_consent="denied",
                        consent_changed_at__gte=campaign.started_at,
                    )
                )
            )
            .count()
        )
    return CampaignCounts(
        audience=figures["n"] + figures["held"],
        held_out=figures["held"],
        messages=sum(states.values()),
        sent=states.get("sent", 0),
        delivered=delivered,
        failed=states.get("failed", 0),
        suppressed=states.get("suppressed", 0),
        waiting=sum(states.get(s, 0) for s in ("queued", "sending", "unknown")),
        unsubscribed=unsubscribed,
        orders=int(figures["o"]),
        revenue=Decimal(int(figures["c"])) / 100,
        held_out_orders=int(figures["ho"]),
        held_out_revenue=Decimal(int(figures["hc"])) / 100,
        lift=lift,
        verdict=text,
    )


# ---------------------------------------------------------------- ladder


def ladder_of(product_id: int) -> list[LadderStep]:
    """A product's ladder: the manual steps when a manager set some, else the computed."""
    steps = list(
        LadderStep.objects.filter(product_id=product_id)
        .select_related("next_product")
        .order_by("-manual", "position")[:20]
    )
    manual = [step for step in steps if step.manual]
    return manual or steps


def ladders_top(limit: int = 50) -> list[LadderStep]:
    """The computed first steps with the most customers, for the ladder page."""
    return list(
        LadderStep.objects.filter(manual=False, position=1)
        .select_related("product", "next_product")
        .order_by("-customers", "product_id")[:limit]
    )


def next_products_of_customers(customer_ids: Sequence[int]) -> dict[int, LadderStep]:
    """For each customer, the step up from their last purchase they have not bought yet.

    Two queries for any number of customers: each customer's step id by correlated
    subqueries, then the steps.
    """
    from procedo.orders.models import Order, OrderLine

    if not customer_ids:
        return {}
    last_order = Order.objects.filter(customer_id=OuterRef("pk")).order_by("-placed_at", "-id")
    in_last = OrderLine.objects.filter(order_id=OuterRef(OuterRef("last_id"))).values(
        "sku__product_id"
    )
    ever = OrderLine.objects.filter(order__customer_id=OuterRef(OuterRef("pk"))).values(
        "sku__product_id"
    )
    manual_exists = LadderStep.objects.filter(product_id=OuterRef("product_id"), manual=True)
    step = (
        LadderStep.objects.filter(product_id__in=in_last)
        .exclude(next_product_id__in=ever)
        # A product with manual steps offers only those.
        .filter(Q(manual=True) | ~Exists(manual_exists))
        .order_by("-manual", "position", "-customers", "pk")
        .values("pk")[:1]
    )
    chosen = dict(
        Customer.objects.filter(pk__in=list(customer_ids))
        .annotate(last_id=Subquery(last_order.values("pk")[:1]))
        .annotate(step_id=Subquery(step))
        .exclude(step_id=None)
        .values_list("pk", "step_id")
    )
    steps = LadderStep.objects.select_related("next_product").in_bulk(list(chosen.values()))
    return {customer_id: steps[step_id] for customer_id, step_id in chosen.items()}


def next_product_of_customer(customer_id: int) -> LadderStep | None:
    return next_products_of_customers([customer_id]).get(customer_id)


def next_product_variables(customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The `next_product` template variable of each customer (name, median days after)."""
    return {
        customer_id: {"name": step.next_product.name, "days": step.median_days}
        for customer_id, step in next_products_of_customers(customer_ids).items()
    }


def ladders_manual() -> list[LadderStep]:
    return list(
        LadderStep.objects.filter(manual=True)
        .select_related("product", "next_product")
        .order_by("product__name", "product_id", "position")[:200]
    )
