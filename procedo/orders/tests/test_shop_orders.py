"""New shop orders by the batch (orders_take_many): all or nothing, and only what it takes.

Its end state against the one-at-a-time path is held on real payloads in
procedo/integrations/tests/test_batching.py; here, what it refuses.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import DomainError
from procedo.events.models import Event
from procedo.orders.models import Order
from procedo.orders.services.lines import DeliveryIn, OrderLineIn
from procedo.orders.services.shop_orders import ShopOrderIn, ShopShipmentIn, orders_take_many

pytestmark = pytest.mark.django_db


def _order(n: int, **changes: object) -> ShopOrderIn:
    fields: dict[str, object] = {
        "external_ref": f"test/1:order:{n}",
        "lines": [OrderLineIn(quantity=1, sku_code="SHOP-1", unit_price=Decimal("250.00"))],
        "customer_id": None,
        "currency": "UAH",
        "shipping": Decimal("0"),
        "discount": Decimal("0"),
        "placed_at": None,
        "channel": "shopify",
        "source": f"Shop #{n}",
        "note": "",
        "delivery": DeliveryIn(),
        **changes,
    }
    return ShopOrderIn(**fields)  # type: ignore[arg-type]


def test_one_order_refused_writes_none_and_names_it() -> None:
    sku_create(code="SHOP-1")
    events = Event.objects.count()
    with pytest.raises(DomainError) as refused:
        orders_take_many(orders=[_order(1), _order(2, currency="US")])
    assert refused.value.field == "orders.1.currency"
    with pytest.raises(DomainError) as refused:
        orders_take_many(orders=[_order(1), _order(2, lines=[])])
    assert refused.value.field == "orders.1.lines"
    huge = [OrderLineIn(quantity=10**12, sku_code="SHOP-1", unit_price=Decimal("1.00"))]
    with pytest.raises(DomainError) as refused:  # a shop's payload has no schema before it
        orders_take_many(orders=[_order(1, lines=huge)])
    assert refused.value.field == "orders.0.lines.0.quantity"
    assert Order.objects.count() == 0 and Event.objects.count() == events


def test_what_moves_stock_or_the_order_is_not_taken_here() -> None:
    """A caller sends those one at a time: a move to shipped consumes stock, a parcel
    delivered moves the order. The batch refuses before writing anything."""
    sku_create(code="SHOP-1")
    with pytest.raises(ValueError, match="not taken here"):
        orders_take_many(orders=[_order(1, status_path=["confirmed", "packed", "shipped"])])
    delivered = ShopShipmentIn("Nova Poshta", "204500", "delivered", None, "k:created", "k:d")
    with pytest.raises(ValueError, match="not taken here"):
        orders_take_many(orders=[_order(1, shipments=[delivered])])
    with pytest.raises(ValueError, match="not taken here"):
        orders_take_many(orders=[_order(1, status_path=["packed"])])  # no such move from new
    assert Order.objects.count() == 0
    taken = orders_take_many(orders=[_order(1, status_path=["confirmed", "packed"])])
    assert [order.status_id for order in taken] == ["packed"]
    assert Order.objects.get().confirmed_at is not None
