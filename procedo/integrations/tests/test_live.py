"""Over a real socket: the answer comes once the delivery is stored, and the worker's step
(Huey, immediate in tests) then makes the order."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from procedo.integrations.models import Delivery
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, resource
from procedo.orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_signed_order_posted_to_a_live_server_is_stored_answered_and_applied(
    live_server: Any,
) -> None:
    shop = helpers.connect("shopify", "Live shop")
    body = body_of(resource("shopify/order.json", "order"))
    request = urllib.request.Request(
        f"{live_server.url}{helpers.url(shop)}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": helpers.signatures.shopify_sign(helpers.SECRET, body),
            "X-Shopify-Webhook-Id": "live-1",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 202
    delivery = Delivery.objects.get()
    assert bytes(delivery.body) == body and delivery.headers["X-Shopify-Topic"] == "orders/create"
    assert delivery.state == "processed", delivery.error
    assert Order.objects.get().external_ref == f"shopify/{shop.pk}:order:450789469"
