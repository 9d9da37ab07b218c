from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.catalog.models import Sku
from procedo.catalog.tests.factories import sku_create
from procedo.events.models import Event
from procedo.orders.models import Order
from procedo.orders.tests.factories import customer_create, move, order_create
from procedo.testing import api_caller

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner: User) -> Callable[..., Any]:
    return api_caller(owner, "/api/orders")


def test_create_an_order_and_read_it_back(api: Callable[..., Any]) -> None:
    sku = sku_create(code="CANDLE-1", price="180.00", on_hand=4)
    customer = customer_create()
    created = api(
        "post",
        "",
        {
            "customer_id": customer.pk,
            "lines": [
                {"sku_id": sku.pk, "quantity": 2},
                {
                    "sku_code": "CARD",
                    "quantity": 1,
                    "unit_price": "20.00",
                    "description": "Листівка",
                },
            ],
            "shipping": "60.00",
            "external_ref": "shop:5001",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["total"], body["next_statuses"]) == (
        "new",
        "440.00",
        ["confirmed", "cancelled"],
    )
    assert [line["line_total"] for line in body["lines"]] == ["360.00", "20.00"]
    again = api(
        "post", "", {"lines": [{"sku_id": sku.pk, "quantity": 2}], "external_ref": "shop:5001"}
    )
    assert again.json()["id"] == body["id"] and Sku.objects.get(pk=sku.pk).reserved == 2

    got = api("get", f"/{body['id']}")
    assert got.status_code == 200 and got.json()["number"] == body["number"]
    listed = api("get", "", {"customer_id": customer.pk, "limit": 1})
    assert [o["id"] for o in listed.json()["items"]] == [body["id"]]


def test_invalid_input_is_a_422_naming_the_field(api: Callable[..., Any]) -> None:
    sku = sku_create(on_hand=4)
    zero = api("post", "", {"lines": [{"sku_id": sku.pk, "quantity": 0}]})
    assert zero.status_code == 422 and zero.json()["field"] == "lines.0.quantity"
    no_lines = api("post", "", {"lines": []})
    assert no_lines.status_code == 422 and no_lines.json()["field"] == "lines"
    unknown = api("post", "", {"lines": [{"sku_id": 999_999, "quantity": 1}]})
    assert unknown.status_code == 404 and unknown.json()["field"] == "lines.0.sku_id"
    bad_money = api("post", "", {"lines": [{"sku_id": sku.pk, "quantity": 1}], "shipping": "1.005"})
    assert bad_money.status_code == 422 and bad_money.json()["field"] == "shipping"
    short = api("post", "", {"lines": [{"sku_id": sku.pk, "quantity": 5}]})
    assert short.status_code == 409 and short.json()["field"] == "lines.0.quantity"
    assert short.json()["code"] == "out_of_stock"
    assert sku.code in short.json()["detail"]
    bad_cursor = api("get", "", {"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 422 and bad_cursor.json()["field"] == "cursor"
    assert not Order.objects.exists()


def test_status_changes_are_idempotent_and_refusals_are_409(api: Callable[..., Any]) -> None:
    order = order_create()
    for _ in range(2):
        moved = api(
            "post", f"/{order.pk}/status", {"status": "confirmed"}, **{"Idempotency-Key": "k1"}
        )
        assert moved.status_code == 200 and moved.json()["status"] == "confirmed"
    assert Event.objects.filter(event_type="order.status_changed").count() == 1

    refused = api(
        "post", f"/{order.pk}/status", {"status": "delivered"}, **{"Idempotency-Key": "k2"}
    )
    assert refused.status_code == 409 and refused.json()["field"] == "status"
    no_key = api("post", f"/{order.pk}/status", {"status": "packed"})
    assert no_key.status_code == 422 and no_key.json()["field"] == "Idempotency-Key"
    order.refresh_from_db()
    assert order.status_id == "confirmed"


def test_payments_shipments_returns_and_refunds(api: Callable[..., Any]) -> None:
    sku = sku_create(price="250.00", on_hand=3)
    order = move(order_create((sku, 2)), "confirmed", "packed")
    payment = api(
        "post",
        f"/{order.pk}/payments",
        {"amount": "500.00", "method": "cod", "external_id": "pay-1"},
    )
    assert payment.status_code == 201 and payment.json()["status"] == "paid"
    bad = api("post", f"/{order.pk}/payments", {"amount": "-1", "method": "cod"})
    assert bad.status_code == 422 and bad.json()["field"] == "amount"

    shipment = api(
        "post", f"/{order.pk}/shipments", {"carrier": "Нова пошта", "tracking_number": "59000"}
    )
    assert shipment.status_code == 201 and shipment.json()["history"][0]["to_status"] == "created"
    delivered = api("post", f"/shipments/{shipment.json()['id']}/status", {"status": "in_transit"})
    assert delivered.status_code == 200
    delivered = api("post", f"/shipments/{shipment.json()['id']}/status", {"status": "delivered"})
    assert delivered.json()["delivered_at"]
    order_body = api("get", f"/{order.pk}").json()
    assert order_body["status"] == "delivered" and order_body["paid_at"]

    line_id = order_body["lines"][0]["id"]
    ret = api(
        "post",
        f"/{order.pk}/returns",
        {"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "брак", "received": True},
    )
    assert ret.status_code == 201 and ret.json()["lines"] == [
        {"order_line_id": line_id, "quantity": 1}
    ]
    assert Sku.objects.get(pk=sku.pk).on_hand == 2
    refund = api(
        "post", f"/{order.pk}/refunds", {"amount": "250.00", "payment_id": payment.json()["id"]}
    )
    assert refund.status_code == 201
    too_much = api("post", f"/{order.pk}/refunds", {"amount": "300.00"})
    assert too_much.status_code == 422 and too_much.json()["field"] == "amount"
    assert api("get", "/pipeline").json()["statuses"][0]["code"] == "new"


def test_a_viewer_reads_but_gets_403_on_changes(make_user: Callable[..., User]) -> None:
    order = order_create()
    viewer = api_caller(make_user(Role.VIEWER), "/api/orders")
    assert viewer("get", "").status_code == 200
    forbidden = viewer(
        "post", f"/{order.pk}/status", {"status": "confirmed"}, **{"Idempotency-Key": "v1"}
    )
    assert forbidden.status_code == 403 and "orders.change" in forbidden.json()["detail"]
    assert (
        viewer(
            "post",
            "",
            {"lines": [{"sku_code": "X", "quantity": 1, "unit_price": "1", "description": "x"}]},
        ).status_code
        == 403
    )
    order.refresh_from_db()
    assert order.status_id == "new" and Order.objects.count() == 1


def test_the_pipeline_is_edited_through_the_api_by_managers_only(
    api: Callable[..., Any], make_user: Callable[..., User]
) -> None:
    added = api(
        "post",
        "/pipeline/statuses",
        {"code": "awaiting_payment", "label": "Очікує оплату", "category": "new"},
    )
    assert added.status_code == 201
    assert "awaiting_payment" in [s["code"] for s in added.json()["statuses"]]
    moved = api("post", "/pipeline/transitions", {"from_status": "new", "to_status": "shipped"})
    assert {"from_status": "new", "to_status": "shipped"} in moved.json()["transitions"]
    removed = api("delete", "/pipeline/transitions/new/shipped")
    assert {"from_status": "new", "to_status": "shipped"} not in removed.json()["transitions"]

    order_create()
    in_use = api("delete", "/pipeline/statuses/new")
    assert in_use.status_code == 409 and in_use.json()["field"] == "status"
    bad = api("post", "/pipeline/statuses", {"code": "x", "label": "x", "category": "lost"})
    assert bad.status_code == 422 and bad.json()["field"] == "category"

    operator = api_caller(make_user(Role.OPERATOR), "/api/orders")
    assert operator("get", "/pipeline").status_code == 200
    assert operator("delete", "/pipeline/statuses/awaiting_payment").status_code == 403


def test_an_order_taken_by_phone_is_changed_and_moved_through_the_api(
    api: Callable[..., Any], owner: User
) -> None:
    vase = sku_create(code="VASE-S", price="640.00", on_hand=3)
    created = api(
        "post",
        "",
        {
            "lines": [{"sku_id": vase.pk, "quantity": 1}],
            "customer": {"phone": "067 123 45 67", "first_name": "Марина"},
            "delivery": {
                "carrier": "nova_poshta",
                "point": "branch",
                "city": "Київ",
                "branch": "Відділення №12",
            },
            "payment_method": "cod",
            "manager_id": owner.pk,
            "channel": "instagram",
        },
        **{"Idempotency-Key": "take-1"},
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["delivery_carrier"], body["delivery_branch"], body["payment_method"]) == (
        "nova_poshta",
        "Відділення №12",
        "cod",
    )
    assert body["manager_id"] == owner.pk and body["customer_id"] is not None
    order_id = body["id"]

    lines = api("put", f"/{order_id}/lines", {"lines": [{"sku_id": vase.pk, "quantity": 3}]})
    assert lines.status_code == 200 and lines.json()["total"] == "1920.00"
    too_many = api("put", f"/{order_id}/lines", {"lines": [{"sku_id": vase.pk, "quantity": 4}]})
    assert too_many.status_code == 409
    assert (too_many.json()["field"], too_many.json()["code"]) == (
        "lines.0.quantity",
        "out_of_stock",
    )
    delivery = api(
        "put",
        f"/{order_id}/delivery",
        {"carrier": "courier", "city": "Київ", "address": "вул. Хрещатик, 1", "shipping": "80"},
    )
    assert delivery.status_code == 200
    assert (delivery.json()["delivery_point"], delivery.json()["total"]) == ("address", "2000.00")
    assert delivery.json()["payment_method"] == "cod"  # not given: unchanged
    bad = api("put", f"/{order_id}/delivery", {"carrier": "nova_poshta", "point": "branch"})
    assert bad.status_code == 422 and bad.json()["field"] == "delivery.city"

    other = order_create()
    counts = api("get", "/status-counts")
    assert {row["status"]: row["count"] for row in counts.json()}["new"] == 2
    moved = api(
        "post",
        "/status",
        {"order_ids": [order_id, other.pk], "status": "confirmed"},
        **{"Idempotency-Key": "bulk-1"},
    )
    assert moved.status_code == 200
    assert [o["status"] for o in moved.json()["moved"]] == ["confirmed", "confirmed"]
    late = api("put", f"/{order_id}/lines", {"lines": [{"sku_id": vase.pk, "quantity": 1}]})
    assert late.status_code == 200  # confirmed is still editable
    move(other, "packed")
    refused = api("put", f"/{other.pk}/lines", {"lines": [{"sku_id": vase.pk, "quantity": 1}]})
    assert refused.status_code == 409 and refused.json()["code"] == "not_editable"

    found = api("get", "", {"q": "+380671234567"})
    assert [o["id"] for o in found.json()["items"]] == [order_id]
    by_manager = api("get", "", {"manager_id": owner.pk})
    assert [o["id"] for o in by_manager.json()["items"]] == [order_id]


def test_the_pipeline_says_which_statuses_are_editable(api: Callable[..., Any]) -> None:
    pipeline = api("get", "/pipeline").json()
    editable = {s["code"] for s in pipeline["statuses"] if s["editable"]}
    assert editable == {"new", "confirmed"}
    changed = api("patch", "/pipeline/statuses/packed", {"editable": True})
    assert changed.status_code == 200
    assert {s["code"] for s in changed.json()["statuses"] if s["editable"]} == {
        "new",
        "confirmed",
        "packed",
    }
