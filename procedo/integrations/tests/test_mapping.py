"""Every mapped field, from the platforms' own payload files posted over HTTP, through the
worker's step, into Procedo's orders, customers, catalog, payments and shipments."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from procedo.catalog.models import Sku
from procedo.customers.models import Customer, Identity
from procedo.events.models import Event
from procedo.integrations.models import Delivery, SkuReview
from procedo.integrations.services import processing as processing_services
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, raw, resource
from procedo.orders.models import Order, Payment, Refund, Shipment
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.services.shipments import shipment_create
from procedo.orders.services.taking import order_create

pytestmark = pytest.mark.django_db


def _states() -> list[tuple[str, str, str]]:
    return [(d.topic, d.state, d.error) for d in Delivery.objects.order_by("id")]


def test_a_shopify_store_s_order_life_lands_in_procedo() -> None:
    shop, client = helpers.connect("shopify", "Gadget shop"), Client()
    order_body = resource("shopify/order.json", "order")
    paid = {**order_body, "financial_status": "paid"}  # orders/paid: the same order, now paid
    stream = [
        ("customers/create", body_of(resource("shopify/customer.json", "customer"))),
        ("orders/create", body_of(order_body)),
        ("order_transactions/create", body_of(resource("shopify/transaction.json", "transaction"))),
        ("orders/paid", body_of(paid)),
        ("refunds/create", body_of(resource("shopify/refund.json", "refund"))),
        ("fulfillments/create", body_of(resource("shopify/fulfillment.json", "fulfillment"))),
        ("checkouts/create", body_of(resource("shopify/checkouts.json", "checkouts")[0])),
    ]
    for n, (topic, body) in enumerate(stream):
        answer = helpers.shopify(client, shop, topic, body, webhook_id=f"w-{n}")
        assert answer.status_code == 202, answer.content
    assert Delivery.objects.filter(state="received").count() == len(stream)
    assert not Order.objects.exists()  # stored first; the worker applies them

    processing_services.deliveries_process_pending()

    assert {state for _t, state, _e in _states()} == {"processed"}, _states()
    customer = Customer.objects.get(external_ref=f"shopify/{shop.pk}:customer:207119551")
    assert (customer.first_name, customer.last_name) == ("Bob", "Norman")
    assert Identity.objects.filter(customer=customer, value="bob.norman@hostmail.com").exists()

    order = Order.objects.select_related("status").get()
    assert order.external_ref == f"shopify/{shop.pk}:order:450789469"
    assert order.customer_id == customer.pk
    assert order.source == "Gadget shop #1001" and order.channel == "shopify"
    assert order.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.currency == "USD"
    # The fixture's lines (3 × 199.00 + tax) come to 608.94 but it charged 409.94: the
    # shop's total is what was paid, so the difference is the order's discount.
    assert (order.subtotal, order.shipping_total, order.discount_total, order.total) == (
        Decimal("608.94"),
        Decimal("0.00"),
        Decimal("199.00"),
        Decimal("409.94"),
    )
    assert [
        (line.sku_code, line.description, line.quantity, line.unit_price)
        for line in order.lines.all()
    ] == [
        ("IPOD2008GREEN", "IPod Nano - 8gb - green", 1, Decimal("199.0000")),
        ("IPOD2008RED", "IPod Nano - 8gb - red", 1, Decimal("199.0000")),
        ("IPOD2008BLACK", "IPod Nano - 8gb - black", 1, Decimal("199.0000")),
        ("", "State Tax", 1, Decimal("11.9400")),
    ]
    assert order.delivery_city == "Louisville"
    assert (
        order.delivery_address == "Chestnut Street 92, 40202"
        and order.recipient_name == "Bob Norman"
    )
    # Unknown SKUs are made so the order can go in, and listed for a person to check.
    made = Sku.objects.filter(code__startswith="IPOD2008")
    assert made.count() == 3
    assert set(SkuReview.objects.values_list("sku__code", flat=True)) == {
        "IPOD2008GREEN",
        "IPOD2008RED",
        "IPOD2008BLACK",
    }
    # authorized by the transaction, then paid: one payment, the order's.
    payment = Payment.objects.get()
    assert (payment.status, payment.amount, payment.currency, payment.method) == (
        "paid",
        Decimal("409.94"),
        "USD",
        "card",
    )
    assert order.paid_at is not None and order.status.category == "confirmed"
    refund = Refund.objects.get()
    assert (refund.amount, refund.payment_id, refund.reason) == (
        Decimal("209.00"),
        payment.pk,
        "it broke during shipping",
    )
    # fulfillments/create (pending, 2013) is older than the order's own fulfillment
    # (failure, 2014), which came first: the shipment stays failed.
    shipment = Shipment.objects.get()
    assert (shipment.order_id, shipment.tracking_number, shipment.carrier, shipment.status) == (
        order.pk,
        "1Z2345",
        "Shopify",
        "failed",
    )
    abandoned = Event.objects.get(event_type="checkout.abandoned")
    assert (abandoned.subject_type, abandoned.subject_id) == ("customer", customer.pk)
    assert abandoned.payload["total"] == "409.94" and abandoned.payload["currency"] == "USD"
    assert abandoned.payload["url"].startswith("https://checkout.local/orders/690933842/")


def test_a_shopify_fulfillment_and_its_carrier_events_reach_delivered() -> None:
    shop, client = helpers.connect("shopify"), Client()
    order_body = resource("shopify/order.json", "order")
    order_body["fulfillments"] = []
    helpers.shopify(client, shop, "orders/create", body_of(order_body), "w-1")
    fulfillment = resource("shopify/fulfillment.json", "fulfillment")
    # fulfillments/update once the carrier says it arrived (a later copy, changed in memory).
    delivered = {
        **fulfillment,
        "shipment_status": "delivered",
        "updated_at": "2013-11-03T10:00:00-04:00",
    }
    helpers.shopify(client, shop, "fulfillments/create", body_of(fulfillment), "w-2")
    helpers.shopify(client, shop, "fulfillments/update", body_of(delivered), "w-3")
    processing_services.deliveries_process_pending()
    shipment = Shipment.objects.get()
    assert shipment.status == "delivered"
    assert shipment.delivered_at == datetime(2013, 11, 3, 14, 0, tzinfo=UTC)
    assert [c.to_status for c in shipment.history.all()] == ["created", "delivered"]


def test_a_woocommerce_guest_order_created_then_completed() -> None:
    shop, client = helpers.connect("woocommerce", "Woo shop"), Client()
    for n, name in enumerate(["order.created", "order.updated", "customer.created"]):
        topic = name.replace("created", "created").replace("order.updated", "order.updated")
        answer = helpers.woocommerce(client, shop, topic, raw(f"woocommerce/{name}.json"), f"d-{n}")
        assert answer.status_code == 202, answer.content
    processing_services.deliveries_process_pending()
    assert {state for _t, state, _e in _states()} == {"processed"}, _states()

    order = Order.objects.select_related("status", "customer").get()
    assert order.external_ref == f"woocommerce/{shop.pk}:order:727"
    assert order.source == "Woo shop #727"
    assert order.placed_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # the _gmt field
    assert [
        (line.sku_code, line.description, line.quantity, line.unit_price)
        for line in order.lines.all()
    ] == [
        ("woo-93", "Woo Single #1", 2, Decimal("3.0000")),
        ("Bar3", "Ship Your Idea – Color: Black, Size: M Test", 1, Decimal("12.0000")),
        ("", "Tax", 1, Decimal("1.3500")),
    ]
    assert (order.shipping_total, order.total) == (Decimal("10.00"), Decimal("29.35"))
    # completed: walked through the pipeline's own moves to the first shipped status.
    assert order.status.category == "shipped"
    payment = Payment.objects.get()
    assert (payment.status, payment.method, payment.amount) == (
        "paid",
        "bank_transfer",
        Decimal("29.35"),
    )
    assert payment.paid_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    # A guest (customer_id 0) is matched by email; customer.created then finds them by it.
    assert Identity.objects.get(value="john.doe@example.com").customer_id == order.customer_id
    customer = order.customer
    assert customer is not None and customer.external_ref == f"woocommerce/{shop.pk}:customer:25"
    assert (customer.first_name, customer.last_name) == ("John", "Doe")
    assert order.delivery_address == "969 Market, 94103" and order.delivery_city == "San Francisco"


def _usd_order(total: str) -> Order:
    return order_create(
        lines=[OrderLineIn(quantity=1, description="Gift box", unit_price=total)],
        currency="USD",
        actor=None,
        idempotency_key=None,
    )


def test_stripe_payment_and_refund_reach_the_order_they_name() -> None:
    stripe, client = helpers.connect("stripe"), Client()
    order = _usd_order("10.99")
    fixtures = resource("stripe/fixtures3.json", "resources")
    intent = {
        **fixtures["payment_intent"],
        "status": "succeeded",
        "amount_received": 1099,
        "metadata": {"order_number": order.number},
    }
    refund = {
        **fixtures["refund"],
        "payment_intent": intent["id"],
        "metadata": {"order_number": order.number},
    }
    assert (
        helpers.stripe(
            client, stripe, helpers.stripe_event("payment_intent.succeeded", intent, "evt_1")
        ).status_code
        == 202
    )
    assert (
        helpers.stripe(
            client, stripe, helpers.stripe_event("refund.created", refund, "evt_2")
        ).status_code
        == 202
    )
    processing_services.deliveries_process_pending()
    assert {state for _t, state, _e in _states()} == {"processed"}, _states()
    payment = Payment.objects.get()
    assert (payment.order_id, payment.amount, payment.status) == (
        order.pk,
        Decimal("10.99"),
        "paid",
    )
    assert payment.external_id == f"stripe/{stripe.pk}:payment:{intent['id']}"
    assert Refund.objects.get().amount == Decimal("1.00")  # 100 minor units
    order.refresh_from_db()
    assert order.paid_at is not None


def test_easypost_tracker_moves_the_shipment_with_the_carrier_s_time() -> None:
    easypost, client = helpers.connect("easypost", secret="sécret"), Client()
    vector = json.loads(raw("easypost/client-library-fixtures.json"))["webhooks"]
    order = _usd_order("5.00")
    shipment = shipment_create(
        order_id=order.pk, carrier="FedEx", tracking_number="1", actor=None, idempotency_key=None
    )
    body = raw("easypost/event-body.json").rstrip(b"\n")  # what the official vector signs
    answer = client.post(
        helpers.url(easypost),
        body,
        content_type="application/json",
        headers={"X-Hmac-Signature": vector["hmac_signature"]},
    )
    assert answer.status_code == 202, answer.content
    delivered = json.loads(body)
    delivered["id"] = "evt_2"
    delivered["result"]["status"] = "delivered"
    delivered["result"]["updated_at"] = "2024-08-03T09:00:00Z"
    delivered["result"]["tracking_details"].append(
        {
            **delivered["result"]["tracking_details"][-1],
            "status": "delivered",
            "message": "Delivered",
            "datetime": "2024-08-03T08:41:00Z",
        }
    )
    moved = body_of(delivered)
    from procedo.integrations.signatures import easypost_sign

    client.post(
        helpers.url(easypost),
        moved,
        content_type="application/json",
        headers={"X-Hmac-Signature": easypost_sign("sécret", moved)},
    )
    processing_services.deliveries_process_pending()
    assert {state for _t, state, _e in _states()} == {"processed"}, _states()
    shipment.refresh_from_db()
    assert shipment.status == "delivered"
    assert shipment.delivered_at == datetime(2024, 8, 3, 8, 41, tzinfo=UTC)
    history = [(c.to_status, c.occurred_at) for c in shipment.history.all()]
    assert history[1] == ("in_transit", datetime(2024, 8, 2, 18, 50, tzinfo=UTC))


def test_liqpay_callback_pays_the_order_named_by_order_id() -> None:
    liqpay, client = helpers.connect("liqpay", secret="sandbox_private_key_123"), Client()
    order = order_create(
        lines=[OrderLineIn(quantity=1, description="Свічка", unit_price="450.00")],
        currency="UAH",
        actor=None,
        idempotency_key=None,
    )
    # No LiqPay payload file exists; the fields are those of liqpay.ua/documentation/api/callback.
    payload = {
        "action": "pay",
        "payment_id": 165629,
        "status": "success",
        "version": 3,
        "type": "buy",
        "public_key": "sandbox_i000",
        "order_id": order.number,
        "amount": 450.0,
        "currency": "UAH",
        "create_date": 1733500000000,
        "end_date": 1733500060000,
        "description": "Order",
    }
    form = helpers.liqpay_form("sandbox_private_key_123", payload)
    answer = client.post(
        helpers.url(liqpay), form, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 202, answer.content
    reversed_ = helpers.liqpay_form("sandbox_private_key_123", {**payload, "status": "reversed"})
    client.post(helpers.url(liqpay), reversed_, content_type="application/x-www-form-urlencoded")
    processing_services.deliveries_process_pending()
    assert {state for _t, state, _e in _states()} == {"processed"}, _states()
    payment = Payment.objects.get()
    assert (payment.amount, payment.paid_at) == (
        Decimal("450.00"),
        datetime(2024, 12, 6, 15, 47, 40, tzinfo=UTC),
    )
    refund = Refund.objects.get()
    assert refund.amount == Decimal("450.00") and refund.reason == "Reversed in LiqPay"
    with translation.override("uk"):  # the system's words, in the reader's language
        assert refund.reason_display == "Повернено в LiqPay"
    Refund.objects.filter(pk=refund.pk).update(reason_text=None)  # a refund from before
    refund.refresh_from_db()
    with translation.override("uk"):
        assert refund.reason_display == "Reversed in LiqPay"
    assert copy.deepcopy(payload)["status"] == "success"
