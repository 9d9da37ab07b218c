"""Every write to orders: one transaction each, its events in the same transaction.

Idempotency: a service given `idempotency_key` is wrapped in `@idempotent`
(procedo/core/idempotency.py): a retry, a redelivery or a double click with the
same request returns what the first made and writes nothing; the same key with
another request is refused. The key, scoped to the caller, is also UNIQUE on the
work's event: the last guard when two twins race.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    Model,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.accounts.models import User
from procedo.business.selectors import business_get
from procedo.catalog import services as catalog_services
from procedo.catalog.models import Sku
from procedo.catalog.services import OutOfStock, StockLine
from procedo.core.actors import actor_id_of
from procedo.core.bounds import MAX_ITEMS, moment_check
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean, currency_clean, money_format, money_quantize
from procedo.core.texts import LaterText, text_for_storing
from procedo.customers import services as customer_services
from procedo.customers.models import Customer
from procedo.customers.normalise import phone_normalise
from procedo.events.services import NewEvent, event_record, events_record_many
from procedo.orders.models import (
    GOODS_GONE,
    PAYMENT_RECEIVED,
    DeliveryCarrier,
    DeliveryPoint,
    Order,
    OrderCounter,
    OrderKind,
    OrderLine,
    OrderStatus,
    OrderTransition,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    Return,
    ReturnLine,
    ReturnStatus,
    Shipment,
    ShipmentStatus,
    ShipmentStatusChange,
    StatusCategory,
    StockState,
)
from procedo.orders.permissions import MANAGER_PERMISSION, manager_roles
from procedo.orders.registry import order_placed_hooks
from procedo.orders.totals import OrderTotals, PricedLine, order_totals

ZERO = Decimal("0")
ORDER_COUNTER = "order"
FIRST_ORDER_NUMBER = 1000
# Stock is held for an order while it is in one of these.
HOLDS_STOCK = frozenset({StatusCategory.NEW, StatusCategory.CONFIRMED, StatusCategory.PROCESSING})


# --- shared -----------------------------------------------------------------------------------


def _order_with_status(order_id: int) -> Order:
    return Order.objects.select_related("status").get(pk=order_id)


@contextmanager
def _unique_guard(*, field: str, message: str, code: str = "duplicate") -> Iterator[None]:
    """Turn a unique-constraint race (a twin request committed first) into a 409 that names it."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise Conflict(field=field, message=message, code=code) from None


def _order_event(
    order: Order,
    *,
    event_type: str,
    actor: Actor,
    payload: dict[str, Any],
    idempotency_key: str | None,
    occurred_at: datetime | None = None,
) -> None:
    """An event on the order's timeline, with its customer so the customer's timeline has it too."""
    kwargs: dict[str, Any] = {
        "event_type": event_type,
        "subject_type": "order",
        "subject_id": order.pk,
        "customer_id": order.customer_id,
        "actor": actor,
        "payload": {"number": order.number, **payload},
        "occurred_at": occurred_at,
        "idempotency_key": idempotency_key,
    }
    if idempotency_key is None:
        event_record(**kwargs)
        return
    with _unique_guard(
        field="Idempotency-Key",
        message=_("A request with this idempotency key is being handled; retry shortly."),
        code="idempotency_key_in_progress",
    ):
        event_record(**kwargs)


def _order_get(order_id: int, *, lock: bool = False) -> Order:
    orders = Order.objects.select_related("status")
    if lock:
        # Only where a rule spans rows (the sum of refunds against the payments):
        # two concurrent refunds must not both pass the check.
        orders = orders.select_for_update(of=("self",))
    order = orders.filter(pk=order_id).first()
    if order is None:
        raise NotFound(field="order_id", message=_("No order with id %(id)s.") % {"id": order_id})
    return order


def _stock_lines(order_id: int) -> list[StockLine]:
    return [
        StockLine(sku_id=sku_id, quantity=quantity)
        for sku_id, quantity in OrderLine.objects.filter(
            order_id=order_id, sku__isnull=False
        ).values_list("sku_id", "quantity")
    ]


# --- history in bulk -------------------------------------------------------------------------

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


def rows_insert(model: type[Model], attnames: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Rows of an orders table as they are, with executemany: history in bulk.

    Half a million rows: Django's bulk_create spends several times the
    database's own time preparing each field of each object, so rows go to
    executemany as tuples the driver adapts (Decimal, int, str; datetimes
    adapted by the caller). The caller validates them and records the events.
    """
    if not rows:
        return
    column_of = {field.attname: field.column for field in model._meta.concrete_fields}
    names = ", ".join(connection.ops.quote_name(column_of[name]) for name in attnames)
    table = connection.ops.quote_name(model._meta.db_table)
    placeholders = ", ".join(["%s"] * len(attnames))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({placeholders})",  # noqa: S608
            rows,
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


# --- customer aggregates ----------------------------------------------------------------------


def _stats_updates(currency: str) -> dict[str, Any]:
    not_cancelled = (
        Order.objects.filter(customer_id=OuterRef("pk"))
        .exclude(status__category=StatusCategory.CANCELLED)
        .order_by()
    )
    counted = not_cancelled.filter(kind=OrderKind.SALE)
    per_customer = counted.values("customer_id")
    # A return document (an imported credit note) credits its total back against a sale
    # that stays where it was; a sale a person moved to a returned status is worth nothing.
    signed_total = Case(When(kind=OrderKind.RETURN, then=-F("total")), default=F("total"))
    valued = not_cancelled.exclude(kind=OrderKind.SALE, status__category=StatusCategory.RETURNED)
    return {
        "orders_count": Coalesce(
            Subquery(per_customer.annotate(n=Count("pk")).values("n")), Value(0)
        ),
        # Orders in another currency cannot be added without a rate: the
        # lifetime value is in the business's currency only.
        "lifetime_value": Coalesce(
            Subquery(
                valued.filter(currency=currency)
                .values("customer_id")
                .annotate(s=Sum(signed_total))
                .values("s")
            ),
            Value(ZERO),
        ),
        "first_order_at": Subquery(counted.order_by("placed_at").values("placed_at")[:1]),
        "last_order_at": Subquery(counted.order_by("-placed_at").values("placed_at")[:1]),
    }


def customer_stats_refresh(*, customer_ids: Iterable[int | None]) -> int:
    """Recompute first/last order, order count and lifetime value of these customers.

    The figures are the orders' (cancelled ones do not count; returned ones count as
    orders but add nothing to the lifetime value), written by the customers'
    own service as one UPDATE with correlated subqueries per chunk of customers, whatever
    the number of orders: safe for bulk use. Returns the number of customers updated.
    """
    ids = sorted({int(pk) for pk in customer_ids if pk is not None})
    if not ids:
        return 0
    return customer_services.customer_figures_set(
        customer_ids=ids, figures=_stats_updates(business_get().currency)
    )


def customer_stats_refresh_all() -> int:
    """The same for every customer in one UPDATE: after a bulk import, or to repair drift."""
    return customer_services.customer_figures_set(
        customer_ids=None, figures=_stats_updates(business_get().currency)
    )


@transaction.atomic
def orders_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's orders become the survivor's, in one UPDATE.

    Called positionally by the customers merge (procedo.customers.registry),
    inside its transaction; the merge records the event with the count returned
    here. Both customers' order figures are recomputed.
    """
    if survivor_id == duplicate_id:
        return 0
    moved = Order.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    customer_stats_refresh(customer_ids=[survivor_id, duplicate_id])
    return moved


# --- creating an order ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLineIn:
    """One line of a new order: a SKU (by id or code) or a free line with its own price."""

    quantity: int
    sku_id: int | None = None
    sku_code: str = ""
    description: str = ""
    unit_price: Decimal | str | None = None  # None: the SKU's price
    discount: Decimal | str = ZERO  # off the whole line


