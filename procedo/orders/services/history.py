"""Orders from the past in bulk: raw INSERTs whose columns are written once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import DomainError
from procedo.core.money import money_quantize
from procedo.core.rows import rows_insert
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.orders.models import (
    Order,
    OrderKind,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StatusCategory,
)
from procedo.orders.services.customer_figures import customer_stats_refresh

# The columns a raw INSERT of orders or of their lines writes, in this order: the
# order importer and the demo store's history both build their rows from these
# lists, so a column is added in one place. A row leaves out what it does not
# know (None); the database gets NULL there.
ORDER_COLUMNS = (
    "number",
    "kind",
    "customer_id",
    "status_id",
    "currency",
    "subtotal",
    "discount_total",
    "shipping_total",
    "total",
    "placed_at",
    "status_changed_at",
    "confirmed_at",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "ship_country",
    "channel",
    "source",
    "external_ref",
    "stock_state",
    "note",
    "created_at",
)


LINE_COLUMNS = (
    "order_id",
    "sku_id",
    "sku_code",
    "description",
    "quantity",
    "unit_price",
    "discount",
    "line_total",
)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    sku: str
    sku_id: int | None
    description: str
    quantity: int  # as sold: positive, on a return document too
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class HistoryOrder:
    """A past order as a file or a shop's history tells it: a sale, or a return document
    (a credit note) whose lines are what came back."""

    number: str
    is_return: bool
    customer_id: int | None
    currency: str
    placed_at: datetime
    country: str
    lines: Sequence[HistoryLine]


def _history_statuses() -> dict[str, str]:
    """The pipeline's first status of each history category: delivered, returned."""
    found: dict[str, str] = {}
    for kind, category in (
        (OrderKind.SALE, StatusCategory.DELIVERED),
        (OrderKind.RETURN, StatusCategory.RETURNED),
    ):
        status = OrderStatus.objects.filter(category=category).order_by("position", "id").first()
        if status is None:
            raise DomainError(
                field="status",
                message=_("The order pipeline has no %(category)s status to import history into.")
                % {"category": category.label},
            )
        found[kind] = status.code
    return found


@transaction.atomic
def orders_history_insert(
    *, orders: Sequence[HistoryOrder], source: str, actor: Actor
) -> tuple[int, int]:
    """Write past orders as they were, set-based: an executemany per table for the whole batch.

    A sale enters the pipeline's delivered status, delivered and paid (a payment row says
    so) when it was placed; a return document enters the returned status. No stock moves,
    and each records "order.imported", not "order.created": history must not start the
    SOPs that greet new orders. The numbers must be new (the caller looked them up);
    the unique index refuses a twin. Returns (orders, lines) written.
    """
    if not orders:
        return 0, 0
    statuses = _history_statuses()
    now = timezone.now()
    new_orders: list[Order] = []
    line_totals: list[list[Decimal]] = []
    for item in orders:
        kind = OrderKind.RETURN if item.is_return else OrderKind.SALE
        totals = [
            money_quantize(line.quantity * line.unit_price, item.currency) for line in item.lines
        ]
        total = sum(totals, Decimal(0))
        line_totals.append(totals)
        new_orders.append(
            Order(
                number=item.number,
                kind=kind,
                customer_id=item.customer_id,
                status_id=statuses[kind],
                currency=item.currency,
                subtotal=total,
                discount_total=Decimal(0),
                shipping_total=Decimal(0),
                total=total,
                placed_at=item.placed_at,
                status_changed_at=item.placed_at,
                delivered_at=item.placed_at if kind == OrderKind.SALE else None,
                paid_at=item.placed_at if kind == OrderKind.SALE and total > 0 else None,
                ship_country=item.country,
                channel="import",
                source=source,
                external_ref=f"{source}:{item.number}",
                created_at=now,
            )
        )
    adapt = connection.ops.adapt_datetimefield_value
    rows_insert(
        Order,
        ORDER_COLUMNS,
        [
            tuple(
                adapt(value) if isinstance(value, datetime) else value
                for value in (getattr(order, name) for name in ORDER_COLUMNS)
            )
            for order in new_orders
        ],
    )
    ids = dict(
        Order.objects.filter(number__in=[o.number for o in orders]).values_list("number", "id")
    )
    lines = [
        (
            ids[item.number],
            line.sku_id,
            line.sku,
            (line.description or line.sku)[:300],
            line.quantity,
            line.unit_price,
            Decimal(0),
            line_total,
        )
        for item, totals in zip(orders, line_totals, strict=True)
        for line, line_total in zip(item.lines, totals, strict=True)
    ]
    rows_insert(OrderLine, LINE_COLUMNS, lines)
    rows_insert(
        Payment,
        ("order_id", "method", "amount", "currency", "status", "paid_at", "created_at"),
        [
            (
                ids[order.number],
                PaymentMethod.OTHER,
                order.total,
                order.currency,
                PaymentStatus.PAID,
                adapt(order.paid_at),
                adapt(now),
            )
            for order in new_orders
            if order.paid_at is not None
        ],
    )
    events_record_many(
        NewEvent(
            event_type="order.imported",
            subject_type="order",
            subject_id=ids[order.number],
            customer_id=order.customer_id,
            actor_id=actor_id_of(actor),
            payload={
                "number": order.number,
                "kind": order.kind,
                "total": str(order.total),
                "currency": order.currency,
                "source": source,
            },
            occurred_at=now,
        )
        for order in new_orders
    )
    customer_stats_refresh(customer_ids=[order.customer_id for order in new_orders])
    return len(new_orders), len(lines)
