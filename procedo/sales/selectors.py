"""Reads of sales: lists with filters, the board, cycle time per stage, acquisition costs.

The figures are computed in SQL over whole sets (one GROUP BY, not a loop over deals);
money is summed in integer minor units so SQLite adds it exactly too.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from statistics import median

from django.db.models import (
    Avg,
    BigIntegerField,
    Count,
    F,
    Prefetch,
    Q,
    Sum,
)
from django.db.models.functions import Cast, Round

from procedo.business.selectors import business_get
from procedo.core.paging import Page, keyset_page
from procedo.sales.models import (
    ChannelSpend,
    Deal,
    Lead,
    LeadForm,
    LeadSubmission,
    LostReason,
    Pipeline,
    Stage,
    StageKind,
    StageVisit,
)

BOARD_CARDS_MAX = 100  # cards a column shows; the list pages the rest


@dataclass(frozen=True)
class LeadFilters:
    status: str = ""
    source: str = ""
    owner_id: int | None = None
    q: str = ""


def leads_list(*, filters: LeadFilters, cursor: str | None, limit: int) -> Page[Lead]:
    leads = Lead.objects.select_related("owner")
    if filters.status:
        leads = leads.filter(status=filters.status)
    if filters.source:
        leads = leads.filter(source=filters.source.casefold())
    if filters.owner_id is not None:
        leads = leads.filter(owner_id=filters.owner_id)
    if filters.q:
        leads = leads.filter(
            Q(name__icontains=filters.q)
            | Q(email__icontains=filters.q)
            | Q(phone__contains=filters.q)
            | Q(company__icontains=filters.q)
        )
    return keyset_page(leads, order=["-created_at", "-id"], cursor=cursor, limit=limit)


def lead_detail(*, lead_id: int) -> Lead | None:
    return (
        Lead.objects.select_related("owner", "customer")
        .prefetch_related("contacts__actor")
        .filter(pk=lead_id)
        .first()
    )


def lead_sources() -> list[str]:
    leads = Lead.objects.order_by().values_list("source", flat=True).distinct()
    spent = ChannelSpend.objects.order_by().values_list("source", flat=True).distinct()
    return sorted(set(leads) | set(spent))


@dataclass(frozen=True)
class DealFilters:
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    state: str = ""  # "open", "won", "lost" or "" for all
    q: str = ""


def deals_list(*, filters: DealFilters, cursor: str | None, limit: int) -> Page[Deal]:
    deals = Deal.objects.select_related("stage", "pipeline", "customer", "owner", "lost_reason")
    if filters.pipeline_id is not None:
        deals = deals.filter(pipeline_id=filters.pipeline_id)
    if filters.stage_id is not None:
        deals = deals.filter(stage_id=filters.stage_id)
    if filters.owner_id is not None:
        deals = deals.filter(owner_id=filters.owner_id)
    if filters.state:
        deals = deals.filter(stage__kind=filters.state)
    if filters.q:
        # The customer's casefolded search text: SQLite's LIKE folds only ASCII letters.
        deals = deals.filter(
            Q(title__icontains=filters.q) | Q(customer__search_text__contains=filters.q.casefold())
        )
    return keyset_page(deals, order=["-created_at", "-id"], cursor=cursor, limit=limit)


def deal_detail(*, deal_id: int) -> Deal | None:
    return (
        Deal.objects.select_related("stage", "pipeline", "customer", "owner", "lost_reason", "lead")
        .prefetch_related(
            Prefetch(
                "visits",
                queryset=StageVisit.objects.select_related("stage", "actor").order_by(
                    "entered_at", "id"
                ),
            ),
            "meetings",
        )
        .filter(pk=deal_id)
        .first()
    )


def pipelines() -> list[Pipeline]:
    return list(
        Pipeline.objects.prefetch_related(
            Prefetch("stages", queryset=Stage.objects.order_by("position", "id"))
        )
    )


def lost_reasons(*, active_only: bool = False) -> list[LostReason]:
    reasons = LostReason.objects.all()
    return list(reasons.filter(is_active=True) if active_only else reasons)


@dataclass(frozen=True)
class Column:
    stage: Stage
    deals: list[Deal]
    count: int
    value_cents: int

    @property
    def value(self) -> Decimal:
        return Decimal(self.value_cents) / 100


@dataclass(frozen=True)
class Board:
    pipeline: Pipeline
    columns: list[Column]
    currency: str


def _cents(field: str) -> Cast:
    return Cast(Round(F(field) * 100), BigIntegerField())


def board(*, pipeline: Pipeline) -> Board:
    """Each stage with its newest cards (at most BOARD_CARDS_MAX), their count and value."""
    stages = list(pipeline.stages.order_by("position", "id"))
    totals = {
        row["stage_id"]: row
        for row in Deal.objects.filter(pipeline=pipeline)
        .order_by()
        .values("stage_id")
        .annotate(n=Count("id"), cents=Sum(_cents("value")))
    }
    cards: dict[int, list[Deal]] = {stage.pk: [] for stage in stages}
    deals = (
        Deal.objects.filter(pipeline=pipeline)
        .select_related("customer", "owner")
        .order_by("stage_id", "-stage_entered_at", "-id")
    )
    for deal in deals.iterator(chunk_size=500):
        column = cards.setdefault(deal.stage_id, [])
        if len(column) < BOARD_CARDS_MAX:
            column.append(deal)
    columns = [
        Column(
            stage=stage,
            deals=cards.get(stage.pk, []),
            count=totals.get(stage.pk, {}).get("n", 0),
            value_cents=totals.get(stage.pk, {}).get("cents") or 0,
        )
        for stage in stages
    ]
    return Board(pipeline=pipeline, columns=columns, currency=business_get().currency)


@dataclass(frozen=True)
class StageTime:
    stage: Stage
    stays: int  # deals that have left the stage
    average_hours: Decimal | None
    now_in: int  # deals standing in it now


def stage_cycle_times(*, pipeline: Pipeline) -> list[StageTime]:
    """How long deals stay in each stage: one GROUP BY over finished stays."""
    rows = {
        row["stage_id"]: row
        for row in StageVisit.objects.filter(stage__pipeline=pipeline)
        .order_by()
        .values("stage_id")
        .annotate(
            stays=Count("id", filter=Q(seconds__isnull=False)),
            average=Avg("seconds"),
            now_in=Count("id", filter=Q(left_at__isnull=True)),
        )
    }
    result = []
    for stage in pipeline.stages.order_by("position", "id"):
        row = rows.get(stage.pk, {})
        average = row.get("average")
        result.append(
            StageTime(
                stage=stage,
                stays=row.get("stays", 0),
                average_hours=(Decimal(average) / 3600).quantize(Decimal("0.1"))
                if average is not None
                else None,
                now_in=row.get("now_in", 0),
            )
        )
    return result


# ---------------------------------------------------------------- acquisition costs


@dataclass(frozen=True)
class Acquisition:
    """What leads and customers cost over a period, from the channel spend entered."""

    spend: Decimal
    leads: int
    customers: int  # new customers from won deals closed in the period
    currency: str

    @property
    def cost_per_lead(self) -> Decimal | None:
        return (self.spend / self.leads).quantize(Decimal("0.01")) if self.leads else None

    @property
    def cac(self) -> Decimal | None:
        return (self.spend / self.customers).quantize(Decimal("0.01")) if self.customers else None


def _month_days(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def spend_in(*, first: date, last: date, source: str = "") -> Decimal:
    """The spend of the days `first`..`last`: each month's spend spread evenly over its days."""
    spends = ChannelSpend.objects.filter(
        month__gte=first.replace(day=1), month__lte=last, currency=business_get().currency
    )
    if source:
        spends = spends.filter(source=source)
    total = Decimal(0)
    for month, amount in spends.values_list("month", "amount"):
        month_last = month + timedelta(days=_month_days(month) - 1)
        days = (min(last, month_last) - max(first, month)).days + 1
        if days > 0:
            total += amount * days / _month_days(month)
    return total.quantize(Decimal("0.01"))


