"""Reconciliation against a local server speaking Stripe's and Shopify's list APIs: what the
webhooks missed comes in, what they brought is not applied twice."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from procedo.integrations import reconcile, remote
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import connections as connections_services
from procedo.integrations.services import processing as processing_services
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import LocalApi, resource
from procedo.orders.models import Order, Payment, Refund
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.services.taking import order_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> Iterator[dict[str, Any]]:
    script: dict[str, Any] = {}
    server = LocalApi(lambda method, path, body: script["answer"](method, path, body))
    script["server"] = server
    yield script
    server.close()


def test_stripe_events_missed_by_webhooks_are_fetched_and_applied_once(
    api: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "STRIPE_API", api["server"].url)
    stripe = connections_services.connection_create(
        platform="stripe",
        name="Stripe",
        account="",
        secret=helpers.SECRET,
        api_key="sk_test_51abcd",
        actor=None,
    )
    order = order_create(
        lines=[OrderLineIn(quantity=1, description="Gift box", unit_price="10.99")],
        currency="USD",
        actor=None,
        idempotency_key=None,
    )
    fixtures = resource("stripe/fixtures3.json", "resources")
    meta = {"metadata": {"order_number": order.number}}
    intent = {**fixtures["payment_intent"], **meta}
    processing = helpers.stripe_event("payment_intent.processing", intent, "evt_1")
    succeeded = helpers.stripe_event(
        "payment_intent.succeeded",
        {**intent, "status": "succeeded", "amount_received": 1099},
        "evt_2",
    )
    refunded = helpers.stripe_event(
        "refund.created", {**fixtures["refund"], "payment_intent": intent["id"], **meta}, "evt_3"
    )
    assert helpers.stripe(Client(), stripe, processing).status_code == 202  # by webhook
    processing_services.deliveries_process_pending()

    def answer(method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        query = parse_qs(urlsplit(path).query)
        if "starting_after" not in query:
            return 200, {"object": "list", "data": [succeeded, processing], "has_more": True}, {}
        return 200, {"object": "list", "data": [refunded], "has_more": False}, {}

    api["answer"] = answer
    caught = reconcile.connection_reconcile(connection_id=stripe.pk)
    assert (caught.fetched, caught.stored) == (3, 2)  # evt_1 came by webhook already
    processing_services.deliveries_process_pending()

    first, second = api["server"].seen
    assert first[2]["Authorization"] == "Bearer sk_test_51abcd"
    assert "created%5Bgte%5D=" in first[1] and "starting_after=evt_1" in second[1]
    assert Delivery.objects.filter(event_id="evt_1").count() == 1
    assert set(Delivery.objects.values_list("state", flat=True)) == {"processed"}
    payment = Payment.objects.get()
    assert (payment.status, payment.amount) == ("paid", Decimal("10.99"))
    assert Refund.objects.get().amount == Decimal("1.00")
    assert Connection.objects.get().reconciled_until is not None


def test_shopify_orders_changed_since_the_cursor_are_fetched_page_by_page(
    api: dict[str, Any],
) -> None:
    shop = connections_services.connection_create(
        platform="shopify",
        name="Shop",
        account=api["server"].url,
        secret=helpers.SECRET,
        api_key="shpat_0000111122223333",
        actor=None,
    )
    order = resource("shopify/order.json", "order")

    def answer(method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if "page_info" not in path:
            page_two = f"{api['server'].url}/admin/api/2024-10/orders.json?page_info=p2&limit=250"
            following = f'<{page_two}>; rel="next"'
            return 200, {"orders": [order]}, {"Link": following}
        return 200, {"orders": []}, {}

    api["answer"] = answer
    assert reconcile.connection_reconcile(connection_id=shop.pk).stored == 1
    processing_services.deliveries_process_pending()
    first, second = api["server"].seen
    assert first[1].startswith("/admin/api/2024-10/orders.json?updated_at_min=")
    assert first[2]["X-Shopify-Access-Token"] == "shpat_0000111122223333"
    assert "page_info=p2" in second[1]
    assert Order.objects.get().external_ref == f"shopify/{shop.pk}:order:450789469"
    # The same order unchanged at the next look is not stored again.
    assert reconcile.connection_reconcile(connection_id=shop.pk).stored == 0


def test_a_platform_that_refuses_leaves_the_cursor_and_says_why(
    api: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "STRIPE_API", api["server"].url)
    stripe = connections_services.connection_create(
        platform="stripe",
        name="Stripe",
        account="",
        secret=helpers.SECRET,
        api_key="sk_test_bad",
        actor=None,
    )
    api["answer"] = lambda method, path, body: (401, {"error": {"message": "Invalid API Key"}}, {})
    assert reconcile.connection_reconcile(connection_id=stripe.pk).stored == 0
    stripe.refresh_from_db()
    assert (
        stripe.reconciled_until is None and stripe.reconcile_error == "The platform answered 401."
    )