def _customer_resolve(customer_id: int | None) -> int | None:
    """The customer, or the one they were merged into, so an order never lands on a duplicate."""
    current = customer_id
    for _hop in range(5):
        if current is None:
            return None
        row = Customer.objects.filter(pk=current).values_list("merged_into_id", flat=True)
        found = list(row)
        if not found:
            raise NotFound(field="customer_id", message=_("No such customer."))
        if found[0] is None:
            return current
        current = found[0]
    return current


def _initial_status(code: str | None) -> OrderStatus:
    if code:
        status = OrderStatus.objects.filter(code=code).first()
        if status is None:
            raise DomainError(field="status", message=_("No status %(code)s.") % {"code": code})
        return status
    status = (
        OrderStatus.objects.filter(category=StatusCategory.NEW).order_by("position", "id").first()
    )
    if status is None:
        raise Conflict(field="status", message=_("The pipeline has no status for new orders."))
    return status


def _next_number() -> str:
    """The next free order number: a counter row bumped in place, so two orders never share one."""
    while True:
        if not OrderCounter.objects.filter(name=ORDER_COUNTER).update(value=F("value") + 1):
            OrderCounter.objects.bulk_create(
                [OrderCounter(name=ORDER_COUNTER, value=FIRST_ORDER_NUMBER)],
                ignore_conflicts=True,
            )
            continue
        number = str(OrderCounter.objects.get(name=ORDER_COUNTER).value)
        # An imported order may have taken this number already; take the next.
        if not Order.objects.filter(number=number).exists():
            return number


def _skus_for(lines: Sequence[OrderLineIn]) -> tuple[dict[int, Sku], dict[str, Sku]]:
    ids = {line.sku_id for line in lines if line.sku_id is not None}
    codes = {line.sku_code.strip() for line in lines if line.sku_id is None and line.sku_code}
    if not ids and not codes:
        return {}, {}
    found = list(Sku.objects.select_related("product").filter(Q(pk__in=ids) | Q(code__in=codes)))
    return {sku.pk: sku for sku in found}, {sku.code: sku for sku in found}


@dataclass(frozen=True)
class _Line:
    sku: Sku | None
    sku_code: str
    description: str
    quantity: int
    unit_price: Decimal
    discount: Decimal


def _lines_resolve(lines: Sequence[OrderLineIn], currency: str) -> list[_Line]:
    by_id, by_code = _skus_for(lines)
    resolved = []
    for i, line in enumerate(lines):
        field = f"lines.{i}"
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise DomainError(
                field=f"{field}.quantity", message=_("A quantity must be above zero.")
            )
        sku: Sku | None = None
        if line.sku_id is not None:
            sku = by_id.get(line.sku_id)
            if sku is None:
                raise NotFound(field=f"{field}.sku_id", message=_("No such SKU."))
        elif line.sku_code:
            # A code the catalog does not know is kept on the line (an imported
            # order may sell what was never entered here); it holds no stock.
            sku = by_code.get(line.sku_code.strip())
        if line.unit_price is not None:
            unit_price = amount_clean(line.unit_price, currency, field=f"{field}.unit_price")
        elif sku is None:
            raise DomainError(
                field=f"{field}.unit_price", message=_("A line without a SKU needs a price.")
            )
        elif sku.currency != currency:
            raise DomainError(
                field=f"{field}.unit_price",
                message=_("%(code)s is priced in %(sku)s; give its price in %(order)s.")
                % {"code": sku.code, "sku": sku.currency, "order": currency},
            )
        else:
            unit_price = sku.price
        description = line.description.strip()
        if not description and sku is not None:
            description = " ".join(part for part in (sku.product.name, sku.name) if part)
        if not description:
            raise DomainError(
                field=f"{field}.description", message=_("Describe a line without a SKU.")
            )
        resolved.append(
            _Line(
                sku=sku,
                sku_code=sku.code if sku else line.sku_code.strip(),
                description=description[:300],
                quantity=line.quantity,
                unit_price=unit_price,
                discount=amount_clean(line.discount, currency, field=f"{field}.discount"),
            )
        )
    return resolved


def _lines_write(order: Order, resolved: Sequence[_Line], totals: OrderTotals) -> None:
    """The order's priced lines, one INSERT (a new order, or an edit after its old lines go)."""
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            sku=line.sku,
            sku_code=line.sku_code,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            line_total=line_total,
        )
        for line, line_total in zip(resolved, totals.line_totals, strict=True)
    )


@dataclass(frozen=True)
class CustomerIn:
    """Who orders, when the caller has no customer id: found by phone (written any way) or
    email, else made from these."""

    phone: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class DeliveryIn:
    """How the parcel travels: a carrier, to a branch (or parcel locker) or to an address."""

    carrier: str = ""  # DeliveryCarrier, or "" while not agreed yet
    point: str = ""  # DeliveryPoint
    city: str = ""
    branch: str = ""
    address: str = ""
    recipient_name: str = ""
    recipient_phone: str = ""


DELIVERY_TEXT_LIMITS = {"city": 100, "branch": 100, "address": 200, "recipient_name": 150}


def _delivery_clean(delivery: DeliveryIn) -> dict[str, str]:
    """The order's delivery columns, or a refusal naming `delivery.<field>`.

    A carrier that is not agreed yet leaves the rest optional; once it is, the parcel
    needs a city and a branch or an address (pickup from the store needs neither).
    """
    carrier = delivery.carrier.strip()
    if carrier and carrier not in DeliveryCarrier.values:
        raise DomainError(
            field="delivery.carrier", message=_("Unknown carrier %(c)s.") % {"c": carrier}
        )
    point = delivery.point.strip()
    if point and point not in DeliveryPoint.values:
        raise DomainError(
            field="delivery.point", message=_("Deliver to a branch or to an address.")
        )
    text: dict[str, str] = {}
    for name, limit in DELIVERY_TEXT_LIMITS.items():
        value = " ".join(str(getattr(delivery, name)).split())
        if len(value) > limit:
            raise DomainError(
                field=f"delivery.{name}",
                code="too_large",
                message=_("At most %(limit)s characters.") % {"limit": limit},
            )
        text[name] = value
    if carrier == DeliveryCarrier.PICKUP:
        point, text["city"] = "", ""
    elif carrier:
        if carrier == DeliveryCarrier.COURIER:
            point = point or DeliveryPoint.ADDRESS
        if not point:
            raise DomainError(
                field="delivery.point", message=_("Deliver to a branch or to an address.")
            )
        if not text["city"]:
            raise DomainError(field="delivery.city", message=_("Which city?"))
        if point == DeliveryPoint.BRANCH and not text["branch"]:
            raise DomainError(field="delivery.branch", message=_("Which branch or parcel locker?"))
        if point == DeliveryPoint.ADDRESS and not text["address"]:
            raise DomainError(field="delivery.address", message=_("Which street and house?"))
    recipient_phone = ""
    if delivery.recipient_phone.strip():
        try:
            recipient_phone = phone_normalise(delivery.recipient_phone[:40]).e164
        except DomainError as exc:
            raise DomainError(field="delivery.recipient_phone", message=exc.message) from None
    return {
        "delivery_carrier": carrier,
        "delivery_point": point,
        "delivery_city": text["city"],
        # What the parcel does not go to is not kept: a branch order has no street.
        "delivery_branch": text["branch"] if point == DeliveryPoint.BRANCH else "",
        "delivery_address": text["address"] if point == DeliveryPoint.ADDRESS else "",
        "recipient_name": text["recipient_name"],
        "recipient_phone": recipient_phone,
    }


def _payment_method_clean(method: str) -> str:
    method = (method or "").strip()
    if method and method not in PaymentMethod.values:
        raise DomainError(
            field="payment_method", message=_("Unknown payment method %(m)s.") % {"m": method}
        )
    return method


