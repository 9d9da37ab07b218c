"""The hook's answers: what is stored before a 2xx, what is refused and kept for diagnosis,
what is refused with nothing kept; the same event twice is applied once."""

from __future__ import annotations

import fcntl
import time

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.urls import resolve
from django.utils import translation

from procedo.catalog.models import Sku
from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.integrations import hooks, middleware, samples
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.secrets import secret_encrypt
from procedo.integrations.services import _common as common_services
from procedo.integrations.services import connections as connections_services
from procedo.integrations.services import processing as processing_services
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, raw, resource
from procedo.orders.models import Order

pytestmark = pytest.mark.django_db


def test_a_bad_signature_is_401_kept_as_rejected_and_never_processed() -> None:
    client = Client()
    shop = helpers.connect("shopify")
    body = raw("shopify/order.json")
    answer = client.post(
        helpers.url(shop),
        body,
        content_type="application/json",
        headers={"X-Shopify-Hmac-Sha256": "bm90IGl0", "X-Shopify-Topic": "orders/create"},
    )
    assert answer.status_code == 401 and answer.json()["field"] == "signature"
    woo = helpers.connect("woocommerce")
    assert client.post(helpers.url(woo), body, content_type="application/json").status_code == 401
    easypost = helpers.connect("easypost")
    assert (
        client.post(
            helpers.url(easypost),
            body,
            content_type="application/json",
            headers={"X-Hmac-Signature": "hmac-sha256-hex=00"},
        ).status_code
        == 401
    )
    liqpay = helpers.connect("liqpay")
    forged = helpers.liqpay_form("another-private-key", {"order_id": "1", "status": "success"})
    assert (
        client.post(
            helpers.url(liqpay), forged, content_type="application/x-www-form-urlencoded"
        ).status_code
        == 401
    )
    stripe = helpers.connect("stripe")
    event = helpers.stripe_event("charge.succeeded", {"id": "ch_1"}, "evt_old")
    # Signed right, but ten minutes old: outside Stripe's 300 s tolerance (a replay).
    old = helpers.stripe(client, stripe, event, at=int(time.time()) - 600)
    assert old.status_code == 401

    processing_services.deliveries_process_pending()
    rejected = list(Delivery.objects.order_by("id").values_list("state", "error"))
    assert [state for state, _e in rejected] == ["rejected"] * 5
    assert Delivery.objects.order_by("id")[0].topic == "orders/create"  # from its headers
    assert rejected[0][1] == "X-Shopify-Hmac-Sha256 does not match."
    assert rejected[4][1] == "Stripe-Signature is more than 300 s old."
    assert bytes(Delivery.objects.order_by("id")[0].body) == body  # kept as it came
    assert not Order.objects.exists()


def test_bad_input_is_a_clear_4xx_and_nothing_signed_is_lost() -> None:
    client, shop = Client(), helpers.connect("shopify")
    not_json = b"<order>1</order>"
    answer = helpers.shopify(client, shop, "orders/create", not_json, "w-1")
    assert (answer.status_code, answer.json()["field"]) == (400, "body")
    wrong_type = body_of(resource("shopify/order.json", "order"))
    answer = client.post(
        helpers.url(shop),
        wrong_type,
        content_type="text/plain",
        headers={
            "X-Shopify-Hmac-Sha256": helpers.signatures.shopify_sign(helpers.SECRET, wrong_type)
        },
    )
    assert (answer.status_code, answer.json()["field"]) == (415, "Content-Type")
    # Both were signed: kept, failed, with the reason, for a person to see.
    kept = list(Delivery.objects.order_by("id").values_list("state", "error_field", "error"))
    assert kept == [
        ("failed", "body", "The body is not application/json."),
        ("failed", "Content-Type", "The body is not application/json."),
    ]

    too_large = b"{" + b" " * common_services.MAX_BODY + b"}"
    answer = helpers.shopify(client, shop, "orders/create", too_large, "w-2")
    assert (answer.status_code, answer.json()["field"]) == (413, "body")
    unknown = client.post("/hooks/shopify/no-such-key/", b"{}", content_type="application/json")
    assert (unknown.status_code, unknown.json()["field"]) == (404, "connection")
    wrong_platform = client.post(
        f"/hooks/stripe/{shop.key}/", b"{}", content_type="application/json"
    )
    assert wrong_platform.status_code == 404
    connections_services.connection_update(connection_id=shop.pk, active=False, actor=None)
    assert helpers.shopify(client, shop, "orders/create", wrong_type, "w-3").status_code == 404
    assert client.get(helpers.url(shop)).status_code == 405
    woo = helpers.connect("woocommerce")
    ping = client.post(
        helpers.url(woo), b"webhook_id=17", content_type="application/x-www-form-urlencoded"
    )
    assert ping.status_code == 200  # WooCommerce saves a webhook only after its ping gets a 2xx
    assert Delivery.objects.count() == 2


