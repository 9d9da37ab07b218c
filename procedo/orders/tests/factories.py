"""Order test data, made by the services themselves."""

from __future__ import annotations

from decimal import Decimal
from itertools import count
from typing import Any

from procedo.catalog.models import Sku
from procedo.catalog.tests.factories import sku_create
from procedo.customers.models import Customer
from procedo.orders.models import Order
from procedo.orders.services import payments as payment_services
from procedo.orders.services import statuses as status_services
from procedo.orders.services import taking as taking_services
from procedo.orders.services.lines import OrderLineIn

_keys = count(1)


def key() -> str:
    return f"test:{next(_keys)}"


def customer_create(first_name: str = "Марія", **extra: Any) -> Customer:
    return Customer.objects.create(first_name=first_name, **extra)


def order_create(
    *lines: tuple[Sku, int],
    customer: Customer | None = None,
    actor: Any = None,
    **extra: Any,
) -> Order:
    if not lines:
        lines = ((sku_create(on_hand=100), 1),)
    return taking_services.order_create(
        lines=[OrderLineIn(sku_id=sku.pk, quantity=quantity) for sku, quantity in lines],
        customer_id=customer.pk if customer else None,
        actor=actor,
        idempotency_key=None,
        **extra,
    )


def stock_of(sku: Sku) -> tuple[int, int]:
    """(on hand, reserved) of `sku` as the database has it now."""
    fresh = Sku.objects.get(pk=sku.pk)
    return fresh.on_hand, fresh.reserved


def move(order: Order, *statuses: str, actor: Any = None) -> Order:
    for status in statuses:
        order = status_services.order_change_status(
            order_id=order.pk, to_status=status, actor=actor, idempotency_key=key()
        )
    return order


def paid(order: Order, amount: Decimal | None = None) -> None:
    payment_services.payment_record(
        order_id=order.pk,
        amount=amount if amount is not None else order.total,
        method="card",
        actor=None,
        idempotency_key=key(),
    )