def _manager_clean(manager_id: int | None) -> int | None:
    if manager_id is None:
        return None
    if not User.objects.filter(pk=manager_id, is_active=True, role__in=manager_roles()).exists():
        raise DomainError(
            field="manager_id",
            message=_("The manager must be an active person who may work on orders (%(p)s).")
            % {"p": MANAGER_PERMISSION},
        )
    return manager_id


def _customer_take(customer: CustomerIn, *, source: str, actor: Actor) -> int:
    """The customer a phone or email points at, or a new one: in the order's transaction,
    so an order refused later leaves no customer behind."""
    if not (customer.phone.strip() or customer.email.strip()):
        raise DomainError(field="customer.phone", message=_("Give the customer's phone or email."))
    try:
        match = customer_services.customer_find_or_create(
            phone=customer.phone[:40],
            email=customer.email[:254],
            first_name=customer.first_name,
            last_name=customer.last_name,
            source=source[:60],
            actor=actor,
        )
    except DomainError as exc:
        raise type(exc)(field=f"customer.{exc.field}", code=exc.code, message=exc.message) from None
    return int(match.customer.pk)


def _stock_refusal(exc: OutOfStock, lines: Sequence[_Line]) -> OutOfStock:
    """The stock's refusal, named after the first line that asks for that SKU."""
    index = next((i for i, line in enumerate(lines) if line.sku_code == exc.sku_code), None)
    return OutOfStock(
        sku_code=exc.sku_code,
        available=exc.available,
        requested=exc.requested,
        field=f"lines.{index}.quantity" if index is not None else "lines",
    )


@idempotent("order.create", replay=lambda pk: _order_with_status(pk))
@transaction.atomic
def order_create(
    *,
    lines: Sequence[OrderLineIn],
    actor: Actor,
    idempotency_key: str | None,
    customer_id: int | None = None,
    customer: CustomerIn | None = None,
    delivery: DeliveryIn | None = None,
    payment_method: str = "",
    manager_id: int | None = None,
    currency: str | None = None,
    discount: Decimal | str = ZERO,
    shipping: Decimal | str = ZERO,
    number: str | None = None,
    status: str | None = None,
    placed_at: datetime | None = None,
    channel: str = "",
    source: str = "",
    external_ref: str | None = None,
    note: str = "",
    reserve_stock: bool = True,
    refresh_customer_stats: bool = True,
) -> Order:
    """Place an order: lines priced, totals computed, stock reserved, all or nothing.

    The customer is `customer_id`, or the one `customer` (a phone or email) finds
    or makes, in this transaction. `external_ref` (the shop's id) and
    `idempotency_key` make a repeat return the first order. `status` places it in
    any pipeline status (an import of history); stock is reserved only when that
    status holds stock and
    `reserve_stock` is true. A line short of stock raises OutOfStock (409).
    A bulk import may pass `refresh_customer_stats=False` and call
    customer_stats_refresh (or customer_stats_refresh_all) once at the end.
    """
    external_ref = (external_ref or "").strip() or None
    if external_ref:
        existing = Order.objects.select_related("status").filter(external_ref=external_ref).first()
        if existing is not None:
            return existing
    if not lines:
        raise DomainError(field="lines", message=_("An order needs at least one line."))
    if len(lines) > MAX_ITEMS:
        raise DomainError(
            field="lines",
            code="too_large",
            message=_("An order has at most %(n)s lines.") % {"n": MAX_ITEMS},
        )
    currency = currency_clean(currency or business_get().currency)
    initial = _initial_status(status)
    resolved = _lines_resolve(lines, currency)
    delivered = _delivery_clean(delivery or DeliveryIn())
    payment_method = _payment_method_clean(payment_method)
    manager_id = _manager_clean(manager_id)
    if customer is not None:
        if customer_id is not None:
            raise DomainError(
                field="customer", message=_("Give a customer id or a customer, not both.")
            )
        customer_id = _customer_take(customer, source=channel, actor=actor)
    customer_id = _customer_resolve(customer_id)
    totals = order_totals(
        lines=[PricedLine(line.quantity, line.unit_price, line.discount) for line in resolved],
        currency=currency,
        order_discount=amount_clean(discount, currency, field="discount"),
        shipping=amount_clean(shipping, currency, field="shipping"),
    )
    number = (number or "").strip() or None
    if number is not None and Order.objects.filter(number=number).exists():
        raise Conflict(field="number", message=_("Order %(n)s exists.") % {"n": number})
    stock_lines = [
        StockLine(sku_id=line.sku.pk, quantity=line.quantity) for line in resolved if line.sku
    ]
    holds_stock = reserve_stock and initial.category in HOLDS_STOCK and bool(stock_lines)
    now = timezone.now()
    moment_check(placed_at, field="placed_at")
    placed = placed_at or now
    order = Order(
        number=number or _next_number(),
        customer_id=customer_id,
        status=initial,
        currency=currency,
        subtotal=totals.subtotal,
        discount_total=totals.discount_total,
        shipping_total=totals.shipping_total,
        total=totals.total,
        placed_at=placed,
        status_changed_at=placed,
        confirmed_at=placed if initial.category == StatusCategory.CONFIRMED else None,
        cancelled_at=placed if initial.category == StatusCategory.CANCELLED else None,
        channel=channel.strip()[:40],
        source=source.strip()[:100],
        external_ref=external_ref,
        stock_state=StockState.RESERVED if holds_stock else StockState.NONE,
        note=note.strip(),
        payment_method=payment_method,
        manager_id=manager_id,
        **delivered,
        created_at=now,
    )
    with _unique_guard(field="external_ref", message=_("This order was created meanwhile.")):
        order.save(force_insert=True)
    _lines_write(order, resolved, totals)
    if holds_stock:
        try:
            catalog_services.stock_reserve(
                lines=stock_lines,
                order_id=order.pk,
                actor=actor,
                note=LaterText(gettext_noop("Order %(n)s"), {"n": order.number}),
            )
        except OutOfStock as exc:
            raise _stock_refusal(exc, resolved) from None
    _order_event(
        order,
        event_type="order.created",
        actor=actor,
        payload={
            "status": initial.code,
            "currency": currency,
            "subtotal": totals.subtotal,
            "discount_total": totals.discount_total,
            "shipping_total": totals.shipping_total,
            "total": totals.total,
            "lines": len(resolved),
            "channel": order.channel,
        },
        idempotency_key=idempotency_key,
        occurred_at=placed if placed_at else None,
    )
    for hook in order_placed_hooks():
        hook(order, actor)
    if refresh_customer_stats:
        customer_stats_refresh(customer_ids=[customer_id])
    return order


# --- editing an order while the pipeline allows it ---------------------------------------------


def _editable_get(order_id: int) -> Order:
    """The order, locked, if its status lets people change it; else 409 naming `status`."""
    order = _order_get(order_id, lock=True)
    if not order.status.editable:
        raise Conflict(
            field="status",
            code="not_editable",
            message=_("An order in %(status)s cannot be changed any more.")
            % {"status": order.status.label_display},
        )
    if order.stock_state in (StockState.CONSUMED, StockState.RELEASED):
        # A status marked editable by mistake must not rewrite what left the shelf.
        raise Conflict(
            field="status",
            code="not_editable",
            message=_("The goods of this order have left the shelf; it cannot be changed."),
        )
    return order


def _order_discount(order: Order) -> Decimal:
    """The discount on the whole order: the total discount less the lines' own."""
    lines = OrderLine.objects.filter(order_id=order.pk)
    return max(order.discount_total - lines.aggregate(s=Sum("discount", default=ZERO))["s"], ZERO)


