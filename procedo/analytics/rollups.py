"""The daily sales rollup: revenue, orders and order value per day and channel.

Kept set-based and incrementally: an event on an order (placed, imported late, paid,
cancelled, returned, edited) marks the day the order was placed, and a refresh counts
those days again from the orders with one DELETE and one INSERT … SELECT … GROUP BY, never
a loop over rows. The `analytics.sales_days` consumer of the event log does it for each
batch of events, so a late order or a return changes its own day, however old.

Readers never see a stale day: the days of orders whose events the consumer has not read
yet (or failed on) are counted from the orders in the same request, the rest come from
the rollup. A day an order left (its placed_at edited) and writes made without an event
(a bulk load into the tables) are caught by the nightly rebuild (tasks.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from procedo.analytics.kpis import (
    IS_SALE,
    RETURNED_WHOLE,
    SIGNED_CENTS,
    cents,
    live_orders,
)
from procedo.analytics.models import RollupBasis, SalesDay
from procedo.business.selectors import business_get
from procedo.events.models import OPEN_FAILURE_STATES, ConsumerCursor, ConsumerFailure, Event
from procedo.orders.models import Order

CONSUMER = "analytics.sales_days"
BASIS = "sales_days"
COLUMNS = ("day", "channel", "revenue_cents", "documents", "orders", "sales_cents")


@dataclass(frozen=True)
class DaySales:
    revenue_cents: int = 0
    documents: int = 0
    orders: int = 0
    sales_cents: int = 0

    def __add__(self, other: DaySales) -> DaySales:
        return DaySales(
            self.revenue_cents + other.revenue_cents,
            self.documents + other.documents,
            self.orders + other.orders,
            self.sales_cents + other.sales_cents,
        )

    @property
    def revenue(self) -> Decimal:
        return Decimal(self.revenue_cents).scaleb(-2)


def _day_ranges(days: Iterable[date], zone: ZoneInfo) -> Q:
    """placed_at within any of the days (consecutive days merged): a range on the index."""
    ordered = sorted(set(days))
    ranges: list[tuple[date, date]] = []
    for day in ordered:
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    condition = Q(pk__in=[])
    for first, last in ranges:
        condition |= Q(
            placed_at__gte=datetime.combine(first, time.min, tzinfo=zone),
            placed_at__lt=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
        )
    return condition


def _grouped(where: Q, zone: ZoneInfo) -> QuerySet[Order, Any]:
    """The catalog's sums per (day, channel), in COLUMNS order: the one definition both the
    refresh and a reader of unrefreshed days use."""
    kept = ~RETURNED_WHOLE
    zero = Value(0, output_field=BigIntegerField())
    return (
        live_orders()
        .filter(where)
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("day", "channel")
        .annotate(
            revenue_cents=Coalesce(Sum(SIGNED_CENTS, filter=kept), zero),
            documents=Count("id", filter=kept),
            orders=Count("id", filter=IS_SALE),
            sales_cents=Coalesce(Sum(cents(F("total")), filter=IS_SALE), zero),
        )
        .values_list(*COLUMNS)
        .order_by()
    )


def _insert_select(where: Q, zone: ZoneInfo) -> None:
    sql, params = _grouped(where, zone).query.sql_with_params()
    table = connection.ops.quote_name(SalesDay._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql}", params)


def _basis_locked() -> RollupBasis | None:
    # Refreshes take turns on this row: two of them deleting and inserting the same day at
    # once would collide on (day, channel).
    return RollupBasis.objects.select_for_update().filter(name=BASIS).first()


def _current() -> tuple[ZoneInfo, str]:
    business = business_get()
    return business.zone, business.currency


@transaction.atomic
def sales_days_rebuild() -> None:
    """Count every day again from the orders (the first time, after the business changed its
    time zone or currency, and nightly)."""
    zone, currency = _current()
    basis = _basis_locked()
    SalesDay.objects.all().delete()
    _insert_select(Q(), zone)
    values = {"time_zone": zone.key, "currency": currency, "built_at": timezone.now()}
    if basis is None:
        RollupBasis.objects.create(name=BASIS, **values)
    else:
        RollupBasis.objects.filter(pk=basis.pk).update(**values)


@transaction.atomic
def sales_days_refresh(*, order_ids: Sequence[int]) -> int:
    """Count again the days on which these orders were placed; returns how many days."""
    zone, currency = _current()
    basis = _basis_locked()
    if basis is None or (basis.time_zone, basis.currency) != (zone.key, currency):
        sales_days_rebuild()
        return -1
    days = set(
        Order.objects.filter(pk__in=order_ids)
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    )
    if not days:
        return 0
    SalesDay.objects.filter(day__in=days).delete()
    _insert_select(_day_ranges(days, zone), zone)
    return len(days)


def sales_days_consume(events: Sequence[Event]) -> None:
    """The consumer's handler: the batch's orders' days, counted again in one refresh."""
    order_ids = sorted(
        {event.subject_id for event in events if event.subject_type == "order" and event.subject_id}
    )
    if order_ids:
        sales_days_refresh(order_ids=order_ids)


