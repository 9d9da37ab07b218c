"""Sample deliveries for "send a test": each platform's documented sample, signed its way.

The bodies follow the platforms' own samples (Shopify's test notification for
orders/create, WooCommerce's order in its REST API reference, a Stripe event as its
dashboard sends one, EasyPost's tracker.updated Event with its test tracking code,
LiqPay's callback), cut to the fields Procedo reads: a test shows that the address is
reached and the signature checks, not how an order is mapped (the mapping tests post
the real payloads). Each carries `X-Procedo-Test`, an HMAC of the body under the
connection's secret (signatures.test_mark): the hook stores it as a test, never processed.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from procedo.integrations import signatures

TEST_HEADER = "X-Procedo-Test"


@dataclass(frozen=True)
class Sample:
    headers: dict[str, str]
    body: bytes


_SHOPIFY_ORDER = {
    "id": 820982911946154508,
    "name": "#9999",
    "email": "jon@example.com",
    "created_at": "2021-12-31T19:00:00-05:00",
    "updated_at": "2021-12-31T19:00:00-05:00",
    "currency": "USD",
    "total_price": "403.00",
    "financial_status": "voided",
    "test": True,
    "line_items": [
        {"id": 866550311766439020, "sku": "", "title": "Aviator sunglasses", "quantity": 1,
         "price": "199.00"},
    ],
}  # fmt: skip

_WOOCOMMERCE_ORDER = {
    "id": 727,
    "status": "processing",
    "currency": "USD",
    "date_created_gmt": "2017-03-22T16:28:02",
    "date_modified_gmt": "2017-03-22T16:28:08",
    "total": "29.35",
    "billing": {"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"},
    "line_items": [{"id": 315, "name": "Woo Single #1", "sku": "", "quantity": 2, "price": 3}],
}

_EASYPOST_EVENT = {
    "object": "Event",
    "id": "evt_test_procedo",
    "mode": "test",
    "description": "tracker.updated",
    "result": {"object": "Tracker", "tracking_code": "EZ1000000001", "status": "pre_transit"},
}


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sample(platform: str, secret: str, test_id: str) -> Sample | None:
    """A signed sample delivery of `platform` (None: it sends none), its ids from test_id."""
    headers: dict[str, str]
    if platform == "shopify":
        body = _json(_SHOPIFY_ORDER)
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": signatures.shopify_sign(secret, body),
            "X-Shopify-Webhook-Id": test_id,
            "X-Shopify-Test": "true",
        }
    elif platform == "woocommerce":
        body = _json(_WOOCOMMERCE_ORDER)
        headers = {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Signature": signatures.shopify_sign(secret, body),  # the same HMAC
            "X-WC-Webhook-Delivery-ID": test_id,
        }
    elif platform == "stripe":
        body = _json(
            {
                "id": test_id,
                "object": "event",
                "type": "payment_intent.succeeded",
                "livemode": False,
                "data": {"object": {"id": "pi_00000000000000", "object": "payment_intent"}},
            }
        )
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": signatures.stripe_sign(secret, body, stamp),
        }
    elif platform == "easypost":
        body = _json({**_EASYPOST_EVENT, "id": test_id})
        headers = {
            "Content-Type": "application/json",
            "X-Hmac-Signature": signatures.easypost_sign(secret, body),
        }
    elif platform == "liqpay":
        data = base64.b64encode(
            _json(
                {
                    "action": "pay",
                    "payment_id": 0,
                    "status": "sandbox",
                    "version": 3,
                    "order_id": test_id,
                    "amount": 1,
                    "currency": "UAH",
                }
            )
        ).decode()
        body = urlencode({"data": data, "signature": signatures.liqpay_sign(secret, data)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    else:
        return None
    headers[TEST_HEADER] = signatures.test_mark(secret, body)
    return Sample(headers, body)