def test_a_delivery_is_answered_without_the_browsers_middleware(owner_client: Client) -> None:
    """No session, no cookie, no page headers; the answer in the site's language whatever
    the server thread's last request was in; a body that reads back byte for byte."""
    shop = helpers.connect("shopify")
    body = body_of({**resource("shopify/order.json", "order"), "note": "50 %s 'quoted' \\x00"})
    translation.activate("uk")  # the thread's last request: a page in Ukrainian
    try:
        answer = helpers.shopify(owner_client, shop, "orders/create", body, "lean-1")
    finally:
        translation.deactivate()
    assert answer.status_code == 202
    assert answer.json()["detail"] == "Stored; it will be processed shortly."
    assert answer["Content-Length"] == str(len(answer.content))  # not chunked
    assert not answer.cookies and "Vary" not in answer
    assert "Content-Security-Policy" not in answer
    assert bytes(Delivery.objects.get(pk=answer.json()["delivery_id"]).body) == body
    # Any other address under /hooks/ is the site's own 404 page, through every middleware.
    missing = owner_client.get("/hooks/shopify/")
    assert missing.status_code == 404 and "Content-Security-Policy" in missing
    # The middleware matches the hooks' own patterns; the site's list leads to the same view.
    assert resolve(helpers.url(shop)).func is hooks.hook_receive
    assert helpers.url(shop).startswith(middleware.PREFIX)
    if connection.vendor == "postgresql":  # its INSERT is planned once per connection
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements"
                " WHERE statement LIKE 'INSERT INTO \"integrations_delivery\"%%'"
            )
            assert cursor.fetchone() == (1,)


def test_on_postgresql_a_body_is_compressed_with_lz4_where_the_server_has_it() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps the body as it is")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings"
            " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        )
        if cursor.fetchone() is None:
            pytest.skip("this PostgreSQL was built without lz4: the body keeps pglz")
    shop = helpers.connect("shopify")
    body = raw("shopify/order.json")
    answer = helpers.shopify(Client(), shop, "orders/create", body, "lz4-1")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(body) FROM integrations_delivery WHERE id = %s",
            [answer.json()["delivery_id"]],
        )
        assert cursor.fetchone() == ("lz4",)
    assert bytes(Delivery.objects.get(pk=answer.json()["delivery_id"]).body) == body


def test_a_payload_that_cannot_be_applied_fails_with_its_reason_and_changes_nothing() -> None:
    client, shop = Client(), helpers.connect("shopify")
    order = resource("shopify/order.json", "order")
    # Copies changed in memory: a currency Procedo does not know, and an order without an id.
    helpers.shopify(client, shop, "orders/create", body_of({**order, "currency": "XXX"}), "w-1")
    helpers.shopify(
        client, shop, "orders/create", body_of({k: v for k, v in order.items() if k != "id"}), "w-2"
    )
    helpers.shopify(
        client,
        shop,
        "customers/create",
        body_of(resource("shopify/customer.json", "customer")),
        "w-3",
    )
    processing_services.deliveries_process_pending()
    states = list(Delivery.objects.order_by("id").values_list("state", "error_field", "error"))
    assert states[0] == ("failed", "currency", "XXX is not a currency (ISO 4217).")
    assert states[1] == ("failed", "id", "The payload has no id.")
    assert states[2][0] == "processed"  # a failure never holds up the ones after it
    assert not Order.objects.exists() and not Sku.objects.exists()
    assert Customer.objects.count() == 1  # the customers/create one; the failed ones left none
    assert Delivery.objects.get(event_id="w-1").next_attempt_at is not None  # tried again later


def test_the_same_event_twice_is_processed_once() -> None:
    client, shop = Client(), helpers.connect("shopify")
    body = body_of(resource("shopify/order.json", "order"))
    first = helpers.shopify(client, shop, "orders/create", body, "same-webhook-id")
    processing_services.deliveries_process_pending()
    again = helpers.shopify(client, shop, "orders/create", body, "same-webhook-id")
    processing_services.deliveries_process_pending()
    assert first.status_code == again.status_code == 202  # both acknowledged: both stored
    assert Order.objects.count() == 1
    assert Event.objects.filter(event_type="order.created").count() == 1
    twin = Delivery.objects.get(pk=again.json()["delivery_id"])
    assert (twin.state, twin.duplicate_of_id) == ("processed", first.json()["delivery_id"])


