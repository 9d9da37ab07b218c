"""Fixtures of the customers tests: data is made through the services themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.customers import registry
from procedo.customers.models import Customer
from procedo.customers.registry import merge_participant_register, merge_participant_unregister
from procedo.customers.services.customers import customer_create
from procedo.testing import logged_in


@pytest.fixture(autouse=True)
def _registries_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other apps (orders) register merge participants and card sections; these tests
    check the customers side alone, so each starts with empty registries."""
    monkeypatch.setattr(registry, "_merge_participants", {})
    monkeypatch.setattr(registry, "_card_sections", {})


@pytest.fixture
def make_customer(db: None) -> Callable[..., Customer]:
    def make(**kwargs: Any) -> Customer:
        return customer_create(actor=None, **kwargs)

    return make


def orders_set(customer: Customer, *, count: int, value: str, last: Any = None) -> None:
    """Order aggregates belong to the orders app; tests set them as its services would."""
    Customer.objects.filter(pk=customer.pk).update(
        orders_count=count,
        lifetime_value=Decimal(value),
        first_order_at=last,
        last_order_at=last,
    )


@pytest.fixture
def viewer(make_user: Callable[..., User]) -> User:
    return make_user(Role.VIEWER, username="viewer")


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return logged_in(viewer)


@pytest.fixture
def participant_calls() -> Iterator[list[tuple[int, int]]]:
    """A merge participant standing in for the orders app: it records its calls."""
    calls: list[tuple[int, int]] = []

    def move(survivor_id: int, duplicate_id: int) -> int:
        calls.append((survivor_id, duplicate_id))
        return 7

    merge_participant_register(move, name="test_orders")
    yield calls
    merge_participant_unregister("test_orders")