def acquisition(*, first: date, last: date, source: str = "") -> Acquisition:
    """Spend, leads and won new customers of the days `first`..`last` (business time).

    A customer counts once, in the period their first deal from a lead was won.
    """
    start, end = day_bounds(first, last)
    leads = Lead.objects.filter(created_at__gte=start, created_at__lt=end)
    won = Deal.objects.filter(
        stage__kind=StageKind.WON, closed_at__gte=start, closed_at__lt=end, lead__isnull=False
    )
    if source:
        leads = leads.filter(source=source)
        won = won.filter(lead__source=source)
    earlier = Deal.objects.filter(
        customer_id__in=won.values("customer_id"), stage__kind=StageKind.WON, closed_at__lt=start
    ).values("customer_id")
    customers = won.exclude(customer_id__in=earlier).values("customer_id").distinct().count()
    return Acquisition(
        spend=spend_in(first=first, last=last, source=source),
        leads=leads.count(),
        customers=customers,
        currency=business_get().currency,
    )


def acquisition_by_source(*, first: date, last: date) -> list[tuple[str, Acquisition]]:
    return [
        (source, acquisition(first=first, last=last, source=source)) for source in lead_sources()
    ]


def spends(*, limit: int = 200) -> list[ChannelSpend]:
    return list(ChannelSpend.objects.order_by("-month", "source")[:limit])


def lead_response_minutes(*, start: datetime, end: datetime) -> tuple[Decimal | None, int]:
    """The median minutes from arrival to first contact of the period's leads, and how many."""
    pairs = Lead.objects.filter(
        created_at__gte=start, created_at__lt=end, first_contact_at__isnull=False
    ).values_list("created_at", "first_contact_at")
    minutes = [
        (contact - created).total_seconds() / 60
        for created, contact in pairs
        if contact is not None
    ]
    if not minutes:
        return None, 0
    return Decimal(str(median(minutes))).quantize(Decimal("0.1")), len(minutes)


def lead_forms() -> list[LeadForm]:
    return list(LeadForm.objects.order_by("-is_active", "name"))


def submissions_refused(*, limit: int = 50) -> list[LeadSubmission]:
    return list(
        LeadSubmission.objects.filter(state="refused")
        .select_related("form")
        .order_by("-received_at")[:limit]
    )


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    zone = business_get().zone
    return (
        datetime.combine(first, time.min, tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
    )


def deals_of_customer(*, customer_id: int, limit: int = 10) -> list[Deal]:
    return list(
        Deal.objects.filter(customer_id=customer_id)
        .select_related("stage")
        .order_by("-created_at", "-id")[:limit]
    )
