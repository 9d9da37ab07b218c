"""Idempotency keys mean what Stripe's mean, on every endpoint that takes one (one helper)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.core.idempotency import TTL, idempotency_claim, idempotency_keys_expire
from procedo.core.models import IdempotencyKey
from procedo.customers.models import Address, Customer
from procedo.orders.models import Payment, Shipment
from procedo.testing import in_threads, token_client

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _post(client: Client, url: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(url, body, content_type=JSON, headers=headers)


def _order(client: Client) -> dict[str, Any]:
    body = {
        "lines": [{"sku_code": "CUP", "description": "Cup", "unit_price": "100", "quantity": 1}]
    }
    response = _post(client, "/api/orders", body)
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_a_repeat_answers_with_the_first_result_and_writes_nothing(owner: User) -> None:
    client = token_client(owner)
    first = _post(client, "/api/customers", {"first_name": "Олена"}, key="k-1")
    again = _post(client, "/api/customers", {"first_name": "Олена"}, key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Customer.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422_naming_the_header(owner: User) -> None:
    client = token_client(owner)
    first = _post(client, "/api/customers", {"first_name": "Олена"}, key="k-2")
    other = _post(client, "/api/customers", {"first_name": "Тарас"}, key="k-2")
    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["field"] == "Idempotency-Key"
    assert other.json()["code"] == "idempotency_key_reused"
    assert list(Customer.objects.values_list("first_name", flat=True)) == ["Олена"]


def test_a_key_reused_on_another_endpoint_is_a_422_not_someone_elses_result(owner: User) -> None:
    client = token_client(owner)
    customer = _post(client, "/api/customers", {"first_name": "Олена"}, key="k-3").json()
    # Once a 500 (KeyError 'address_id'); once a 201 with the other endpoint's object.
    address = {"line1": "Хрещатик, 1", "city": "Київ"}
    reused = _post(client, f"/api/customers/{customer['id']}/addresses", address, key="k-3")
    assert reused.status_code == 422 and reused.json()["field"] == "Idempotency-Key"
    assert not Address.objects.exists()
    note = _post(client, f"/api/customers/{customer['id']}/notes", {"body": "x"}, key="k-3")
    assert note.status_code == 422
    created = _post(client, "/api/customers", {"first_name": "Тарас"}, key="k-3b")
    assert created.status_code == 201 and Customer.objects.count() == 2


def test_a_key_reused_on_another_shipment_is_refused_not_a_silent_200(owner: User) -> None:
    client = token_client(owner)
    first, second = _order(client), _order(client)
    body = {"carrier": "nova_poshta", "tracking_number": "20450000000001"}
    made = _post(client, f"/api/orders/{first['id']}/shipments", body, key="ship-1")
    assert made.status_code == 201
    other = _post(client, f"/api/orders/{second['id']}/shipments", body, key="ship-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Shipment.objects.filter(order_id=second["id"]).count() == 0


def test_keys_belong_to_their_caller(owner: User, make_user: Callable[..., User]) -> None:
    manager = make_user(Role.MANAGER)
    mine = _post(token_client(owner), "/api/customers", {"first_name": "Олена"}, key="shared")
    theirs = _post(token_client(manager), "/api/customers", {"first_name": "Тарас"}, key="shared")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_the_permission_is_checked_before_any_replay(
    owner: User, make_user: Callable[..., User]
) -> None:
    viewer = make_user(Role.VIEWER)
    viewer_client = token_client(viewer)
    made = _post(token_client(owner), "/api/customers", {"first_name": "Олена"}, key="perm")
    assert made.status_code == 201
    # Same key, same body, another caller without the right: 403, never the owner's result.
    refused = _post(viewer_client, "/api/customers", {"first_name": "Олена"}, key="perm")
    assert refused.status_code == 403
    assert "Олена" not in refused.content.decode()


def test_keys_expire_after_a_day(owner: User) -> None:
    client = token_client(owner)
    assert _post(client, "/api/customers", {"first_name": "Олена"}, key="old").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - TTL - timedelta(minutes=1))
    assert idempotency_keys_expire() == 1
    again = _post(client, "/api/customers", {"first_name": "Тарас"}, key="old")
    assert again.status_code == 201 and Customer.objects.count() == 2


def test_a_key_past_its_day_is_a_new_request_even_before_the_sweep(owner: User) -> None:
    client = token_client(owner)
    assert _post(client, "/api/customers", {"first_name": "Олена"}, key="old").status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - TTL - timedelta(minutes=1))
    again = _post(client, "/api/customers", {"first_name": "Тарас"}, key="old")
    assert again.status_code == 201 and Customer.objects.count() == 2
    assert IdempotencyKey.objects.get(key="api:old").created_at > timezone.now() - TTL


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_twin_waits_for_the_first_claim_and_then_replays_it(postgres_only: None) -> None:
    """The second claim of a key still in the first's open transaction waits on the unique
    index, then reads the first's result: one piece of work, never two."""
    first_claimed, outcomes = threading.Event(), {}

    def first() -> None:
        with transaction.atomic():
            claim = idempotency_claim(key="k", actor=None, operation="op", request={"a": 1})
            first_claimed.set()
            threading.Event().wait(0.5)  # the twin is waiting on the index meanwhile
            claim.done(result_id=42)
        assert claim.record is not None
        outcomes["first"] = (claim.replay, claim.record.result_id)

    def second() -> None:
        first_claimed.wait(5)
        with transaction.atomic():
            claim = idempotency_claim(key="k", actor=None, operation="op", request={"a": 1})
        outcomes["second"] = (claim.replay, claim.result_id)

    in_threads(first, second)
    assert outcomes == {"first": (False, 42), "second": (True, 42)}
    assert IdempotencyKey.objects.filter(key="k").count() == 1


def test_a_key_past_its_limit_is_refused_naming_the_header(owner: User) -> None:
    response = _post(token_client(owner), "/api/customers", {"first_name": "Олена"}, key="k" * 300)
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert not Customer.objects.exists()


def test_a_failed_request_leaves_no_key_so_its_retry_runs(owner: User) -> None:
    client = token_client(owner)
    order = _order(client)
    wrong = {"amount": "100", "method": "barter"}
    failed = _post(client, f"/api/orders/{order['id']}/payments", wrong, key="pay-1")
    assert failed.status_code == 422
    assert not IdempotencyKey.objects.filter(key="api:pay-1").exists()
    right = {"amount": "100", "method": "card"}
    paid = _post(client, f"/api/orders/{order['id']}/payments", right, key="pay-1")
    assert paid.status_code == 201
    again = _post(client, f"/api/orders/{order['id']}/payments", right, key="pay-1")
    assert again.json()["id"] == paid.json()["id"]
    assert [p.amount for p in Payment.objects.filter(order_id=order["id"])] == [Decimal("100.00")]
