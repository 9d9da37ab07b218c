"""Editing an order while the pipeline allows it: its lines, delivery and discount."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.catalog import services as catalog_services
from procedo.catalog.services import OutOfStock, StockLine
from procedo.core.bounds import MAX_ITEMS
from procedo.core.errors import Conflict, DomainError
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean, money_format
from procedo.core.texts import LaterText
from procedo.orders.models import Order, OrderLine, StockState
from procedo.orders.services._common import (
    HOLDS_STOCK,
    ZERO,
    _money_received,
    _order_event,
    _order_get,
    _order_with_status,
    _paid_check,
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
from procedo.orders.totals import OrderTotals, PricedLine, order_totals


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
