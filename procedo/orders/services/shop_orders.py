"""New orders from a shop by the hundred: what `order_create`, then the pipeline's moves,
`payment_record` and `shipment_create` with its carrier's status do for one order, done for
a batch in a few statements per table (the worker's deliveries; make bench, B1b).

The end state and the events are those of the one-at-a-time path, order by order and in the
same sequence for each order; a test holds the two paths to the same result on real shop
payloads. What this path does not cover (a move that changes stock, a carrier's status that
moves the order) is refused before anything is written, and the caller takes that order the
one-at-a-time way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import DateTimeField, F, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.catalog import services as catalog_services
from procedo.catalog.services import StockLine
from procedo.core.actors import actor_id_of
from procedo.core.bounds import MAX_ITEMS, moment_check
from procedo.core.errors import DomainError
from procedo.core.money import amount_clean, currency_clean
from procedo.core.rows import rows_insert
from procedo.core.texts import LaterText, text_for_storing
from procedo.customers.models import Customer
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.orders.models import (
    PAYMENT_RECEIVED,
    Order,
    OrderCounter,
    OrderLine,
    OrderStatus,
    OrderTransition,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Shipment,
    ShipmentStatus,
    ShipmentStatusChange,
    StatusCategory,
    StockState,
)
from procedo.orders.registry import order_placed_hooks
from procedo.orders.services._common import HOLDS_STOCK
from procedo.orders.services.customer_figures import customer_stats_refresh
from procedo.orders.services.history import LINE_COLUMNS
from procedo.orders.services.lines import (
    DeliveryIn,
    OrderLineIn,
    _delivery_clean,
    _lines_resolve,
    _skus_for,
)
from procedo.orders.services.shipments import SHIPMENT_MOVES_ORDER
from procedo.orders.services.taking import ORDER_COUNTER, _customer_resolve, _next_number
from procedo.orders.totals import PricedLine, order_totals

# Shops send a few hundred orders a second at most; the worker takes them in batches.
MAX_BATCH = 500


@dataclass(frozen=True)
class ShopPaymentIn:
    """The order's payment as the shop reports it: recorded for the order's total."""

    external_id: str
    status: str  # PaymentStatus, not refunded
    method: str  # PaymentMethod
    paid_at: datetime | None


@dataclass(frozen=True)
class ShopShipmentIn:
    """A parcel the shop has made for the order, in the carrier's status."""

    carrier: str
    tracking_number: str
    status: str  # ShipmentStatus; one that moves the order is not taken here
    at: datetime | None
    created_key: str  # the events' keys, as the one-at-a-time path gives them
    status_key: str


@dataclass(frozen=True)
class ShopOrderIn:
    """One new order: as `order_create` takes it, then where the shop says it stands."""

    external_ref: str
    lines: Sequence[OrderLineIn]
    customer_id: int | None
    currency: str
    shipping: Decimal
    discount: Decimal
    placed_at: datetime | None
    channel: str
    source: str
    note: str
    delivery: DeliveryIn
    status_path: Sequence[str] = ()  # the pipeline's statuses to walk through after "new"
    status_key: str = ""  # the moves' events are keyed "<status_key>:status:<code>"
    payment: ShopPaymentIn | None = None
    shipments: Sequence[ShopShipmentIn] = field(default_factory=tuple)


# A carrier's status this path takes: one that leaves the order where it is.
SHIPMENT_STATUSES_TAKEN = frozenset(ShipmentStatus.values) - set(SHIPMENT_MOVES_ORDER)


def _order_event(order: Order, event_type: str, actor_id: Any, **fields: Any) -> NewEvent:
    """An event on the order's timeline, with its customer, as `_common._order_event` records
    one: its payload starts with the order's number."""
    payload = {"number": order.number, **fields.pop("payload", {})}
    return NewEvent(
        event_type=event_type,
        subject_type="order",
        subject_id=order.pk,
        customer_id=order.customer_id,
        actor_id=actor_id,
        payload=payload,
        **fields,
    )