def _money_check(order: Order, totals: OrderTotals, *, field: str) -> None:
    """A total never falls below the money already kept; the paid mark follows the total."""
    received, refunded = _money_received(order.pk)
    kept = received - refunded
    if totals.total < kept:
        raise DomainError(
            field=field,
            message=_(
                "%(kept)s was received for this order; the new total %(total)s is less. "
                "Record a refund first."
            )
            % {
                "kept": money_format(kept, order.currency),
                "total": money_format(totals.total, order.currency),
            },
        )


def _totals_write(order: Order, totals: OrderTotals, **more: Any) -> None:
    """New totals (and other columns) by compare-and-set on the status the checks saw."""
    received, _refunded = _money_received(order.pk)
    updates: dict[str, Any] = {
        "subtotal": totals.subtotal,
        "discount_total": totals.discount_total,
        "shipping_total": totals.shipping_total,
        "total": totals.total,
        **more,
    }
    if order.paid_at is not None and received < totals.total:
        updates["paid_at"] = None  # more is due now; the next payment that covers it pays it
    if not Order.objects.filter(pk=order.pk, status__code=order.status_id).update(**updates):
        raise Conflict(
            field="status", code="stale", message=_("The order changed meanwhile; reload it.")
        )
    for name, value in updates.items():
        setattr(order, name, value)


def _stock_need(lines: Iterable[tuple[int | None, int]]) -> dict[int, int]:
    need: dict[int, int] = {}
    for sku_id, quantity in lines:
        if sku_id is not None:
            need[sku_id] = need.get(sku_id, 0) + quantity
    return need


@idempotent("order.lines_set", replay=lambda pk: _order_with_status(pk))
@transaction.atomic
def order_lines_set(
    *, order_id: int, lines: Sequence[OrderLineIn], actor: Actor, idempotency_key: str | None
) -> Order:
    """Replace the lines of an order whose status is editable; all or nothing.

    Totals are computed again (the order's own discount and shipping stay), and the
    stock follows the difference: more of a SKU is reserved (OutOfStock names the
    line, `lines.<i>.quantity`), less is released. A line given without a price
    takes the SKU's price today; pass the line's `unit_price` to keep what was agreed.
    """
    order = _editable_get(order_id)
    if not lines:
        raise DomainError(field="lines", message=_("An order needs at least one line."))
    if len(lines) > MAX_ITEMS:
        raise DomainError(
            field="lines",
            code="too_large",
            message=_("An order has at most %(n)s lines.") % {"n": MAX_ITEMS},
        )
    before = list(OrderLine.objects.filter(order_id=order.pk))
    resolved = _lines_resolve(lines, order.currency)
    totals = order_totals(
        lines=[PricedLine(line.quantity, line.unit_price, line.discount) for line in resolved],
        currency=order.currency,
        order_discount=_order_discount(order),
        shipping=order.shipping_total,
    )
    _money_check(order, totals, field="lines")

    old = _stock_need((line.sku_id, line.quantity) for line in before)
    new = _stock_need((line.sku.pk if line.sku else None, line.quantity) for line in resolved)
    stock_state = order.stock_state
    # An order placed without reserving (reserve_stock=False) keeps not reserving, unless
    # it had nothing to reserve then: a status that holds stock holds it for new lines.
    holds = stock_state == StockState.RESERVED or (
        stock_state == StockState.NONE and not old and order.status.category in HOLDS_STOCK
    )
    if holds:
        note = LaterText(gettext_noop("Order %(n)s changed"), {"n": order.number})
        less = [StockLine(k, q - new.get(k, 0)) for k, q in old.items() if q > new.get(k, 0)]
        more = [StockLine(k, q - old.get(k, 0)) for k, q in new.items() if q > old.get(k, 0)]
        if less and stock_state == StockState.RESERVED:
            catalog_services.stock_release(lines=less, order_id=order.pk, actor=actor, note=note)
        if more:
            try:
                catalog_services.stock_reserve(
                    lines=more, order_id=order.pk, actor=actor, note=note
                )
            except OutOfStock as exc:
                raise _stock_refusal(exc, resolved) from None
        stock_state = StockState.RESERVED if new else StockState.NONE

    OrderLine.objects.filter(order_id=order.pk).delete()
    _lines_write(order, resolved, totals)
    from_total = order.total
    _totals_write(order, totals, stock_state=stock_state)
    _order_event(
        order,
        event_type="order.lines_changed",
        actor=actor,
        payload={
            "from_total": from_total,
            "total": totals.total,
            "currency": order.currency,
            "lines": [
                {"sku": line.sku_code, "description": line.description, "quantity": line.quantity}
                for line in resolved
            ],
            "before": [
                {"sku": line.sku_code, "description": line.description, "quantity": line.quantity}
                for line in before
            ],
        },
        idempotency_key=idempotency_key,
    )
    _paid_check(order, actor=actor, when=timezone.now())
    customer_stats_refresh(customer_ids=[order.customer_id])
    return order


@idempotent("order.delivery_set", replay=lambda pk: _order_with_status(pk))
@transaction.atomic
def order_delivery_set(
    *,
    order_id: int,
    delivery: DeliveryIn,
    actor: Actor,
    idempotency_key: str | None,
    payment_method: str | None = None,
    shipping: Decimal | str | None = None,
    note: str | None = None,
) -> Order:
    """How an order whose status is editable travels and is paid: the carrier, branch or
    address and recipient, the payment method, the shipping charge and the note.

    `delivery` replaces what was there; None leaves a field as it is. A new shipping
    charge computes the total again. Nothing changed, nothing recorded.
    """
    order = _editable_get(order_id)
    updates = _delivery_clean(delivery)
    if payment_method is not None:
        updates["payment_method"] = _payment_method_clean(payment_method)
    if note is not None:
        updates["note"] = note.strip()
    changes: dict[str, Any] = {
        name: value for name, value in updates.items() if getattr(order, name) != value
    }
    new_shipping = (
        amount_clean(shipping, order.currency, field="shipping") if shipping is not None else None
    )
    if new_shipping is not None and new_shipping != order.shipping_total:
        priced = [
            PricedLine(line.quantity, line.unit_price, line.discount)
            for line in OrderLine.objects.filter(order_id=order.pk)
        ]
        totals = order_totals(
            lines=priced,
            currency=order.currency,
            order_discount=_order_discount(order),
            shipping=new_shipping,
        )
        _money_check(order, totals, field="shipping")
        from_total = order.total
        _totals_write(order, totals, **changes)
        changes["shipping_total"] = new_shipping
        changes["total"] = totals.total
        changes["from_total"] = from_total
        customer_stats_refresh(customer_ids=[order.customer_id])
    elif changes:
        if not Order.objects.filter(pk=order.pk, status__code=order.status_id).update(**changes):
            raise Conflict(
                field="status", code="stale", message=_("The order changed meanwhile; reload it.")
            )
        for name, value in changes.items():
            setattr(order, name, value)
    if not changes:
        return order
    _order_event(
        order,
        event_type="order.delivery_changed",
        actor=actor,
        payload={**changes, "currency": order.currency},
        idempotency_key=idempotency_key,
    )
    if "total" in changes:
        _paid_check(order, actor=actor, when=timezone.now())
    return order


