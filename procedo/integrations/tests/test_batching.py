"""A rush of new shop orders processed as a batch ends exactly as one at a time would.

The same deliveries (real payloads, varied: paid and authorised, with and without a
buyer, a parcel, a cancelled order, a repeat, an update, a known buyer, the last unit
of a SKU wanted twice) go through two connections: one processed as each arrives (the
one-at-a-time path), the other all at once (the batch, then the rest one by one). Every
row and every event each order leaves is compared.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection as database
from django.test import Client

from procedo.catalog.models import Sku, StockMovement
from procedo.catalog.services import SkuSeen, skus_ensure
from procedo.customers.models import Customer
from procedo.customers.services.customers import customer_create
from procedo.events.models import Event
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import batching
from procedo.integrations.services import processing as processing_services
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, raw, resource
from procedo.orders.models import Order
from procedo.testing import side_connection

pytestmark = pytest.mark.django_db

IDS = ("payment_id", "shipment_id", "order_id", "number")


def _shopify(run: str, n: int, **changes: Any) -> dict[str, Any]:
    order = resource("shopify/order.json", "order")
    email = f"buyer{n}-{run}@example.com"
    return {
        **order,
        "id": 1000 + n,
        "name": f"#{1000 + n}",
        "email": email,
        "customer": {**order["customer"], "id": 500 + n, "email": email},
        "line_items": [{**item, "sku": f"{run}-{item['sku']}"} for item in order["line_items"]],
        "fulfillments": [
            {**f, "id": 2000 + n, "order_id": 1000 + n} for f in order["fulfillments"]
        ],
        **changes,
    }


def _woocommerce(run: str, n: int, **changes: Any) -> dict[str, Any]:
    order = json.loads(raw("woocommerce/order.created.json"))
    return {
        **order,
        "id": 800 + n,
        "number": str(800 + n),
        "billing": {**order["billing"], "email": f"woo{n}-{run}@example.com"},
        "line_items": [
            {**item, "sku": f"{run}-{item['sku']}" if item["sku"] else ""}
            for item in order["line_items"]
        ],
        **changes,
    }


def _stream(run: str) -> list[tuple[str, str, bytes, str]]:
    """(platform, topic, body, event id), in the order they arrive."""
    limited = {"sku": f"{run}-LIMITED", "quantity": 1, "price": "10.00", "name": "Last one"}
    shopify = [
        _shopify(run, 0),
        _shopify(run, 1, financial_status="paid"),  # moved to confirmed, paid
        _shopify(run, 2, customer=None, email=None),  # only the billing address's name
        _shopify(run, 3, fulfillments=[]),
        _shopify(run, 4, cancelled_at="2008-01-10T12:00:00-05:00"),  # one at a time
        _shopify(run, 5, customer=None, email=f"buyer0-{run}@example.com"),  # buyer 0 again
        _shopify(run, 6, email=f"known-{run}@example.com", customer=None),  # a known buyer
        _shopify(run, 7, line_items=[{**limited, "id": 1}], fulfillments=[]),
        _shopify(run, 8, line_items=[{**limited, "id": 2}], fulfillments=[]),  # none left
    ]
    stream = [
        ("shopify", "orders/create", body_of(order), f"s-{k}") for k, order in enumerate(shopify)
    ]
    stream.append(("shopify", "orders/create", body_of(shopify[0]), "s-0"))  # sent again
    updated = {**shopify[3], "financial_status": "paid", "updated_at": "2008-01-11T10:00:00-05:00"}
    stream.append(("shopify", "orders/updated", body_of(updated), "s-3-paid"))
    stream += [
        ("woocommerce", "order.created", body_of(_woocommerce(run, 0)), "w-0"),
        ("woocommerce", "order.created", body_of(_woocommerce(run, 1, status="pending")), "w-1"),
        ("woocommerce", "order.created", body_of(_woocommerce(run, 2)), "w-2"),
    ]
    return stream


def _post(client: Client, connections: dict[str, Connection], item: Any) -> None:
    platform, topic, body, event_id = item
    send = helpers.shopify if platform == "shopify" else helpers.woocommerce
    assert send(client, connections[platform], topic, body, event_id).status_code == 202


def _prepare(run: str) -> dict[str, Connection]:
    customer_create(first_name="Known", emails=[f"known-{run}@example.com"], actor=None)
    made = skus_ensure(
        items=[SkuSeen(f"{run}-LIMITED", "Last one", Decimal("10.00"), "USD")], source="test"
    )
    Sku.objects.filter(pk=made[f"{run}-LIMITED"]).update(on_hand=1, allow_backorder=False)
    return {p: helpers.connect(p, f"{p} shop") for p in ("shopify", "woocommerce")}


def _same(value: Any, run: str, connections: dict[str, Connection]) -> Any:
    """A value with what differs between the two runs by construction put the same way."""
    text = json.dumps(value, default=str, sort_keys=True).replace(run, "RUN")
    for platform, connection in connections.items():
        text = text.replace(f"{platform}/{connection.pk}:", f"{platform}/C:")
    return json.loads(text)


def _events(**where: Any) -> list[Any]:
    return [
        (e.event_type, {k: v for k, v in e.payload.items() if k not in IDS}, e.idempotency_key)
        for e in Event.objects.filter(**where).order_by("id")
    ]


def _state(run: str, connections: dict[str, Connection]) -> dict[str, Any]:
    orders = {}
    for order in Order.objects.filter(
        external_ref__regex=rf"^({'|'.join(f'{p}/{c.pk}:' for p, c in connections.items())})"
    ).select_related("customer"):
        customer = order.customer
        orders[order.external_ref] = {
            "order": [
                order.status_id,
                order.currency,
                order.subtotal,
                order.discount_total,
                order.shipping_total,
                order.total,
                order.paid_at,
                order.placed_at,
                order.confirmed_at is not None,
                order.stock_state,
                order.channel,
                re.sub(r"^\S+ shop ", "", order.source),
                order.note,
                order.delivery_city,
                order.delivery_address,
                order.recipient_name,
            ],
            "lines": [
                (x.sku_code, x.description, x.quantity, x.unit_price, x.line_total)
                for x in order.lines.order_by("id")
            ],
            "payments": [
                (p.status, p.amount, p.method, p.paid_at is not None, p.external_id)
                for p in order.payments.order_by("id")
            ],
            "shipments": [
                (
                    s.tracking_number,
                    s.carrier,
                    s.status,
                    list(s.history.order_by("id").values_list("from_status", "to_status")),
                )
                for s in order.shipments.order_by("id")
            ],
            "stock": [
                (code, reserved, (note or {}).get("msgid"))  # its parameter: the order's number
                for code, reserved, note in StockMovement.objects.filter(order_id=order.pk)
                .order_by("sku__code")
                .values_list("sku__code", "delta_reserved", "note_text")
            ],
            "events": _events(subject_type="order", subject_id=order.pk),
            "customer": None
            if customer is None
            else (
                customer.first_name,
                customer.last_name,
                customer.source,
                customer.external_ref,
                customer.orders_count,
                customer.lifetime_value,
                sorted(customer.identities.values_list("kind", "value")),
                _events(subject_type="customer", subject_id=customer.pk),
            ),
        }
    deliveries = [
        (d.event_id, d.state, d.duplicate_of_id is not None, d.error_field)
        for d in Delivery.objects.filter(connection__in=connections.values()).order_by("id")
    ]
    return _same({"orders": orders, "deliveries": deliveries}, run, connections)


def test_a_batch_of_new_orders_ends_as_one_at_a_time() -> None:
    client = Client()
    one = _prepare("xqone")
    for item in _stream("xqone"):
        _post(client, one, item)
        processing_services.deliveries_process_pending()  # the worker, as each one comes
    one_at_a_time = _state("xqone", one)

    many = _prepare("xqmany")
    for item in _stream("xqmany"):
        _post(client, many, item)
    received = list(
        Delivery.objects.filter(state="received").order_by("id").values_list("id", flat=True)
    )
    batched = batching.deliveries_process_batch(delivery_ids=received)
    # Shopify 0, 1, 2, 3, 7, 8 and WooCommerce 0, 1, 2: new orders of new buyers. Not 4
    # (cancelled), 5 (buyer 0 again), 6 (a known buyer), nor 0's repeat and 3's update.
    assert len(batched) == 9
    processing_services.deliveries_process_pending()  # and the rest, one at a time
    at_once = _state("xqmany", many)

    assert at_once["deliveries"] == one_at_a_time["deliveries"]
    assert sorted(at_once["orders"]) == sorted(one_at_a_time["orders"])
    for ref, state in one_at_a_time["orders"].items():
        for name, value in state.items():
            assert at_once["orders"][ref][name] == value, (ref, name)
    limited = [
        state["stock"] for ref, state in at_once["orders"].items() if "LIMITED" in str(state)
    ]
    assert sorted(map(len, limited)) == [0, 1]  # the last unit went to the first order only
    assert Customer.objects.filter(identities__value="buyer0-xqmany@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_delivery_in_another_workers_batch_is_left_to_that_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers read the same waiting deliveries; what one holds in its batch the other
    neither batches nor takes one at a time (it would apply it a second, slow way, then
    wait for the batch's lock), and it is not blocked by it either."""
    if database.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    # Committed, they would wake the worker, which runs in the test's thread: they wait.
    monkeypatch.setattr("procedo.integrations.services.waking.deliveries_wake_soon", lambda: None)
    client, shop = Client(), helpers.connect("shopify")
    for n in range(3):
        order = _shopify("xqtwo", n)
        helpers.shopify(client, shop, "orders/create", body_of(order), f"xqtwo-{n}")
    ids = list(Delivery.objects.order_by("id").values_list("id", flat=True))
    with side_connection() as other, database.cursor() as cursor:
        # The other worker's batch, in its transaction: it holds the first two.
        other.execute(
            "SELECT 1 FROM integrations_delivery WHERE id = ANY(%s) FOR UPDATE", [ids[:2]]
        )
        cursor.execute("SET lock_timeout = '5s'")  # a wait for its lock fails the test
        try:
            assert processing_services.deliveries_process_pending() == 1
        finally:
            cursor.execute("RESET lock_timeout")
        states = dict(Delivery.objects.values_list("id", "state"))
        assert [states[pk] for pk in ids] == ["received", "received", "processed"]
        other.rollback()  # that worker died: its batch is the next pass's
    assert processing_services.deliveries_process_pending() == 2
    assert Order.objects.count() == 3