def _moves_check(initial: OrderStatus, orders: Sequence[ShopOrderIn]) -> dict[str, str]:
    """The categories of the statuses the paths enter. ValueError: an order this path does
    not take (a caller's mistake: it sends those one at a time); nothing is written then."""
    codes = {code for item in orders for code in item.status_path}
    categories = dict(OrderStatus.objects.filter(code__in=codes).values_list("code", "category"))
    allowed = set(
        OrderTransition.objects.filter(to_status_id__in=codes).values_list(
            "from_status_id", "to_status_id"
        )
    )
    for index, item in enumerate(orders):
        previous = initial.code
        for code in item.status_path:
            if (previous, code) not in allowed or categories[code] not in HOLDS_STOCK:
                raise ValueError(f"order {index}: {previous} to {code} is not taken here")
            previous = code
        for shipment in item.shipments:
            if shipment.status not in SHIPMENT_STATUSES_TAKEN or not shipment.carrier.strip():
                raise ValueError(f"order {index}: a shipment {shipment.status} is not taken here")
        if item.payment is not None and (
            item.payment.method not in PaymentMethod.values
            or item.payment.status not in PaymentStatus.values
            or item.payment.status == PaymentStatus.REFUNDED
        ):
            raise ValueError(f"order {index}: a payment {item.payment.status} is not taken here")
        moment_check(item.placed_at, field=f"orders.{index}.placed_at")
    return categories


def _paid_at(item: ShopOrderIn, total: Decimal, now: datetime) -> datetime | None:
    """When the order's payment made it paid: a paid payment of its total."""
    if item.payment is None or item.payment.status != PaymentStatus.PAID or total <= 0:
        return None
    return item.payment.paid_at or now


def _numbers(count: int) -> list[str]:
    """`count` new order numbers from the counter in one UPDATE; a number an imported order
    took already is replaced by the next free one, as `_next_number` does."""
    if not OrderCounter.objects.filter(name=ORDER_COUNTER).update(value=F("value") + count):
        return [_next_number() for _each in range(count)]
    last = OrderCounter.objects.get(name=ORDER_COUNTER).value
    numbers = [str(value) for value in range(last - count + 1, last + 1)]
    taken = set(Order.objects.filter(number__in=numbers).values_list("number", flat=True))
    return [_next_number() if number in taken else number for number in numbers]


def _customers_resolve(orders: Sequence[ShopOrderIn]) -> list[int | None]:
    """Each order's customer, or the one they were merged into (one read for the batch)."""
    ids = {item.customer_id for item in orders if item.customer_id is not None}
    merged = dict(
        Customer.objects.filter(pk__in=ids).values_list("pk", "merged_into_id").order_by()
    )
    return [
        None
        if item.customer_id is None
        else item.customer_id
        if merged.get(item.customer_id, 0) is None
        else _customer_resolve(item.customer_id)
        for item in orders
    ]