@transaction.atomic
def order_discount_add(
    *, order_id: int, amount: Decimal, reason: str, actor: Actor, idempotency_key: str | None
) -> Order:
    """Take `amount` more off an order whose status is editable (a reward, a goodwill
    gesture), as the order's own discount; `reason` says why on its timeline (a service
    passes a gettext_noop msgid, translated there for each reader).

    Refused, unchanged, when it is more than the goods left to discount (the total never
    falls below the shipping, nor below zero) or below what was received already.
    """
    order = _editable_get(order_id)
    amount = amount_clean(amount, order.currency, field="amount", positive=True)
    priced = [
        PricedLine(line.quantity, line.unit_price, line.discount)
        for line in OrderLine.objects.filter(order_id=order.pk)
    ]
    try:
        totals = order_totals(
            lines=priced,
            currency=order.currency,
            order_discount=_order_discount(order) + amount,
            shipping=order.shipping_total,
        )
    except DomainError as exc:  # "larger than the goods": it is this amount that is
        raise DomainError(field="amount", code=exc.code, message=exc.message) from None
    _money_check(order, totals, field="amount")
    from_total = order.total
    _totals_write(order, totals)
    _order_event(
        order,
        event_type="order.discount_added",
        actor=actor,
        payload={
            "amount": amount,
            "reason": reason[:200],
            "from_total": from_total,
            "total": totals.total,
            "currency": order.currency,
        },
        idempotency_key=idempotency_key,
    )
    customer_stats_refresh(customer_ids=[order.customer_id])
    return order


@dataclass(frozen=True)
class BulkRefusal:
    order_id: int
    number: str  # "" for an id that is no order
    message: str


@dataclass(frozen=True)
class BulkMove:
    moved: list[Order]
    refused: list[BulkRefusal]  # in the order asked


def orders_change_status_many(
    *, order_ids: Sequence[int], to_status: str, actor: Actor, idempotency_key: str | None
) -> BulkMove:
    """Move many orders to one status, each in its own transaction.

    Every order goes through `order_change_status` (its pipeline check, stock, event
    and SOP triggers); one that cannot move is refused with the reason and the others
    still move. Each order's key is `<key>:<order id>`, so a repeat moves none twice.
    """
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        raise DomainError(field="order_ids", message=_("Choose the orders to move."))
    if len(ids) > MAX_ITEMS:
        raise DomainError(
            field="order_ids",
            code="too_large",
            message=_("At most %(n)s orders at once.") % {"n": MAX_ITEMS},
        )
    moved: list[Order] = []
    refused: list[tuple[int, str]] = []  # (order id, why)
    for order_id in ids:
        try:
            moved.append(
                order_change_status(
                    order_id=order_id,
                    to_status=to_status,
                    actor=actor,
                    idempotency_key=f"{idempotency_key}:{order_id}" if idempotency_key else None,
                )
            )
        except DomainError as exc:
            refused.append((order_id, exc.message))
    numbers = dict(
        Order.objects.filter(pk__in=[pk for pk, _why in refused]).values_list("pk", "number")
    )
    return BulkMove(
        moved=moved,
        refused=[BulkRefusal(pk, numbers.get(pk, ""), why) for pk, why in refused],
    )


# --- the status pipeline ----------------------------------------------------------------------


def _transition_target(order: Order, to_status: str) -> OrderStatus:
    """The status the pipeline allows this order to move to, or a refusal naming `status`."""
    target = OrderStatus.objects.filter(
        code=to_status, transitions_in__from_status__code=order.status_id
    ).first()
    if target is not None:
        return target
    known = OrderStatus.objects.filter(code=to_status).first()
    if known is None:
        raise DomainError(field="status", message=_("No status %(code)s.") % {"code": to_status})
    raise Conflict(
        field="status",
        message=_("An order cannot go from %(from)s to %(to)s.")
        % {"from": order.status.label, "to": known.label},
    )


def _original(label: Any) -> str:
    """A choice's label as its catalog original (English), to be stored for later readers."""
    with translation.override(None):
        return str(label)


def _status_move(
    order: Order,
    target: OrderStatus,
    *,
    actor: Actor,
    idempotency_key: str | None,
    changed_at: datetime | None,
    note: str | LaterText = "",
) -> Order:
    moment_check(changed_at, field="changed_at")
    now = changed_at or timezone.now()
    at = Value(now, output_field=DateTimeField())
    category = target.category
    from_status, from_category = order.status_id, order.status.category
    updates: dict[str, Any] = {"status_id": target.code, "status_changed_at": now}
    # First time only: a reopened order keeps when it was first confirmed or shipped.
    if category == StatusCategory.CONFIRMED:
        updates["confirmed_at"] = Coalesce(F("confirmed_at"), at)
    if category in GOODS_GONE:
        updates["shipped_at"] = Coalesce(F("shipped_at"), at)
    if category == StatusCategory.DELIVERED:
        updates["delivered_at"] = Coalesce(F("delivered_at"), at)
    if category == StatusCategory.CANCELLED:
        updates["cancelled_at"] = Coalesce(F("cancelled_at"), at)

    # Stock follows the category of the status entered, not its code.
    stock_from = order.stock_state
    stock_to = stock_from
    if category == StatusCategory.CANCELLED and stock_from == StockState.RESERVED:
        stock_to = StockState.RELEASED
    elif category in GOODS_GONE and stock_from in (StockState.RESERVED, StockState.RELEASED):
        stock_to = StockState.CONSUMED
    elif category in HOLDS_STOCK and stock_from == StockState.RELEASED:
        stock_to = StockState.RESERVED  # a cancelled order reopened takes its stock again
    updates["stock_state"] = stock_to

    # Compare-and-set, not SELECT FOR UPDATE: same on SQLite and PostgreSQL,
    # and a concurrent change shows as 0 rows.
    changed = Order.objects.filter(
        pk=order.pk, status__code=from_status, stock_state=stock_from
    ).update(**updates)
    if changed != 1:
        raise Conflict(field="status", message=_("The order changed meanwhile; reload it."))

    if stock_to != stock_from:
        stock = _stock_lines(order.pk)
        stock_note = LaterText(gettext_noop("Order %(n)s"), {"n": order.number})
        if stock_from == StockState.RELEASED:
            catalog_services.stock_reserve(
                lines=stock, order_id=order.pk, actor=actor, note=stock_note
            )
        if stock_to == StockState.RELEASED:
            catalog_services.stock_release(
                lines=stock, order_id=order.pk, actor=actor, note=stock_note
            )
        elif stock_to == StockState.CONSUMED:
            catalog_services.stock_consume(
                lines=stock, order_id=order.pk, actor=actor, note=stock_note
            )

    payload: dict[str, Any] = {"from": from_status, "to": target.code}
    # A note the system wrote ("Carrier: Delivered") keeps its original and parameters, so the
    # timeline reads it in each reader's language (procedo/core/texts.py).
    written, stored = text_for_storing(note)
    if written:
        payload["note"] = written
    if stored:
        payload["note_text"] = stored
    _order_event(
        order,
        event_type="order.status_changed",
        actor=actor,
        payload=payload,
        idempotency_key=idempotency_key,
        occurred_at=changed_at,
    )
    if {StatusCategory.CANCELLED, StatusCategory.RETURNED} & {category, from_category}:
        customer_stats_refresh(customer_ids=[order.customer_id])
    order.refresh_from_db()
    order.status = target
    return order


@idempotent(
    "order.change_status", replay=lambda pk: Order.objects.select_related("status").get(pk=pk)
)
@transaction.atomic
def order_change_status(
    *,
    order_id: int,
    to_status: str,
    actor: Actor,
    idempotency_key: str | None,
    changed_at: datetime | None = None,
    note: str | LaterText = "",
) -> Order:
    """Move an order along the pipeline, if the pipeline allows the move; else 409 on `status`.

    Cancelling releases the reserved stock; entering a shipped, delivered or
    returned status takes it off the shelf; the first confirm, ship, delivery
    and cancel set their timestamps.
    """
    order = _order_get(order_id)
    target = _transition_target(order, to_status)
    return _status_move(
        order,
        target,
        actor=actor,
        idempotency_key=idempotency_key,
        changed_at=changed_at,
        note=note.strip() if isinstance(note, str) else note,
    )