def test_a_pass_takes_the_oldest_deliveries_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a stream larger than a pass, the first orders of a rush are not left for its
    end (the model's own ordering is the newest first, for the pages)."""
    monkeypatch.setattr("procedo.integrations.services.waking.deliveries_wake_soon", lambda: None)
    monkeypatch.setattr(processing_services, "PASS", 2)
    client, shop = Client(), helpers.connect("shopify")
    for n in range(3):
        order = _shopify("xqold", n)
        helpers.shopify(client, shop, "orders/create", body_of(order), f"xqold-{n}")
    assert processing_services.deliveries_process_pending() == 2
    states = list(Delivery.objects.order_by("id").values_list("state", flat=True))
    assert states == ["processed", "processed", "received"]


def _plan(queryset: Any) -> str:
    sql, params = queryset.query.sql_with_params()
    with database.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " | ".join(str(row[-1]) for row in cursor.fetchall())


def test_the_worker_finds_what_waits_by_its_indexes_never_by_reading_every_delivery() -> None:
    shop = helpers.connect("shopify")
    for n, (state, retry) in enumerate(
        [("received", None), ("failed", "2026-01-01T00:00Z"), ("processed", None)] * 2
    ):
        Delivery.objects.create(
            connection=shop, event_id=f"e{n}", body=b"{}", state=state, next_attempt_at=retry
        )
    waiting = Delivery.objects.due("received").order_by("id").values_list("event_id", flat=True)
    assert list(waiting) == ["e0", "e3"]
    assert set(Delivery.objects.due("failed").values_list("event_id", flat=True)) == {"e1", "e4"}
    with pytest.raises(ValueError):
        Delivery.objects.due("processed")
    if database.vendor == "sqlite":
        # Its partial index only when the condition is written out (a parameter will not do):
        # otherwise a scan of every delivery, read past each body to its state.
        assert "INDEX delivery_due" in _plan(waiting.all()[:500])
        assert "SCAN" not in _plan(
            Delivery.objects.due("failed").filter(next_attempt_at__lte="2026-02-01T00:00Z")
        )
        twins = (
            Delivery.objects.filter(connection_id__in={shop.pk}, event_id__in=["e0", "e1"])
            .exclude(pk__in=[1])
            .order_by()
            .values_list("pk", flat=True)
        )
        assert "INDEX delivery_event" in _plan(twins)