def sales_days_ensure() -> bool:
    """Rebuild if the rollup was never built or was built for another zone or currency."""
    zone, currency = _current()
    basis = RollupBasis.objects.filter(name=BASIS).first()
    if basis is not None and (basis.time_zone, basis.currency) == (zone.key, currency):
        return False
    sales_days_rebuild()
    return True


# --- reading ------------------------------------------------------------------------------


def _unrefreshed_days(span: Q, zone: ZoneInfo) -> set[date] | None:
    """Days of the span whose orders have events the consumer has not counted yet; None when
    it has never run (then nothing in the rollup can be trusted)."""
    cursor = ConsumerCursor.objects.filter(name=CONSUMER).first()
    if cursor is None:
        return None
    unread = Event.objects.filter(
        Q(txid__gt=cursor.txid) | Q(txid=cursor.txid, id__gt=cursor.event_id),
        subject_type="order",
    ).values("subject_id")
    failed = ConsumerFailure.objects.filter(
        consumer=CONSUMER, state__in=OPEN_FAILURE_STATES, event__subject_type="order"
    ).values("event__subject_id")
    # One IN over the union, not two INs joined by OR: the OR made PostgreSQL read every
    # order of the span and test each against both lists (0.15-0.25 s at 3 M orders, make
    # bench, B9); the union of the few unread ids is looked up by primary key.
    return set(
        Order.objects.filter(pk__in=unread.union(failed, all=True))
        .filter(span)
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    )


def sales_days(*, first: date, last: date, channel: str | None = None) -> dict[date, DaySales]:
    """Revenue, orders and order value of each day from `first` to `last` (days without
    sales left out), through one channel or all: the rollup, with the days it has not
    caught up on counted from the orders. Five or six queries whatever the span."""
    zone, currency = _current()
    basis = RollupBasis.objects.filter(name=BASIS).first()
    span = Q(
        placed_at__gte=datetime.combine(first, time.min, tzinfo=zone),
        placed_at__lt=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
    )
    stale = None
    if basis is not None and (basis.time_zone, basis.currency) == (zone.key, currency):
        stale = _unrefreshed_days(span, zone)
    by_channel = Q() if channel is None else Q(channel=channel)
    found: dict[date, DaySales] = {}

    def add(rows: Iterable[tuple[date, str, int, int, int, int]]) -> None:
        for day, _channel, *figures in rows:
            found[day] = found.get(day, DaySales()) + DaySales(*figures)

    if stale is None:
        add(_grouped(span & by_channel, zone))
        return found
    add(
        SalesDay.objects.filter(by_channel, day__gte=first, day__lte=last)
        .exclude(day__in=stale)
        .values_list(*COLUMNS)
    )
    if stale:
        add(_grouped(_day_ranges(stale, zone) & by_channel, zone))
    return found


def sales_channels() -> list[str]:
    """The channels orders came through, as the rollup knows them."""
    return list(
        SalesDay.objects.exclude(channel="")
        .values_list("channel", flat=True)
        .distinct()
        .order_by("channel")
    )
