"""A manager connects a platform on the page and through the API, sees the address to paste
and never the secret again; a failed delivery shows its reason and is replayed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from procedo.accounts.roles import Role
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.tests import helpers
from procedo.orders.models import Payment
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.services.taking import order_create
from procedo.testing import logged_in, person, token_client

pytestmark = pytest.mark.django_db

SECRET = "sandbox_private_key_0000WXYZ"


def _liqpay_for(client: Client, connection: Connection, number: str) -> Any:
    payload = {
        "action": "pay",
        "payment_id": 7001,
        "status": "success",
        "version": 3,
        "order_id": number,
        "amount": 120.0,
        "currency": "UAH",
        "end_date": 1733500060000,
    }
    return client.post(
        helpers.url(connection),
        helpers.liqpay_form(SECRET, payload),
        content_type="application/x-www-form-urlencoded",
    )


def test_a_manager_connects_liqpay_and_replays_a_payment_that_came_before_its_order(
    django_capture_on_commit_callbacks: Any,
) -> None:
    manager = logged_in(person(Role.MANAGER))
    assert logged_in(person(Role.OPERATOR)).get("/integrations/").status_code == 403
    refused = manager.post("/integrations/", {"platform": "liqpay", "name": "", "secret": SECRET})
    assert refused.status_code == 422
    made = manager.post(
        "/integrations/",
        {"platform": "liqpay", "name": "LiqPay", "account": "sandbox_i000", "secret": SECRET},
    )
    connection = Connection.objects.get()
    assert made.status_code == 302 and made["Location"] == f"/integrations/{connection.pk}/"
    page = manager.get(made["Location"]).content.decode()
    assert f"http://testserver/hooks/liqpay/{connection.key}/" in page
    assert "…WXYZ" in page and SECRET[:-4] not in page

    with django_capture_on_commit_callbacks(execute=True):  # the wake-up runs the worker's step
        _liqpay_for(Client(), connection, "A-77")
    delivery = Delivery.objects.get()
    assert delivery.state == "failed" and "A-77" in delivery.error
    page = manager.get(f"/integrations/{connection.pk}/?state=failed").content.decode()
    assert "No order A-77 (yet)." in page and "Replay" in page

    order = order_create(
        lines=[OrderLineIn(quantity=1, description="Свічка", unit_price="120.00")],
        currency="UAH",
        number="A-77",
        actor=None,
        idempotency_key=None,
    )
    with django_capture_on_commit_callbacks(execute=True):
        replayed = manager.post(f"/integrations/deliveries/{delivery.pk}/replay/")
    assert replayed.status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == "processed" and Payment.objects.get().order_id == order.pk
    page = manager.get(f"/integrations/{connection.pk}/").content.decode()
    assert "Payment of order A-77" in page

    changed = manager.post(
        f"/integrations/{connection.pk}/edit/",
        {"name": "LiqPay UA", "account": "", "secret": "", "active": ""},
    )
    assert changed.status_code == 302
    connection.refresh_from_db()
    assert (connection.name, connection.active, connection.secret_hint) == (
        "LiqPay UA",
        False,
        "…WXYZ",
    )


def test_connections_through_the_api_never_return_the_secret() -> None:
    api = token_client(person(Role.OWNER))
    made = api.post(
        "/api/integrations/connections",
        {
            "platform": "shopify",
            "name": "Shop",
            "account": "x.myshopify.com",
            "secret": "shpss_abcdefgh1234",
        },
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert "shpss_abcdefgh" not in made.content.decode() and body["secret_hint"] == "…1234"
    assert body["hook_url"].startswith("http://testserver/hooks/shopify/")
    bad = api.post(
        "/api/integrations/connections",
        {"platform": "ebay", "name": "x", "secret": "s"},
        content_type="application/json",
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "platform")
    patched = api.patch(
        f"/api/integrations/connections/{body['id']}",
        {"secret": "shpss_newsecret9876"},
        content_type="application/json",
    )
    assert patched.json()["secret_hint"] == "…9876"
    connection = Connection.objects.get()
    helpers.shopify(Client(), connection, "orders/create", b"{}", "w-1")  # signed with the old one
    listed = api.get(f"/api/integrations/connections/{body['id']}/deliveries?state=rejected").json()
    assert [d["state"] for d in listed["items"]] == ["rejected"] and listed["next_before"] is None
    replay = api.post(f"/api/integrations/deliveries/{listed['items'][0]['id']}/replay")
    assert (replay.status_code, replay.json()["field"]) == (409, "state")
    assert (
        token_client(person(Role.OPERATOR)).get("/api/integrations/connections").status_code == 403
    )
    # Nova Poshta sends nothing: its page says how it is asked instead of an address.
    made = api.post(
        "/api/integrations/connections",
        {"platform": "novaposhta", "name": "Нова пошта", "secret": "np-key-00001111"},
        content_type="application/json",
    )
    page = logged_in(person(Role.MANAGER)).get(f"/integrations/{made.json()['id']}/")
    assert "Nova Poshta sends no webhooks" in page.content.decode()
    assert 'id="hook-url"' not in page.content.decode()
