"""The search box finds an order by its number, the shop's reference or a tracking number."""

from __future__ import annotations

import pytest

from procedo.accounts.models import User
from procedo.catalog.tests.plans import assert_uses_index, captured_sql
from procedo.home.search import search_everywhere
from procedo.orders.search import _find_orders
from procedo.orders.services.shipments import shipment_create
from procedo.orders.tests.factories import customer_create, order_create

pytestmark = pytest.mark.django_db


def _orders_found(query: str, user: User) -> list[str]:
    results = {str(p.label): hits for p, hits in search_everywhere(query=query, user=user)}
    return [hit.title for hit in results["Orders"]]


def test_an_order_is_found_by_its_tracking_number_typed_any_way(owner: User) -> None:
    parcel = order_create(customer=customer_create("Ірина"))
    shipment_create(
        order_id=parcel.pk,
        carrier="Нова пошта",
        tracking_number="20450123456789",
        actor=None,
        idempotency_key=None,
    )
    letter = order_create()
    shipment_create(
        order_id=letter.pk,
        carrier="Укрпошта",
        tracking_number="RR123456789UA",
        actor=None,
        idempotency_key=None,
    )
    for query in ("20450123456789", "20 4501 2345 6789", "  20450123456789 "):
        assert _orders_found(query, owner) == [f"#{parcel.number}"]
    assert _orders_found("rr123456789ua", owner) == [f"#{letter.number}"]
    assert _orders_found(f"#{letter.number}", owner) == [f"#{letter.number}"]
    # A part of a number is not a number: exact matches only, each an index seek.
    assert _orders_found("2045012345", owner) == []


def test_the_tracking_number_lookup_seeks_its_index() -> None:
    sql = captured_sql(lambda: _find_orders("RR123456789UA", 5), table="orders_shipment")
    assert_uses_index(sql, table="orders_shipment", index="shipment_tracking_number")