# The pipeline a new installation starts with (migration 0002 writes the same).
DEFAULT_STATUSES = [
    # code, label, position, category, final, editable
    ("new", gettext_noop("New"), 10, StatusCategory.NEW, False, True),
    ("confirmed", gettext_noop("Confirmed"), 20, StatusCategory.CONFIRMED, False, True),
    ("packed", gettext_noop("Packed"), 30, StatusCategory.PROCESSING, False, False),
    ("shipped", gettext_noop("Shipped"), 40, StatusCategory.SHIPPED, False, False),
    ("delivered", gettext_noop("Delivered"), 50, StatusCategory.DELIVERED, True, False),
    ("cancelled", gettext_noop("Cancelled"), 60, StatusCategory.CANCELLED, True, False),
    ("returned", gettext_noop("Returned"), 70, StatusCategory.RETURNED, True, False),
]
DEFAULT_TRANSITIONS = [
    ("new", "confirmed"),
    ("confirmed", "packed"),
    ("packed", "shipped"),
    ("shipped", "delivered"),
    ("new", "cancelled"),
    ("confirmed", "cancelled"),
    ("packed", "cancelled"),
    ("shipped", "returned"),
    ("delivered", "returned"),
]


@transaction.atomic
def order_pipeline_defaults_install() -> None:
    """Add the default statuses and moves that are missing; changes nothing that exists."""
    OrderStatus.objects.bulk_create(
        [
            OrderStatus(
                code=code,
                label=label,
                position=position,
                category=category,
                is_final=final,
                editable=editable,
            )
            for code, label, position, category, final, editable in DEFAULT_STATUSES
        ],
        ignore_conflicts=True,
    )
    OrderTransition.objects.bulk_create(
        [OrderTransition(from_status_id=a, to_status_id=b) for a, b in DEFAULT_TRANSITIONS],
        ignore_conflicts=True,
    )
    OrderCounter.objects.bulk_create(
        [OrderCounter(name=ORDER_COUNTER, value=FIRST_ORDER_NUMBER)], ignore_conflicts=True
    )


def _code_clean(code: str) -> str:
    code = (code or "").strip().lower()
    allowed = all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in code)
    if not code or len(code) > 40 or not allowed:
        raise DomainError(
            field="code", message=_("A code is up to 40 latin letters, digits, - and _.")
        )
    return code


@transaction.atomic
def order_status_create(
    *,
    code: str,
    label: str,
    category: str,
    actor: Actor,
    position: int | None = None,
    is_final: bool = False,
    editable: bool = False,
) -> OrderStatus:
    code = _code_clean(code)
    label = (label or "").strip()
    if not label:
        raise DomainError(field="label", message=_("A status needs a label."))
    if category not in StatusCategory.values:
        raise DomainError(field="category", message=_("Unknown category %(c)s.") % {"c": category})
    if OrderStatus.objects.filter(code=code).exists():
        raise Conflict(field="code", message=_("The status %(code)s exists.") % {"code": code})
    if position is None:
        last = OrderStatus.objects.order_by("-position").values_list("position", flat=True).first()
        position = (last or 0) + 10
    with _unique_guard(field="code", message=_("The status %(code)s exists.") % {"code": code}):
        status = OrderStatus.objects.create(
            code=code,
            label=label[:80],
            category=category,
            position=position,
            is_final=is_final,
            editable=editable,
        )
    event_record(
        event_type="order_status.created",
        subject=status,
        actor=actor,
        payload={"code": code, "label": status.label, "category": category},
    )
    return status


@transaction.atomic
def order_status_update(
    *,
    code: str,
    actor: Actor,
    label: str | None = None,
    position: int | None = None,
    is_final: bool | None = None,
    editable: bool | None = None,
) -> OrderStatus:
    """Rename, reorder, (un)mark final or editable; a status's code and category never change."""
    status = OrderStatus.objects.filter(code=code).first()
    if status is None:
        raise NotFound(field="status", message=_("No status %(code)s.") % {"code": code})
    changes: dict[str, Any] = {}
    if label is not None:
        if not label.strip():
            raise DomainError(field="label", message=_("A status needs a label."))
        if label.strip() != status.label:
            changes["label"] = label.strip()[:80]
    if position is not None and position != status.position:
        changes["position"] = position
    if is_final is not None and is_final != status.is_final:
        changes["is_final"] = is_final
    if editable is not None and editable != status.editable:
        changes["editable"] = editable
    if changes:
        OrderStatus.objects.filter(pk=status.pk).update(**changes)
        for field, value in changes.items():
            setattr(status, field, value)
        event_record(
            event_type="order_status.updated", subject=status, actor=actor, payload=changes
        )
    return status


@transaction.atomic
def order_status_delete(*, code: str, actor: Actor) -> None:
    """Remove a status and its transitions; refused while any order is in it."""
    status = OrderStatus.objects.filter(code=code).first()
    if status is None:
        raise NotFound(field="status", message=_("No status %(code)s.") % {"code": code})
    if Order.objects.filter(status__code=code).exists():
        raise Conflict(
            field="status",
            message=_("Orders are in %(label)s; move them before removing it.")
            % {"label": status.label},
        )
    other_new = OrderStatus.objects.filter(category=StatusCategory.NEW).exclude(pk=status.pk)
    if status.category == StatusCategory.NEW and not other_new.exists():
        raise Conflict(field="status", message=_("New orders need a status; this is the last one."))
    subject = status.pk
    status.delete()  # transitions go with it (CASCADE); orders are PROTECTed
    event_record(
        event_type="order_status.deleted",
        subject_type="orderstatus",
        subject_id=subject,
        actor=actor,
        payload={"code": code},
    )


@transaction.atomic
def order_transition_add(*, from_status: str, to_status: str, actor: Actor) -> OrderTransition:
    codes = set(
        OrderStatus.objects.filter(code__in=[from_status, to_status]).values_list("code", flat=True)
    )
    for field, code in (("from_status", from_status), ("to_status", to_status)):
        if code not in codes:
            raise DomainError(field=field, message=_("No status %(code)s.") % {"code": code})
    if from_status == to_status:
        raise DomainError(field="to_status", message=_("A status cannot lead to itself."))
    transition, created = OrderTransition.objects.get_or_create(
        from_status_id=from_status, to_status_id=to_status
    )
    if created:
        event_record(
            event_type="order_transition.added",
            subject=transition,
            actor=actor,
            payload={"from": from_status, "to": to_status},
        )
    return transition


@transaction.atomic
def order_transition_remove(*, from_status: str, to_status: str, actor: Actor) -> None:
    transition = OrderTransition.objects.filter(
        from_status__code=from_status, to_status__code=to_status
    ).first()
    if transition is None:
        return
    subject = transition.pk
    transition.delete()
    event_record(
        event_type="order_transition.removed",
        subject_type="ordertransition",
        subject_id=subject,
        actor=actor,
        payload={"from": from_status, "to": to_status},
    )


# --- payments and refunds ---------------------------------------------------------------------

# Where a payment may go next. A provider's stale webhook (authorized after
# paid) is refused rather than moving money backwards.
PAYMENT_MOVES: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({"authorized", "paid", "failed"}),
    PaymentStatus.AUTHORIZED: frozenset({"paid", "failed"}),
    PaymentStatus.FAILED: frozenset({"pending", "authorized", "paid"}),
    PaymentStatus.PAID: frozenset({"refunded"}),
    PaymentStatus.REFUNDED: frozenset(),
}


def _money_received(order_id: int) -> tuple[Decimal, Decimal]:
    """(received, refunded) of an order, in two aggregate queries."""
    received = Payment.objects.filter(order_id=order_id, status__in=PAYMENT_RECEIVED).aggregate(
        s=Sum("amount", default=ZERO)
    )["s"]
    refunded = Refund.objects.filter(order_id=order_id).aggregate(s=Sum("amount", default=ZERO))[
        "s"
    ]
    return received, refunded