@transaction.atomic
def orders_take_many(*, orders: Sequence[ShopOrderIn], actor: Actor = None) -> list[Order]:
    """Place new shop orders and bring each where the shop says it stands; in the order given.

    All or nothing: a refusal of any order (its field named `orders.<i>.…`) writes none.
    Stock is reserved as `order_create` reserves it, and an order short of stock goes in
    without holding any (a shop that sold it has sold it), as the one-at-a-time path does.
    """
    if not orders:
        return []
    if len(orders) > MAX_BATCH:
        raise DomainError(
            field="orders",
            code="too_large",
            message=_("At most %(n)s orders at once.") % {"n": MAX_BATCH},
        )
    initial = (
        OrderStatus.objects.filter(category=StatusCategory.NEW).order_by("position", "id").first()
    )
    if initial is None:
        raise DomainError(field="status", message=_("The pipeline has no status for new orders."))
    categories = _moves_check(initial, orders)
    skus = _skus_for([line for item in orders for line in item.lines])
    now = timezone.now()
    prepared: list[tuple[str, Any, Any]] = []  # currency, lines resolved, totals
    for index, item in enumerate(orders):
        if not item.lines or len(item.lines) > MAX_ITEMS:
            raise DomainError(
                field=f"orders.{index}.lines",
                message=_("An order has at most %(n)s lines.") % {"n": MAX_ITEMS}
                if item.lines
                else _("An order needs at least one line."),
            )
        currency = currency_clean(item.currency, field=f"orders.{index}.currency")
        try:
            resolved = _lines_resolve(item.lines, currency, skus)
        except DomainError as exc:
            field = f"orders.{index}.{exc.field}"
            raise type(exc)(field=field, code=exc.code, message=exc.message) from None
        totals = order_totals(
            lines=[PricedLine(line.quantity, line.unit_price, line.discount) for line in resolved],
            currency=currency,
            order_discount=amount_clean(item.discount, currency, field=f"orders.{index}.discount"),
            shipping=amount_clean(item.shipping, currency, field=f"orders.{index}.shipping"),
        )
        prepared.append((currency, resolved, totals))
    customers = _customers_resolve(orders)
    numbers = _numbers(len(orders))
    created = Order.objects.bulk_create(
        [
            Order(
                number=number,
                customer_id=customer_id,
                status=initial,
                currency=currency,
                subtotal=totals.subtotal,
                discount_total=totals.discount_total,
                shipping_total=totals.shipping_total,
                total=totals.total,
                placed_at=item.placed_at or now,
                # As `_paid_check` sets it when the payment (for the whole total) comes.
                paid_at=_paid_at(item, totals.total, now),
                status_changed_at=item.placed_at or now,
                channel=item.channel.strip()[:40],
                source=item.source.strip()[:100],
                external_ref=item.external_ref,
                stock_state=StockState.RESERVED
                if any(line.sku for line in resolved)
                else StockState.NONE,
                note=item.note.strip(),
                **_delivery_clean(item.delivery),
                created_at=now,
            )
            for item, (currency, resolved, totals), number, customer_id in zip(
                orders, prepared, numbers, customers, strict=True
            )
        ]
    )
    rows_insert(
        OrderLine,
        LINE_COLUMNS,
        [
            (
                order.pk,
                line.sku.pk if line.sku else None,
                line.sku_code,
                line.description,
                line.quantity,
                line.unit_price,
                line.discount,
                line_total,
            )
            for order, (_item, resolved, totals) in zip(created, prepared, strict=True)
            for line, line_total in zip(resolved, totals.line_totals, strict=True)
        ],
    )
    _stock_reserve(created, prepared, actor)
    actor_id = actor_id_of(actor)
    events_record_many(
        _order_event(
            order,
            "order.created",
            actor_id,
            payload={
                "status": initial.code,
                "currency": order.currency,
                "subtotal": totals.subtotal,
                "discount_total": totals.discount_total,
                "shipping_total": totals.shipping_total,
                "total": totals.total,
                "lines": len(resolved),
                "channel": order.channel,
            },
            occurred_at=item.placed_at,
        )
        for order, item, (_currency, resolved, totals) in zip(
            created, orders, prepared, strict=True
        )
    )
    for hook in order_placed_hooks():
        for order in created:
            hook(order, actor)
    _walk(created, orders, categories, actor_id)
    _payments(created, orders, actor_id, now)
    _shipments(created, orders, actor_id, now)
    customer_stats_refresh(customer_ids=[order.customer_id for order in created])
    return created


def _stock_reserve(
    created: list[Order], prepared: list[tuple[str, Any, Any]], actor: Actor
) -> None:
    holding = [order for order in created if order.stock_state == StockState.RESERVED]
    lines = {
        order.pk: [StockLine(line.sku.pk, line.quantity) for line in resolved if line.sku]
        for order, (_currency, resolved, _totals) in zip(created, prepared, strict=True)
    }
    reserved = catalog_services.stock_reserve_many(
        reservations=[
            catalog_services.Reservation(
                order_id=order.pk,
                lines=lines[order.pk],
                note=LaterText(gettext_noop("Order %(n)s"), {"n": order.number}),
            )
            for order in holding
        ],
        actor=actor,
    )
    short = [order.pk for order in holding if order.pk not in reserved]
    if short:
        Order.objects.filter(pk__in=short).update(stock_state=StockState.NONE)
        for order in holding:
            if order.pk in short:
                order.stock_state = StockState.NONE


def _walk(
    created: list[Order], orders: Sequence[ShopOrderIn], categories: dict[str, str], actor_id: Any
) -> None:
    """The pipeline's moves, step by step: one UPDATE per step for the orders taking it."""
    note, note_text = text_for_storing(LaterText(gettext_noop("From the shop")))
    at = Value(timezone.now(), output_field=DateTimeField())
    depth = max((len(item.status_path) for item in orders), default=0)
    for step in range(depth):
        moving = [
            (order, item)
            for order, item in zip(created, orders, strict=True)
            if len(item.status_path) > step
        ]
        for code in {item.status_path[step] for _order, item in moving}:
            ids = [order.pk for order, item in moving if item.status_path[step] == code]
            updates: dict[str, Any] = {"status_id": code, "status_changed_at": at}
            if categories[code] == StatusCategory.CONFIRMED:
                # First time only, as `_status_move` keeps it.
                updates["confirmed_at"] = Coalesce(F("confirmed_at"), at)
            Order.objects.filter(pk__in=ids).update(**updates)
        events = []
        for order, item in moving:
            code = item.status_path[step]
            payload: dict[str, Any] = {"from": order.status_id, "to": code}
            if note:
                payload["note"] = note
            if note_text:
                payload["note_text"] = note_text
            events.append(
                _order_event(
                    order,
                    "order.status_changed",
                    actor_id,
                    payload=payload,
                    idempotency_key=f"{item.status_key}:status:{code}",
                )
            )
            order.status_id = code
        events_record_many(events)


