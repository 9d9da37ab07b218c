"""Reads of orders: the list (filters, keyset pages), the order card, the pipeline."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext_lazy

from procedo.business.selectors import business_get
from procedo.core.exports import Column
from procedo.core.paging import Page, keyset_all, keyset_page
from procedo.events.selectors import TimelinePage, timeline_for_subject
from procedo.orders.models import (
    PAYMENT_RECEIVED,
    Order,
    OrderLine,
    OrderStatus,
    OrderTransition,
    Payment,
    Refund,
    Return,
    ReturnLine,
    Shipment,
)

ORDER_KEYSET = ("-placed_at", "-id")
ZERO = Decimal("0")


@dataclass(frozen=True)
class OrderFilters:
    status: str | None = None
    placed_from: date | None = None  # a day in the business's time zone, inclusive
    placed_to: date | None = None  # inclusive
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    customer_id: int | None = None


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def orders_filtered(filters: OrderFilters, *, zone: ZoneInfo | None = None) -> QuerySet[Order]:
    """The filtered queryset behind the list; each filter has an index that ends in the keyset."""
    orders = Order.objects.select_related("status", "customer")
    if filters.status:
        orders = orders.filter(status__code=filters.status)
    if filters.customer_id is not None:
        orders = orders.filter(customer_id=filters.customer_id)
    if filters.placed_from or filters.placed_to:
        # "Orders of 3 March" means 3 March where the shop is, not in UTC.
        zone = zone or business_get().zone
        if filters.placed_from:
            orders = orders.filter(placed_at__gte=_day_start(filters.placed_from, zone))
        if filters.placed_to:
            end = _day_start(filters.placed_to + timedelta(days=1), zone)
            orders = orders.filter(placed_at__lt=end)
    if filters.amount_min is not None:
        orders = orders.filter(total__gte=filters.amount_min)
    if filters.amount_max is not None:
        orders = orders.filter(total__lte=filters.amount_max)
    return orders


def order_list(
    *,
    filters: OrderFilters | None = None,
    cursor: str | None = None,
    limit: int = 50,
    zone: ZoneInfo | None = None,
) -> Page[Order]:
    """Newest first, paged by keyset (placed_at, id): one query a page, never an OFFSET.

    A date filter reads the business's time zone unless `zone` is given (one query more).
    """
    queryset = orders_filtered(filters or OrderFilters(), zone=zone)
    return keyset_page(queryset, order=ORDER_KEYSET, cursor=cursor, limit=limit)


def _customer_name(order: Order) -> str:
    return str(order.customer) if order.customer_id else ""


# The orders list as a file (procedo/core/exports.py).
ORDER_COLUMNS = (
    Column(gettext_lazy("Number"), lambda o: o.number),
    Column(gettext_lazy("Placed"), lambda o: o.placed_at),
    Column(gettext_lazy("Kind"), lambda o: o.get_kind_display()),
    Column(gettext_lazy("Status"), lambda o: o.status.label),
    Column(gettext_lazy("Customer ID"), lambda o: o.customer_id),
    Column(gettext_lazy("Customer"), _customer_name),
    Column(gettext_lazy("Currency"), lambda o: o.currency),
    Column(gettext_lazy("Subtotal"), lambda o: o.subtotal),
    Column(gettext_lazy("Discount"), lambda o: o.discount_total),
    Column(gettext_lazy("Shipping"), lambda o: o.shipping_total),
    Column(gettext_lazy("Total"), lambda o: o.total),
    Column(gettext_lazy("Paid"), lambda o: o.paid_at),
    Column(gettext_lazy("Shipped"), lambda o: o.shipped_at),
    Column(gettext_lazy("Delivered"), lambda o: o.delivered_at),
    Column(gettext_lazy("Cancelled"), lambda o: o.cancelled_at),
    Column(gettext_lazy("Channel"), lambda o: o.channel),
    Column(gettext_lazy("Source"), lambda o: o.source),
    Column(gettext_lazy("External ref"), lambda o: o.external_ref),
)


def order_export_rows(filters: OrderFilters) -> Iterator[Order]:
    """Every order the list shows with these filters, read in batches for a file."""
    return keyset_all(orders_filtered(filters), order=ORDER_KEYSET)


def orders_of_customer(customer_id: int, limit: int = 10) -> list[Order]:
    """A customer's latest orders, for the customer card: one query on (customer, placed_at, id)."""
    return list(
        Order.objects.select_related("status")
        .filter(customer_id=customer_id)
        .order_by(*ORDER_KEYSET)[:limit]
    )


