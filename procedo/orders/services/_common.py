"""What several order services share: the order's event, fetching it, its stock, its money."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.catalog.services import StockLine
from procedo.core.errors import Conflict, NotFound
from procedo.events.services.recording import event_record
from procedo.orders.models import (
    PAYMENT_RECEIVED,
    Order,
    OrderLine,
    Payment,
    Refund,
    StatusCategory,
)

ZERO = Decimal("0")


# Stock is held for an order while it is in one of these.
HOLDS_STOCK = frozenset({StatusCategory.NEW, StatusCategory.CONFIRMED, StatusCategory.PROCESSING})


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