def _paid_check(order: Order, *, actor: Actor, when: datetime) -> None:
    """The first time what was received covers the total, the order is paid."""
    if order.paid_at is not None:
        return
    received, _refunded = _money_received(order.pk)
    if received < order.total:
        return
    if Order.objects.filter(pk=order.pk, paid_at__isnull=True).update(paid_at=when):
        order.paid_at = when
        _order_event(
            order,
            event_type="order.paid",
            actor=actor,
            payload={"total": order.total, "received": received, "currency": order.currency},
            idempotency_key=None,
        )


@idempotent("payment.record", replay=lambda pk: Payment.objects.get(pk=pk))
@transaction.atomic
def payment_record(
    *,
    order_id: int,
    amount: Decimal | str,
    method: str,
    actor: Actor,
    idempotency_key: str | None,
    status: str = PaymentStatus.PAID,
    external_id: str | None = None,
    paid_at: datetime | None = None,
) -> Payment:
    """Record a payment, or move a known one (same `external_id`) to its new status.

    The first time the money received covers the total, the order gets paid_at.
    """
    if method not in PaymentMethod.values:
        raise DomainError(
            field="method", message=_("Unknown payment method %(m)s.") % {"m": method}
        )
    if status not in PaymentStatus.values or status == PaymentStatus.REFUNDED:
        raise DomainError(
            field="status", message=_("Unknown payment status %(s)s.") % {"s": status}
        )
    order = _order_get(order_id, lock=True)
    amount = amount_clean(amount, order.currency, field="amount", positive=True)
    now = timezone.now()
    external_id = (external_id or "").strip() or None
    existing = Payment.objects.filter(external_id=external_id).first() if external_id else None
    if existing is not None:
        if existing.order_id != order.pk:
            raise Conflict(field="external_id", message=_("This payment belongs to another order."))
        if existing.status == status:
            return existing  # the provider told us twice
        if status not in PAYMENT_MOVES[existing.status]:
            raise Conflict(
                field="status",
                message=_("A %(from)s payment cannot become %(to)s.")
                % {"from": existing.status, "to": status},
            )
        became_paid = status == PaymentStatus.PAID
        changed = Payment.objects.filter(pk=existing.pk, status=existing.status).update(
            status=status, paid_at=(paid_at or now) if became_paid else existing.paid_at
        )
        if not changed:
            raise Conflict(field="status", message=_("The payment changed meanwhile."))
        previous = existing.status
        existing.refresh_from_db()
        _order_event(
            order,
            event_type="payment.status_changed",
            actor=actor,
            payload={
                "payment_id": existing.pk,
                "from": previous,
                "to": status,
                "amount": existing.amount,
                "currency": existing.currency,
            },
            idempotency_key=idempotency_key,
        )
        payment = existing
    else:
        received, refunded = _money_received(order.pk)
        if amount > order.total - (received - refunded):
            # More than the order can take: a typo or a payment of another order.
            raise DomainError(
                field="amount",
                message=_("At most %(n)s is still due on this order.")
                % {"n": money_format(max(order.total - received + refunded, ZERO), order.currency)},
            )
        with _unique_guard(field="external_id", message=_("This payment was recorded meanwhile.")):
            payment = Payment.objects.create(
                order=order,
                method=method,
                amount=amount,
                currency=order.currency,
                status=status,
                external_id=external_id,
                paid_at=(paid_at or now) if status == PaymentStatus.PAID else None,
                created_at=now,
            )
        _order_event(
            order,
            event_type="payment.recorded",
            actor=actor,
            payload={
                "payment_id": payment.pk,
                "amount": amount,
                "currency": order.currency,
                "method": method,
                "status": status,
            },
            idempotency_key=idempotency_key,
        )
    if payment.status == PaymentStatus.PAID:
        _paid_check(order, actor=actor, when=payment.paid_at or now)
    return payment


@idempotent("refund.record", replay=lambda pk: Refund.objects.get(pk=pk))
@transaction.atomic
def refund_record(
    *,
    order_id: int,
    amount: Decimal | str,
    actor: Actor,
    idempotency_key: str | None,
    payment_id: int | None = None,
    external_id: str | None = None,
    reason: str | LaterText = "",
) -> Refund:
    """Money given back; never more than was received (for the order, and for the payment)."""
    written, stored = text_for_storing(reason)
    external_id = (external_id or "").strip() or None
    if external_id:
        existing = Refund.objects.filter(external_id=external_id).first()
        if existing is not None:
            if existing.order_id != order_id:
                raise Conflict(
                    field="external_id", message=_("This refund belongs to another order.")
                )
            return existing
    order = _order_get(order_id, lock=True)
    amount = amount_clean(amount, order.currency, field="amount", positive=True)
    received, refunded = _money_received(order.pk)
    if amount > received - refunded:
        raise DomainError(
            field="amount",
            message=_("At most %(n)s %(c)s can be refunded.")
            % {"n": received - refunded, "c": order.currency},
        )
    payment = None
    if payment_id is not None:
        payment = Payment.objects.filter(pk=payment_id, order_id=order.pk).first()
        if payment is None or payment.status not in PAYMENT_RECEIVED:
            raise DomainError(
                field="payment_id", message=_("No received payment with this id on this order.")
            )
        paid_back = payment.refunds.aggregate(s=Sum("amount", default=ZERO))["s"]
        if amount > payment.amount - paid_back:
            raise DomainError(
                field="amount",
                message=_("At most %(n)s %(c)s of this payment can be refunded.")
                % {"n": payment.amount - paid_back, "c": order.currency},
            )
        if amount == payment.amount - paid_back:
            Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REFUNDED)
    with _unique_guard(field="external_id", message=_("This refund was recorded meanwhile.")):
        refund = Refund.objects.create(
            order=order,
            payment=payment,
            amount=amount,
            currency=order.currency,
            reason=written.strip()[:300],
            reason_text=stored,
            external_id=external_id,
            actor_id=actor_id_of(actor),
        )
    _order_event(
        order,
        event_type="refund.recorded",
        actor=actor,
        payload={
            "refund_id": refund.pk,
            "amount": amount,
            "currency": order.currency,
            "payment_id": payment_id,
            "reason": refund.reason,
        },
        idempotency_key=idempotency_key,
    )
    return refund


# --- shipments --------------------------------------------------------------------------------

# A carrier's scan may move the order along, where the pipeline allows it.
SHIPMENT_MOVES_ORDER = {
    ShipmentStatus.IN_TRANSIT: StatusCategory.SHIPPED,
    ShipmentStatus.OUT_FOR_DELIVERY: StatusCategory.SHIPPED,
    ShipmentStatus.DELIVERED: StatusCategory.DELIVERED,
}
SHIPMENT_FINAL = {
    ShipmentStatus.DELIVERED: frozenset({ShipmentStatus.RETURNED}),
    ShipmentStatus.RETURNED: frozenset(),
}


@idempotent("shipment.create", replay=lambda pk: Shipment.objects.get(pk=pk))
@transaction.atomic
def shipment_create(
    *,
    order_id: int,
    carrier: str,
    actor: Actor,
    idempotency_key: str | None,
    tracking_number: str = "",
) -> Shipment:
    carrier = (carrier or "").strip()
    if not carrier:
        raise DomainError(field="carrier", message=_("Name the carrier."))
    order = _order_get(order_id)
    if order.status.category == StatusCategory.CANCELLED:
        raise Conflict(field="order_id", message=_("The order is cancelled."))
    now = timezone.now()
    shipment = Shipment.objects.create(
        order=order,
        carrier=carrier[:60],
        tracking_number=tracking_number.strip()[:100],
        status=ShipmentStatus.CREATED,
        status_changed_at=now,
        created_at=now,
    )
    ShipmentStatusChange.objects.create(
        shipment=shipment,
        to_status=ShipmentStatus.CREATED,
        occurred_at=now,
        actor_id=actor_id_of(actor),
    )
    _order_event(
        order,
        event_type="shipment.created",
        actor=actor,
        payload={
            "shipment_id": shipment.pk,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
        },
        idempotency_key=idempotency_key,
    )
    return shipment