@dataclass(frozen=True)
class OrderCard:
    order: Order
    lines: list[OrderLine]
    payments: list[Payment]
    refunds: list[Refund]
    shipments: Sequence[Shipment]  # each with its history prefetched as `changes`
    returns: list[Return]
    next_statuses: list[OrderStatus]
    timeline: TimelinePage
    received: Decimal = ZERO
    refunded: Decimal = ZERO
    returned_by_line: dict[int, int] = field(default_factory=dict)

    @property
    def balance_due(self) -> Decimal:
        return self.order.total - self.received + self.refunded


def order_detail(*, order_id: int, timeline_limit: int = 25) -> OrderCard | None:
    """Everything the order card shows, in a fixed number of queries (10; 9 without timeline)."""
    order = Order.objects.select_related("status", "customer").filter(pk=order_id).first()
    if order is None:
        return None
    lines = list(OrderLine.objects.filter(order_id=order.pk).select_related("sku"))
    payments = list(Payment.objects.filter(order_id=order.pk))
    refunds = list(Refund.objects.filter(order_id=order.pk).select_related("actor"))
    shipments = list(
        Shipment.objects.filter(order_id=order.pk).prefetch_related(
            Prefetch("history", to_attr="changes")
        )
    )
    returns = list(
        Return.objects.filter(order_id=order.pk).prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line"))
        )
    )
    next_statuses = list(
        OrderStatus.objects.filter(transitions_in__from_status__code=order.status.code).order_by(
            "position", "id"
        )
    )
    timeline = (
        timeline_for_subject(subject_type="order", subject_id=order.pk, limit=timeline_limit)
        if timeline_limit > 0
        else TimelinePage(events=[], next_before=None)
    )
    returned: dict[int, int] = {}
    for ret in returns:
        if ret.status != "rejected":
            for line in ret.lines.all():
                returned[line.order_line_id] = returned.get(line.order_line_id, 0) + line.quantity
    return OrderCard(
        order=order,
        lines=lines,
        payments=payments,
        refunds=refunds,
        shipments=shipments,
        returns=returns,
        next_statuses=next_statuses,
        timeline=timeline,
        received=sum((p.amount for p in payments if p.status in PAYMENT_RECEIVED), ZERO),
        refunded=sum((r.amount for r in refunds), ZERO),
        returned_by_line=returned,
    )


@dataclass(frozen=True)
class Pipeline:
    statuses: list[OrderStatus]
    transitions: list[OrderTransition]
    orders_in: dict[str, int]  # status code -> orders in it

    def allows(self, from_status: str, to_status: str) -> bool:
        return to_status in self.next_of(from_status)

    def next_of(self, code: str) -> list[str]:
        return [str(t.to_status_id) for t in self.transitions if str(t.from_status_id) == code]


def pipeline_get() -> Pipeline:
    """The statuses, the allowed moves and how many orders sit in each status (three queries)."""
    statuses = list(OrderStatus.objects.order_by("position", "id"))
    transitions = list(
        OrderTransition.objects.select_related("from_status", "to_status").order_by(
            "from_status__position", "to_status__position"
        )
    )
    counts = {
        str(code): n
        for code, n in Order.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    }
    return Pipeline(statuses=statuses, transitions=transitions, orders_in=counts)


def statuses_all() -> list[OrderStatus]:
    return list(OrderStatus.objects.order_by("position", "id"))