def test_the_secret_is_stored_encrypted_and_shown_only_by_its_last_four_characters() -> None:
    shop = helpers.connect("shopify", secret="shpss_0123456789abcdefWXYZ")
    stored = Connection.objects.get(pk=shop.pk)
    assert "shpss_0123456789abcdef" not in stored.secret_encrypted
    assert stored.secret_hint == "…WXYZ"
    client = Client()
    body = body_of(resource("shopify/customer.json", "customer"))
    signed = {
        "X-Shopify-Hmac-Sha256": helpers.signatures.shopify_sign("shpss_0123456789abcdefWXYZ", body)
    }
    assert (
        client.post(
            helpers.url(shop), body, content_type="application/json", headers=signed
        ).status_code
        == 202
    )
    # Another SECRET_KEY cannot read it: refused and said why, never accepted unchecked.
    with override_settings(SECRET_KEY="another-installation-key-0123456789-abcdefghijkl"):
        refused = client.post(
            helpers.url(shop), body, content_type="application/json", headers=signed
        )
    assert refused.status_code == 401
    assert Delivery.objects.get(pk=refused.json()["delivery_id"]).error.startswith(
        "The stored secret"
    )


def test_a_paused_connection_or_a_new_secret_takes_effect_with_the_next_delivery() -> None:
    """The hook keeps what it read of a connection; its INSERT re-checks the row, so a
    change made by another process (this one's cache is not told) counts at once."""
    client, shop = Client(), helpers.connect("shopify")
    body = body_of(resource("shopify/customer.json", "customer"))

    def post(secret: str, webhook_id: str) -> int:
        headers = {
            "X-Shopify-Hmac-Sha256": helpers.signatures.shopify_sign(secret, body),
            "X-Shopify-Webhook-Id": webhook_id,
        }
        answer = client.post(
            helpers.url(shop), body, content_type="application/json", headers=headers
        )
        return answer.status_code

    assert post(helpers.SECRET, "kept-1") == 202  # the connection is now known to the hook
    rotated = "a-new-secret-0123456789-xyz"
    Connection.objects.filter(pk=shop.pk).update(secret_encrypted=secret_encrypt(rotated))
    assert (post(helpers.SECRET, "old-secret"), post(rotated, "new-secret")) == (401, 202)
    Connection.objects.filter(pk=shop.pk).update(active=False)
    assert post(rotated, "paused") == 404
    stored = Delivery.objects.filter(connection=shop).order_by("id")
    assert [(d.event_id, d.state) for d in stored] == [
        ("kept-1", "received"),
        ("old-secret", "rejected"),
        ("new-secret", "received"),
    ]


def test_a_sample_whose_test_mark_does_not_match_is_rejected_not_processed() -> None:
    """Only Procedo's own test carries a right X-Procedo-Test; a wrong one (a sample altered
    on its way) is refused, so a sample never becomes an order."""
    client, shop = Client(), helpers.connect("shopify")
    sample = samples.sample("shopify", helpers.SECRET, "sample-1")
    assert sample is not None
    headers = {**sample.headers, "X-Procedo-Test": "0" * 64}
    answer = client.post(
        helpers.url(shop), sample.body, content_type="application/json", headers=headers
    )
    assert answer.status_code == 401
    kept = Delivery.objects.get(pk=answer.json()["delivery_id"])
    assert (kept.state, kept.error) == ("rejected", "X-Procedo-Test does not match.")


@override_settings(PROCEDO_DB_LOCK_WAIT=1)
def test_on_sqlite_a_delivery_queued_past_the_lock_wait_is_a_503_with_nothing_stored() -> None:
    """SQLite: hook INSERTs queue across the web processes (a file lock) instead of meeting
    SQLite's busy handler; the queue is bounded as that handler is."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL inserts side by side: no queue")
    client = Client()
    shop = helpers.connect("shopify")
    body = body_of({"id": 1})
    with open(f"{connection.settings_dict['NAME']}.hooks-lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another web process storing one
        queued = helpers.shopify(client, shop, "orders/create", body, "queued-1")
    assert queued.status_code == 503 and queued["Retry-After"] == "5"
    assert queued.json()["field"] == "database"
    assert not Delivery.objects.exists()
    assert helpers.shopify(client, shop, "orders/create", body, "queued-1").status_code == 202
