"""Over a real socket: the answer comes once the delivery is stored, and the worker's step
(Huey, immediate in tests) then makes the order; "send a test" posts a signed sample to
the connection's own address and says what became of it."""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

import pytest
from django.test import Client

from procedo.accounts.roles import Role
from procedo.events.models import Event
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import processing as processing_services
from procedo.integrations.services import testing as testing_services
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, resource
from procedo.orders.models import Order, Payment
from procedo.testing import free_port, logged_in, person, token_client

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


def _tested(client: Client, connection: Connection, token: str) -> Any:
    return client.post(
        f"/integrations/{connection.pk}/test/",
        {"form_token": token},
        headers={"HX-Request": "true"},
    )


def test_send_a_test_posts_each_platform_s_signed_sample_to_its_own_address_over_http(
    live_server: Any,
) -> None:
    # The page's request names the live server as its host: the address it builds, and posts
    # the sample to, is the live server's own hook, as a platform would reach it.
    host = live_server.url.removeprefix("http://")
    manager = logged_in(person(Role.MANAGER))
    manager.defaults["HTTP_HOST"] = host
    for platform in ("shopify", "woocommerce", "stripe", "easypost", "liqpay"):
        connection = helpers.connect(platform, f"{platform} test")
        token = str(uuid.uuid4())
        page = _tested(manager, connection, token)
        assert page.status_code == 200, page.content
        assert "Received and verified" in page.content.decode(), (platform, page.content)
        test = Delivery.objects.get(connection=connection)
        assert (test.state, test.headers.get("X-Procedo-Test") is not None) == ("test", True)
        # A double click (the same token) answers the first result and sends nothing more.
        assert "Received and verified" in _tested(manager, connection, token).content.decode()
        assert Delivery.objects.filter(connection=connection).count() == 1
    processing_services.deliveries_process_pending()
    assert set(Delivery.objects.values_list("state", flat=True)) == {"test"}
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert Event.objects.filter(event_type="connection.tested").count() == 5
    # The page shows the last result when opened again; an operator may not send tests.
    shown = manager.get(f"/integrations/{connection.pk}/").content.decode()
    assert "Received and verified" in shown and 'id="test-result"' in shown
    operator = logged_in(person(Role.OPERATOR))
    operator.defaults["HTTP_HOST"] = host
    assert _tested(operator, connection, str(uuid.uuid4())).status_code == 403
    assert Delivery.objects.filter(connection=connection).count() == 1


def test_send_a_test_says_rejected_not_accepted_or_not_reachable(live_server: Any) -> None:
    shop, other = helpers.connect("shopify", "Shop"), helpers.connect("shopify", "Other", "x" * 20)
    owner = person(Role.OWNER)

    def sent(url: str) -> testing_services.ConnectionTest:
        return testing_services.connection_test_send(
            connection_id=shop.pk, actor=owner, hook_url=url, idempotency_key=str(uuid.uuid4())
        )

    # The address of another connection (another secret): the signature does not match there.
    rejected = sent(f"{live_server.url}{helpers.url(other)}")
    assert (rejected.outcome, rejected.status) == ("rejected", 401)
    assert rejected.words.startswith("Rejected: signature.")
    assert Delivery.objects.get(connection=other).state == "rejected"
    Connection.objects.filter(pk=shop.pk).update(active=False)
    paused = sent(f"{live_server.url}{helpers.url(shop)}")
    assert (paused.outcome, paused.status) == ("refused", 404)
    assert paused.words == (
        "Not accepted: the address answered 404: No active connection at this address."
    )
    closed = sent(f"http://127.0.0.1:{free_port()}{helpers.url(shop)}")
    assert (closed.outcome, closed.status, closed.delivery_id) == ("unreachable", None, None)
    assert closed.words.startswith("Not reachable: ")
    assert not Delivery.objects.filter(connection=shop).exists()
    # Through the API, the same service: the result in words and its parts.
    api = token_client(owner)
    api.defaults["HTTP_HOST"] = live_server.url.removeprefix("http://")
    answer = api.post(f"/api/integrations/connections/{other.pk}/test")
    assert answer.status_code == 200, answer.content
    assert answer.json()["outcome"] == "verified"
    assert answer.json()["message"].startswith("Received and verified")
    assert Delivery.objects.get(pk=answer.json()["delivery_id"]).state == "test"
    novaposhta = helpers.connect("novaposhta", "NP")
    refused = api.post(f"/api/integrations/connections/{novaposhta.pk}/test")
    assert (refused.status_code, refused.json()["field"]) == (422, "platform")
