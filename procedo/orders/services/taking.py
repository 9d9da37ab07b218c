"""Creating an order: its customer, lines, delivery and the stock it holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.accounts.models import User
from procedo.business.selectors import business_get
from procedo.catalog import services as catalog_services
from procedo.catalog.services import OutOfStock, StockLine
from procedo.core.bounds import MAX_ITEMS, moment_check
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean, currency_clean
from procedo.core.texts import LaterText
from procedo.customers.models import Customer
from procedo.customers.services.customers import customer_find_or_create
from procedo.orders.models import Order, OrderCounter, OrderStatus, StatusCategory, StockState
from procedo.orders.permissions import MANAGER_PERMISSION, manager_roles
from procedo.orders.registry import order_placed_hooks
from procedo.orders.services._common import (
    HOLDS_STOCK,
    ZERO,
    _order_event,
    _order_with_status,
    _unique_guard,
)
from procedo.orders.services.customer_figures import customer_stats_refresh
from procedo.orders.services.lines import (
    DeliveryIn,
    OrderLineIn,
    _delivery_clean,
    _lines_resolve,
    _lines_write,
    _payment_method_clean,
    _stock_refusal,
)
from procedo.orders.totals import PricedLine, order_totals

ORDER_COUNTER = "order"


FIRST_ORDER_NUMBER = 1000


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


@dataclass(frozen=True)
class CustomerIn:
    """Who orders, when the caller has no customer id: found by phone (written any way) or
    email, else made from these."""

    phone: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""


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
        match = customer_find_or_create(
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
