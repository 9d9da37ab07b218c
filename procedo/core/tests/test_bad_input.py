"""Values that could be stored but not read back: each is refused naming its field, and the
pages that would list it still answer for everyone."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from procedo.accounts.models import User
from procedo.catalog.models import Product, Sku, StockMovement
from procedo.events.models import Event
from procedo.orders.models import Order, Payment, Refund
from procedo.sops.models import Sop
from procedo.testing import token_client

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture
def api(owner: User) -> Client:
    return token_client(owner)


def _line(**extra: Any) -> dict[str, Any]:
    return {"sku_code": "CUP", "description": "Cup", "unit_price": "100", "quantity": 1, **extra}


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.content
    assert field in response.json()["field"], response.json()


def _lists_answer(client: Client, owner_client: Client) -> None:
    assert client.get("/api/orders").status_code == 200
    for url in ("/", "/orders/", "/activity/", "/sops/", "/customers/", "/catalog/"):
        assert owner_client.get(url).status_code == 200, url


def test_an_order_worth_more_than_its_columns_hold_is_refused(
    api: Client, owner_client: Client
) -> None:
    huge = {"lines": [_line(unit_price="999999999999.99", quantity=1_000_000)]}
    _refused(api.post("/api/orders", huge, content_type=JSON), "unit_price")
    many = {"lines": [_line(unit_price="999999999.99", quantity=1_000_000)]}
    _refused(api.post("/api/orders", many, content_type=JSON), "lines")
    for price in ("1e30", "NaN", "Infinity", "-5"):
        response = api.post("/api/orders", {"lines": [_line(unit_price=price)]}, content_type=JSON)
        _refused(response, "unit_price")
    assert not Order.objects.exists()
    _lists_answer(api, owner_client)


def test_dates_outside_1970_2100_are_refused(api: Client, owner_client: Client) -> None:
    for placed in ("9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:00:00Z"):
        body = {"lines": [_line()], "placed_at": placed}
        _refused(api.post("/api/orders", body, content_type=JSON), "placed_at")
    response = api.get("/api/orders", {"placed_from": "9999-01-01"})
    _refused(response, "placed_from")
    assert not Order.objects.exists()
    _lists_answer(api, owner_client)


def test_ids_beyond_64_bits_and_crafted_cursors_are_422s(api: Client) -> None:
    _refused(api.get(f"/api/orders/{2**64}"), "order_id")
    _refused(
        api.post("/api/orders", {"lines": [_line()], "customer_id": 2**70}, content_type=JSON),
        "customer_id",
    )
    crafted = [
        "%%%",
        base64.urlsafe_b64encode(json.dumps(["x"]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([{"d": "not a date"}, 1]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([2**80]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([[1, 2]]).encode()).decode(),
        "A" * 5000,
    ]
    for cursor in crafted:
        for url in ("/api/orders", "/api/customers", "/api/tasks", "/api/messages"):
            response = api.get(url, {"cursor": cursor})
            assert response.status_code == 422, (url, cursor, response.content)
            assert response.json()["field"] == "cursor"


def test_stock_and_kpi_numbers_beyond_their_columns_are_refused(
    api: Client, owner_client: Client, owner: User
) -> None:
    product = api.post("/api/catalog/products", {"name": "Cup"}, content_type=JSON).json()
    sku = api.post(
        f"/api/catalog/products/{product['id']}/skus",
        {"code": "CUP-1", "price": "100", "currency": "UAH"},
        content_type=JSON,
    ).json()
    assert "id" in sku, sku
    moves = StockMovement.objects.count()
    for body, field in (
        ({"delta": 10**20, "note": "x"}, "delta"),
        ({"counted": -1, "note": "x"}, "counted"),
        ({"counted": 10**12, "note": "x"}, "counted"),
    ):
        _refused(api.post(f"/api/catalog/skus/{sku['id']}/stock", body, content_type=JSON), field)
    assert StockMovement.objects.count() == moves
    assert Sku.objects.get(pk=sku["id"]).on_hand == 0
    sop = {
        "name": "Thank you",
        "subject_type": "order",
        "kpi": "repeat_purchase_rate",
        "owner_id": owner.pk,
    }
    _refused(
        api.post("/api/sops", {**sop, "kpi_target": "1234567890123456"}, content_type=JSON),
        "kpi_target",
    )
    assert not Sop.objects.exists()
    _lists_answer(api, owner_client)
    assert Product.objects.count() == 1


def test_unknown_currencies_nul_bytes_and_long_text_are_refused(api: Client) -> None:
    events = Event.objects.count()
    _refused(
        api.post("/api/orders", {"lines": [_line()], "currency": "ZZZ"}, content_type=JSON),
        "currency",
    )
    _refused(
        api.post("/api/customers", {"first_name": "Ол\x00ена"}, content_type=JSON), "first_name"
    )
    _refused(
        api.post("/api/orders", {"lines": [_line()], "note": "x" * 20_000}, content_type=JSON),
        "note",
    )
    _refused(
        api.post(
            "/api/customers",
            {"emails": [f"a{i}@example.com" for i in range(50)]},
            content_type=JSON,
        ),
        "emails",
    )
    assert Event.objects.count() == events


def test_payments_and_refunds_beyond_the_order_are_refused(api: Client) -> None:
    order = api.post("/api/orders", {"lines": [_line()]}, content_type=JSON).json()
    url = f"/api/orders/{order['id']}"
    _refused(
        api.post(f"{url}/payments", {"amount": "100.01", "method": "card"}, content_type=JSON),
        "amount",
    )
    paid = api.post(f"{url}/payments", {"amount": "60", "method": "card"}, content_type=JSON)
    assert paid.status_code == 201
    _refused(
        api.post(f"{url}/payments", {"amount": "40.01", "method": "card"}, content_type=JSON),
        "amount",
    )
    _refused(api.post(f"{url}/refunds", {"amount": "60.01"}, content_type=JSON), "amount")
    assert Payment.objects.count() == 1 and not Refund.objects.exists()
