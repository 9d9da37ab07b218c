"""Deliveries arrive in any order and some twice: the end state is the in-order one."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from django.db import connection as database
from django.test import Client

from procedo.events.models import Event
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import processing as processing_services
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, raw, resource
from procedo.orders.models import Order

pytestmark = pytest.mark.django_db


def _stream() -> list[tuple[str, str, bytes]]:
    """(platform, topic, body): one Shopify order's life and one WooCommerce order's."""
    order = resource("shopify/order.json", "order")
    return [
        ("shopify", "customers/create", body_of(resource("shopify/customer.json", "customer"))),
        ("shopify", "orders/create", body_of(order)),
        (
            "shopify",
            "order_transactions/create",
            body_of(resource("shopify/transaction.json", "transaction")),
        ),
        ("shopify", "orders/paid", body_of({**order, "financial_status": "paid"})),  # in memory
        ("shopify", "refunds/create", body_of(resource("shopify/refund.json", "refund"))),
        (
            "shopify",
            "fulfillments/create",
            body_of(resource("shopify/fulfillment.json", "fulfillment")),
        ),
        (
            "shopify",
            "checkouts/create",
            body_of(resource("shopify/checkouts.json", "checkouts")[0]),
        ),
        ("woocommerce", "order.created", raw("woocommerce/order.created.json")),
        ("woocommerce", "order.updated", raw("woocommerce/order.updated.json")),
        ("woocommerce", "customer.created", raw("woocommerce/customer.created.json")),
    ]


def _run(stream: list[tuple[int, str, str, bytes]], run: str) -> dict[str, Any]:
    client = Client()
    connections = {p: helpers.connect(p, f"{p} {run}") for p in ("shopify", "woocommerce")}
    for n, platform, topic, body in stream:
        send = helpers.shopify if platform == "shopify" else helpers.woocommerce
        assert send(client, connections[platform], topic, body, f"{run}-{n}").status_code == 202
        processing_services.deliveries_process_pending()  # the worker, as each one comes
    return {platform: _state(connection) for platform, connection in connections.items()}


def _state(connection: Connection) -> dict[str, Any]:
    order = Order.objects.select_related("status", "customer").get(
        external_ref__startswith=f"{connection.platform}/{connection.pk}:"
    )
    customer = order.customer
    assert customer is not None
    return {
        "order": (
            order.status_id,
            order.currency,
            order.subtotal,
            order.discount_total,
            order.shipping_total,
            order.total,
            order.paid_at,
            order.placed_at,
        ),
        "customer": (customer.first_name, customer.last_name, customer.external_ref is not None),
        "lines": [(x.sku_code, x.description, x.quantity, x.unit_price) for x in order.lines.all()],
        "payments": [(p.status, p.amount, p.method, p.paid_at) for p in order.payments.all()],
        "refunds": [(r.amount, r.reason) for r in order.refunds.all()],
        "shipments": [
            (s.tracking_number, s.carrier, s.status, s.delivered_at) for s in order.shipments.all()
        ],
        "abandoned": Event.objects.filter(
            event_type="checkout.abandoned",
            subject_id=order.customer_id,
            idempotency_key__startswith=f"{connection.platform}/{connection.pk}:",
        ).count(),
        "deliveries": sorted(
            {
                d.state: d.error
                for d in Delivery.objects.filter(connection=connection, state="failed")
            }.items()
        ),
    }


def test_a_shuffled_stream_with_repeats_ends_as_the_in_order_one() -> None:
    stream = [(n, *item) for n, item in enumerate(_stream())]
    in_order = _run(stream, "in-order")
    assert in_order["shopify"]["payments"][0][0] == "paid" and in_order["shopify"]["refunds"]
    assert in_order["woocommerce"]["order"][0] == "shipped"
    for seed in (1, 2, 3):
        shuffled = list(stream)
        random.Random(seed).shuffle(shuffled)
        shuffled += random.Random(seed).sample(stream, 2)  # two sent again, same event id
        got = _run(shuffled, f"shuffle-{seed}")
        for platform, state in in_order.items():
            for name, value in state.items():
                assert got[platform][name] == value, (seed, platform, name)
    assert Delivery.objects.exclude(duplicate_of=None).count() == 6


def test_a_refund_waiting_for_its_order_keeps_its_backoff_while_others_go_in() -> None:
    """Each delivery of its connection that goes in takes the waiting refund up again at
    once; those early tries cost it none of its attempts, so a rush of other deliveries
    does not use up its retries before its order comes."""
    client = Client()
    shop = helpers.connect("shopify", "busy shop")
    refund = body_of(resource("shopify/refund.json", "refund"))
    assert helpers.shopify(client, shop, "refunds/create", refund, "refund").status_code == 202
    processing_services.deliveries_process_pending()
    waiting = Delivery.objects.get(event_id="refund")
    assert (waiting.state, waiting.attempts) == ("failed", 1)
    customer = resource("shopify/customer.json", "customer")
    for n in range(15):  # more than MAX_ATTEMPTS
        body = body_of({**customer, "id": 100 + n, "email": f"c{n}@example.com", "phone": None})
        assert helpers.shopify(client, shop, "customers/create", body, f"c-{n}").status_code == 202
        processing_services.deliveries_process_pending()
    waiting.refresh_from_db()
    assert (waiting.state, waiting.attempts) == ("failed", 1)
    assert waiting.next_attempt_at is not None
    order = body_of({**resource("shopify/order.json", "order"), "financial_status": "paid"})
    assert helpers.shopify(client, shop, "orders/create", order, "order").status_code == 202
    processing_services.deliveries_process_pending()
    waiting.refresh_from_db()
    assert waiting.state == "processed", waiting.error


@pytest.mark.django_db(transaction=True)
def test_a_failure_never_overwrites_what_another_worker_processed_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A tries a payment before its order is in and fails; before A writes that
    down, worker B applies the order and then the payment. A's failure is out of date: the
    payment stays processed (written over, it was failed for good: R6 at bench size)."""
    monkeypatch.setattr("procedo.integrations.services.waking.deliveries_wake_soon", lambda: None)
    client, shop = Client(), helpers.connect("shopify")
    stream = _stream()
    for n in (1, 2):  # the order, its payment
        _platform, topic, body = stream[n]
        assert helpers.shopify(client, shop, topic, body, f"race-{n}").status_code == 202
    order_delivery, payment_delivery = Delivery.objects.order_by("id")
    a_failed, b_done = threading.Event(), threading.Event()
    retry_at = processing_services._retry_at

    def a_writes_its_failure_late(attempts: int, now: Any) -> Any:
        if threading.current_thread().name == "worker A":
            a_failed.set()
            assert b_done.wait(30)
        return retry_at(attempts, now)

    monkeypatch.setattr(processing_services, "_retry_at", a_writes_its_failure_late)

    def worker_a() -> None:
        try:
            processing_services.delivery_process(delivery_id=payment_delivery.pk)
        finally:
            database.close()

    a = threading.Thread(target=worker_a, name="worker A")
    a.start()
    assert a_failed.wait(30)  # A found no order, and rolled back
    processing_services.delivery_process(delivery_id=order_delivery.pk)
    processed = processing_services.delivery_process(delivery_id=payment_delivery.pk)
    assert processed.state == "processed"
    b_done.set()
    a.join(30)
    payment_delivery.refresh_from_db()
    assert payment_delivery.state == "processed"
    assert "has not arrived" not in payment_delivery.error
    assert Order.objects.get().payments.count() == 1
