from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import Conflict, DomainError
from procedo.events.models import Event
from procedo.orders.models import Order, Payment, Refund, Return, ShipmentStatusChange
from procedo.orders.services.payments import payment_record, refund_record
from procedo.orders.services.returns import ReturnLineIn, return_create, return_receive
from procedo.orders.services.shipments import shipment_create, shipment_update_status
from procedo.orders.tests.factories import key, move, order_create, stock_of

pytestmark = pytest.mark.django_db
D = Decimal


def _pay(order: Order, amount: str, *, idempotency_key: str | None = None, **extra: Any) -> Payment:
    return payment_record(
        order_id=order.pk,
        amount=amount,
        method="card",
        actor=None,
        idempotency_key=idempotency_key or key(),
        **extra,
    )


def test_an_order_is_paid_when_payments_cover_the_total() -> None:
    order = order_create((sku_create(price="300.00"), 1))
    _pay(order, "100.00")
    order.refresh_from_db()
    assert order.paid_at is None
    second = _pay(order, "200.00")
    order.refresh_from_db()
    assert order.paid_at == second.paid_at is not None
    types = list(
        Event.objects.filter(subject_id=order.pk, subject_type="order")
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert types == ["order.created", "payment.recorded", "payment.recorded", "order.paid"]


def test_a_provider_payment_moves_by_its_external_id_and_never_backwards() -> None:
    order = order_create((sku_create(price="100.00"), 1))
    pending = _pay(order, "100.00", status="pending", external_id="liqpay:77")
    again = _pay(order, "100.00", status="pending", external_id="liqpay:77")
    assert again.pk == pending.pk and Payment.objects.count() == 1
    paid = _pay(order, "100.00", status="paid", external_id="liqpay:77")
    order.refresh_from_db()
    assert paid.status == "paid" and order.paid_at is not None
    with pytest.raises(Conflict) as caught:
        _pay(order, "100.00", status="authorized", external_id="liqpay:77")
    assert caught.value.field == "status"
    assert Payment.objects.get().status == "paid"
    other = order_create()
    with pytest.raises(Conflict) as stolen:
        _pay(other, "1.00", external_id="liqpay:77")
    assert stolen.value.field == "external_id"


def test_payment_input_is_checked() -> None:
    order = order_create((sku_create(price="100.00"), 1))
    for kwargs, field in [
        ({"amount": "0"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "10", "method": "barter"}, "method"),
        ({"amount": "10", "status": "refunded"}, "status"),
    ]:
        with pytest.raises(DomainError) as caught:
            payment_record(
                order_id=order.pk,
                actor=None,
                idempotency_key=None,
                **{"method": "card", **kwargs},  # type: ignore[arg-type]
            )
        assert caught.value.field == field
    assert not Payment.objects.exists()


def test_refunds_never_exceed_what_was_received() -> None:
    order = order_create((sku_create(price="100.00"), 2))
    payment = _pay(order, "200.00")
    with pytest.raises(DomainError) as too_much:
        refund_record(order_id=order.pk, amount="250", actor=None, idempotency_key=None)
    assert too_much.value.field == "amount"
    refund_record(
        order_id=order.pk,
        amount="50",
        payment_id=payment.pk,
        actor=None,
        idempotency_key=None,
        external_id="rf-1",
    )
    again = refund_record(
        order_id=order.pk, amount="50", actor=None, idempotency_key=None, external_id="rf-1"
    )
    assert Refund.objects.count() == 1 and again.amount == D("50.00")
    assert Payment.objects.get().status == "paid"
    refund_record(
        order_id=order.pk, amount="150", payment_id=payment.pk, actor=None, idempotency_key=None
    )
    assert Payment.objects.get().status == "refunded"
    with pytest.raises(DomainError):
        refund_record(order_id=order.pk, amount="0.01", actor=None, idempotency_key=None)


def test_carrier_scans_move_the_order_where_the_pipeline_allows() -> None:
    sku = sku_create(on_hand=5)
    order = move(order_create((sku, 2)), "confirmed", "packed")
    shipment = shipment_create(
        order_id=order.pk,
        carrier="Нова пошта",
        tracking_number="20450000000000",
        actor=None,
        idempotency_key=key(),
    )
    shipment_update_status(
        shipment_id=shipment.pk, status="in_transit", actor=None, idempotency_key="np:1"
    )
    order.refresh_from_db()
    assert order.status_id == "shipped" and stock_of(sku) == (3, 0)

    for _ in range(2):  # the carrier's webhook, delivered twice
        shipment_update_status(
            shipment_id=shipment.pk, status="delivered", actor=None, idempotency_key="np:2"
        )
    order.refresh_from_db()
    shipment.refresh_from_db()
    assert order.status_id == "delivered" and order.delivered_at == shipment.delivered_at
    history = list(
        ShipmentStatusChange.objects.filter(shipment=shipment)
        .order_by("id")
        .values_list("from_status", "to_status")
    )
    assert history == [("", "created"), ("created", "in_transit"), ("in_transit", "delivered")]
    moves = Event.objects.filter(event_type="order.status_changed", subject_id=order.pk)
    assert [m.payload["to"] for m in moves.order_by("id")] == [
        "confirmed",
        "packed",
        "shipped",
        "delivered",
    ]
    with pytest.raises(Conflict):
        shipment_update_status(
            shipment_id=shipment.pk, status="in_transit", actor=None, idempotency_key=None
        )


def test_a_delivery_the_pipeline_does_not_allow_leaves_the_order_for_a_person() -> None:
    sku = sku_create(on_hand=5)
    order = order_create((sku, 1))
    shipment = shipment_create(
        order_id=order.pk, carrier="Укрпошта", actor=None, idempotency_key=None
    )
    shipment_update_status(
        shipment_id=shipment.pk, status="delivered", actor=None, idempotency_key=None
    )
    order.refresh_from_db()
    shipment.refresh_from_db()
    assert shipment.status == "delivered" and order.status_id == "new"
    assert stock_of(sku) == (5, 1)
    cancelled = move(order_create(), "cancelled")
    with pytest.raises(Conflict):
        shipment_create(order_id=cancelled.pk, carrier="x", actor=None, idempotency_key=None)


def test_returns_restock_and_never_exceed_what_was_sold() -> None:
    sku = sku_create(on_hand=10)
    order = move(order_create((sku, 3)), "confirmed", "packed", "shipped", "delivered")
    line = order.lines.get()
    assert stock_of(sku) == (7, 0)

    requested = return_create(
        order_id=order.pk,
        lines=[ReturnLineIn(line.pk, 2)],
        reason="Не підійшов розмір",
        actor=None,
        idempotency_key="rma:1",
    )
    assert requested.status == "requested" and stock_of(sku) == (7, 0)
    with pytest.raises(DomainError) as too_many:
        return_create(
            order_id=order.pk, lines=[ReturnLineIn(line.pk, 2)], actor=None, idempotency_key=None
        )
    assert too_many.value.field == "lines.0.quantity"

    for _ in range(2):
        return_receive(return_id=requested.pk, actor=None, idempotency_key="rma:1:in")
    assert stock_of(sku) == (9, 0)
    damaged = return_create(
        order_id=order.pk,
        lines=[ReturnLineIn(line.pk, 1)],
        received=True,
        restock=False,
        actor=None,
        idempotency_key=None,
    )
    assert damaged.status == "received" and stock_of(sku) == (9, 0)
    assert Return.objects.count() == 2
    assert Event.objects.filter(event_type="stock.returned").count() == 1


def test_an_unshipped_order_cannot_be_returned() -> None:
    order = order_create()
    with pytest.raises(Conflict) as caught:
        return_create(
            order_id=order.pk,
            lines=[ReturnLineIn(order.lines.get().pk, 1)],
            actor=None,
            idempotency_key=None,
        )
    assert caught.value.field == "order_id" and not Return.objects.exists()