def _payments(
    created: list[Order], orders: Sequence[ShopOrderIn], actor_id: Any, now: datetime
) -> None:
    """Each order's payment for its total, as `payment_record` records a new one."""
    due = [
        (order, item.payment)
        for order, item in zip(created, orders, strict=True)
        if item.payment is not None and order.total > 0
    ]
    payments = Payment.objects.bulk_create(
        Payment(
            order=order,
            method=payment.method,
            amount=order.total,
            currency=order.currency,
            status=payment.status,
            external_id=payment.external_id.strip() or None,
            paid_at=order.paid_at if payment.status == PaymentStatus.PAID else None,
            created_at=now,
        )
        for order, payment in due
    )
    events_record_many(
        _order_event(
            order,
            "payment.recorded",
            actor_id,
            payload={
                "payment_id": payment.pk,
                "amount": payment.amount,
                "currency": order.currency,
                "method": payment.method,
                "status": payment.status,
            },
        )
        for (order, _given), payment in zip(due, payments, strict=True)
    )
    # What `_paid_check` records after a payment is received: the order's total is covered
    # (the payment is for the total), so it is paid, with the sum as the database adds it.
    paid = [order for order, _given in due if order.paid_at is not None]
    received = dict(
        Payment.objects.filter(
            order_id__in=[order.pk for order in paid], status__in=PAYMENT_RECEIVED
        )
        .values("order_id")
        .annotate(s=Sum("amount"))
        .values_list("order_id", "s")
    )
    events_record_many(
        _order_event(
            order,
            "order.paid",
            actor_id,
            payload={
                "total": order.total,
                "received": received[order.pk],
                "currency": order.currency,
            },
        )
        for order in paid
    )


def _shipments(
    created: list[Order], orders: Sequence[ShopOrderIn], actor_id: Any, now: datetime
) -> None:
    """Each parcel as `shipment_create` makes it, then in the carrier's status."""
    wanted = [
        (order, shipment)
        for order, item in zip(created, orders, strict=True)
        for shipment in item.shipments
    ]
    # Each made in the status it ends in: the history and the events tell both steps.
    at = timezone.now()
    shipments = Shipment.objects.bulk_create(
        Shipment(
            order=order,
            carrier=given.carrier.strip()[:60],
            tracking_number=given.tracking_number.strip()[:100],
            status=given.status,
            status_changed_at=now if given.status == ShipmentStatus.CREATED else given.at or at,
            created_at=now,
        )
        for order, given in wanted
    )
    # (shipment, from, to, note, at, actor): each parcel made, then moved where the carrier says.
    history: list[tuple[Any, ...]] = [
        (shipment.pk, "", ShipmentStatus.CREATED, "", now, actor_id) for shipment in shipments
    ]
    events = [
        _order_event(
            order,
            "shipment.created",
            actor_id,
            payload={
                "shipment_id": shipment.pk,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
            },
            idempotency_key=given.created_key,
        )
        for (order, given), shipment in zip(wanted, shipments, strict=True)
    ]
    moved = [
        (order, given, shipment)
        for (order, given), shipment in zip(wanted, shipments, strict=True)
        if given.status != ShipmentStatus.CREATED
    ]
    history += [
        (
            shipment.pk,
            ShipmentStatus.CREATED,
            given.status,
            "",
            shipment.status_changed_at,
            actor_id,
        )
        for _order, given, shipment in moved
    ]
    rows_insert(
        ShipmentStatusChange,
        ("shipment_id", "from_status", "to_status", "note", "occurred_at", "actor_id"),
        history,
    )
    events += [
        _order_event(
            order,
            "shipment.status_changed",
            actor_id,
            payload={
                "shipment_id": shipment.pk,
                "from": ShipmentStatus.CREATED,
                "to": given.status,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
            },
            occurred_at=given.at,
            idempotency_key=given.status_key,
        )
        for order, given, shipment in moved
    ]
    events_record_many(events)