@idempotent("shipment.update_status", replay=lambda pk: Shipment.objects.get(pk=pk))
@transaction.atomic
def shipment_update_status(
    *,
    shipment_id: int,
    status: str,
    actor: Actor,
    idempotency_key: str | None,
    occurred_at: datetime | None = None,
    note: str = "",
) -> Shipment:
    """A new shipment status, kept in its history; in transit or delivered may move the order.

    The order moves only where the pipeline allows it from where the order is;
    otherwise the shipment changes and the order stays for a person to handle.
    """
    if status not in ShipmentStatus.values:
        raise DomainError(
            field="status", message=_("Unknown shipment status %(s)s.") % {"s": status}
        )
    shipment = Shipment.objects.filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound(field="shipment_id", message=_("No such shipment."))
    previous = shipment.status
    if previous == status:
        return shipment  # the carrier said it twice
    final = SHIPMENT_FINAL.get(ShipmentStatus(previous))
    if final is not None and status not in final:
        raise Conflict(
            field="status",
            message=_("A %(from)s shipment cannot become %(to)s.")
            % {"from": previous, "to": status},
        )
    at = occurred_at or timezone.now()
    delivered_at = at if status == ShipmentStatus.DELIVERED else shipment.delivered_at
    if not Shipment.objects.filter(pk=shipment.pk, status=previous).update(
        status=status, status_changed_at=at, delivered_at=delivered_at
    ):
        raise Conflict(field="status", message=_("The shipment changed meanwhile; reload it."))
    shipment.status, shipment.status_changed_at, shipment.delivered_at = status, at, delivered_at
    ShipmentStatusChange.objects.create(
        shipment=shipment,
        from_status=previous,
        to_status=status,
        note=note.strip()[:300],
        occurred_at=at,
        actor_id=actor_id_of(actor),
    )
    order = _order_get(shipment.order_id)
    _order_event(
        order,
        event_type="shipment.status_changed",
        actor=actor,
        payload={
            "shipment_id": shipment.pk,
            "from": previous,
            "to": status,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
        },
        idempotency_key=idempotency_key,
        occurred_at=occurred_at,
    )
    category = SHIPMENT_MOVES_ORDER.get(ShipmentStatus(status))
    if category is not None and order.status.category != category:
        target = (
            OrderStatus.objects.filter(
                category=category, transitions_in__from_status__code=order.status_id
            )
            .order_by("position", "id")
            .first()
        )
        if target is not None:
            _status_move(
                order,
                target,
                actor=actor,
                idempotency_key=f"{idempotency_key}:order" if idempotency_key else None,
                changed_at=at,  # delivered when the carrier says, not when we heard
                note=LaterText(
                    gettext_noop("Carrier: %(status)s"),
                    {"status": LaterText(_original(ShipmentStatus(status).label))},
                ),
            )
    return shipment


# --- returns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLineIn:
    order_line_id: int
    quantity: int


def _restock(ret: Return, order: Order, actor: Actor) -> None:
    if not ret.restock:
        return
    stock = [
        StockLine(sku_id=sku_id, quantity=quantity)
        for sku_id, quantity in ReturnLine.objects.filter(
            return_request=ret, order_line__sku__isnull=False
        ).values_list("order_line__sku_id", "quantity")
    ]
    if stock:
        catalog_services.stock_restock(
            lines=stock,
            order_id=order.pk,
            actor=actor,
            note=LaterText(gettext_noop("Return of order %(n)s"), {"n": order.number}),
        )


@idempotent("return.create", replay=lambda pk: Return.objects.get(pk=pk))
@transaction.atomic
def return_create(
    *,
    order_id: int,
    lines: Sequence[ReturnLineIn],
    actor: Actor,
    idempotency_key: str | None,
    reason: str = "",
    received: bool = False,
    restock: bool = True,
) -> Return:
    """Goods coming back from a shipped order; never more of a line than was sold.

    `received=True` records goods already in hand: they go back to stock at
    once (unless `restock` is false: damaged goods). Otherwise return_receive does it.
    """
    if not lines:
        raise DomainError(field="lines", message=_("Say which lines come back."))
    # Locked: two returns of the same line at once must not both pass the quantity check.
    order = _order_get(order_id, lock=True)
    if order.stock_state != StockState.CONSUMED and order.status.category not in GOODS_GONE:
        raise Conflict(field="order_id", message=_("The order has not shipped; cancel it instead."))
    sold = {line.pk: line for line in OrderLine.objects.filter(order_id=order.pk)}
    already = dict(
        ReturnLine.objects.filter(order_line__order_id=order.pk)
        .exclude(return_request__status=ReturnStatus.REJECTED)
        .values("order_line_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_line_id", "n")
    )
    wanted: dict[int, int] = {}
    for i, line in enumerate(lines):
        if line.order_line_id not in sold:
            raise DomainError(
                field=f"lines.{i}.order_line_id", message=_("No such line on this order.")
            )
        if line.quantity <= 0:
            raise DomainError(
                field=f"lines.{i}.quantity", message=_("A quantity must be above zero.")
            )
        wanted[line.order_line_id] = wanted.get(line.order_line_id, 0) + line.quantity
        left = sold[line.order_line_id].quantity - already.get(line.order_line_id, 0)
        if wanted[line.order_line_id] > left:
            raise DomainError(
                field=f"lines.{i}.quantity",
                message=_("Only %(n)s of %(what)s can still come back.")
                % {"n": left, "what": sold[line.order_line_id].description},
            )
    now = timezone.now()
    ret = Return.objects.create(
        order=order,
        status=ReturnStatus.RECEIVED if received else ReturnStatus.REQUESTED,
        reason=reason.strip()[:300],
        restock=restock,
        received_at=now if received else None,
        created_at=now,
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(return_request=ret, order_line_id=line_id, quantity=quantity)
        for line_id, quantity in wanted.items()
    )
    if received:
        _restock(ret, order, actor)
    _order_event(
        order,
        event_type="return.created",
        actor=actor,
        payload={
            "return_id": ret.pk,
            "status": ret.status,
            "reason": ret.reason,
            "lines": [{"line_id": k, "quantity": v} for k, v in wanted.items()],
        },
        idempotency_key=idempotency_key,
    )
    return ret


@idempotent("return.receive", replay=lambda pk: Return.objects.get(pk=pk))
@transaction.atomic
def return_receive(*, return_id: int, actor: Actor, idempotency_key: str | None) -> Return:
    """The returned goods arrived: back to stock (if the return says so)."""
    ret = Return.objects.filter(pk=return_id).first()
    if ret is None:
        raise NotFound(field="return_id", message=_("No such return."))
    if ret.status == ReturnStatus.RECEIVED:
        return ret
    now = timezone.now()
    if not Return.objects.filter(pk=ret.pk, status=ReturnStatus.REQUESTED).update(
        status=ReturnStatus.RECEIVED, received_at=now
    ):
        raise Conflict(field="status", message=_("Only a requested return can be received."))
    ret.status, ret.received_at = ReturnStatus.RECEIVED, now
    order = _order_get(ret.order_id)
    _restock(ret, order, actor)
    _order_event(
        order,
        event_type="return.received",
        actor=actor,
        payload={"return_id": ret.pk},
        idempotency_key=idempotency_key,
    )
    return ret
