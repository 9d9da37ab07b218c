from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from procedo.business import services as business_services
from procedo.catalog.tests.factories import sku_create
from procedo.catalog.tests.plans import assert_uses_index, captured_sql
from procedo.orders import selectors
from procedo.orders.selectors import OrderFilters
from procedo.orders.services.returns import ReturnLineIn, return_create
from procedo.orders.services.shipments import shipment_create, shipment_update_status
from procedo.orders.tests.factories import customer_create, key, move, order_create, paid

pytestmark = pytest.mark.django_db
D = Decimal
KYIV = ZoneInfo("Europe/Kyiv")


def test_list_filters_by_status_amount_customer_and_business_day() -> None:
    business_services.business_update(
        name="Shop", time_zone="Europe/Kyiv", currency="UAH", actor_id=None
    )
    cheap, dear = sku_create(price="100.00", on_hand=99), sku_create(price="900.00", on_hand=99)
    customer = customer_create()
    # 23:30 on 1 March in Kyiv is still 1 March there, though 21:30 UTC.
    late_evening = datetime(2026, 3, 1, 23, 30, tzinfo=KYIV)
    a = order_create((cheap, 1), placed_at=late_evening)
    b = order_create((dear, 1), customer=customer, placed_at=late_evening + timedelta(hours=1))
    c = move(order_create((cheap, 3), customer=customer), "cancelled")

    def numbers(**filters: object) -> list[str]:
        page = selectors.order_list(filters=OrderFilters(**filters))  # type: ignore[arg-type]
        return [order.number for order in page.items]

    assert numbers() == [c.number, b.number, a.number]
    assert numbers(status="cancelled") == [c.number]
    assert numbers(customer_id=customer.pk) == [c.number, b.number]
    assert numbers(amount_min=D("200")) == [c.number, b.number]
    assert numbers(amount_min=D("200"), amount_max=D("500")) == [c.number]
    assert numbers(placed_from=date(2026, 3, 1), placed_to=date(2026, 3, 1)) == [a.number]
    assert numbers(placed_from=date(2026, 3, 2), placed_to=date(2026, 3, 2)) == [b.number]


def test_keyset_pages_cover_every_order_once_even_with_equal_times() -> None:
    same_time = timezone.now() - timedelta(days=1)
    made = [order_create(placed_at=same_time) for _ in range(7)]
    seen, cursor = [], None
    while True:
        page = selectors.order_list(cursor=cursor, limit=3)
        seen += [order.pk for order in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted((order.pk for order in made), reverse=True)


def test_list_card_and_customer_orders_have_pinned_query_counts(django_assert_num_queries) -> None:
    customer = customer_create()
    sku = sku_create(on_hand=50)
    orders = [order_create((sku, 2), (sku_create(), 1), customer=customer) for _ in range(4)]
    order = move(orders[0], "confirmed", "packed", "shipped", "delivered")
    paid(order)
    shipment = shipment_create(
        order_id=order.pk, carrier="Нова пошта", actor=None, idempotency_key=key()
    )
    shipment_update_status(
        shipment_id=shipment.pk, status="in_transit", actor=None, idempotency_key=key()
    )
    return_create(
        order_id=order.pk,
        lines=[ReturnLineIn(order.lines.first().pk, 1)],  # type: ignore[union-attr]
        actor=None,
        idempotency_key=key(),
    )

    with django_assert_num_queries(1):
        page = selectors.order_list(limit=10)
        assert [str(o.customer) for o in page.items] == ["Марія"] * 4
        assert {o.status.label for o in page.items} == {"New", "Delivered"}
    with django_assert_num_queries(1):
        assert len(selectors.orders_of_customer(customer_id=customer.pk, limit=3)) == 3
    with django_assert_num_queries(10):
        card = selectors.order_detail(order_id=order.pk)
        assert card is not None
        assert [s.code for s in card.next_statuses] == ["returned"]
        assert len(card.lines) == 2 and len(card.payments) == 1
        assert [c.to_status for c in card.shipments[0].changes] == ["created", "in_transit"]  # type: ignore[attr-defined]
        assert sum(card.returned_by_line.values()) == 1
        assert card.balance_due == D("0.00")
        assert [e.event_type for e in card.timeline.events][:2] == [
            "return.created",
            "shipment.status_changed",
        ]
        assert all(e.actor is None for e in card.timeline.events)
    with django_assert_num_queries(3):
        pipeline = selectors.pipeline_get()
        assert pipeline.allows("new", "cancelled") and not pipeline.allows("new", "shipped")
        assert pipeline.orders_in == {"new": 3, "delivered": 1}


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (OrderFilters(), "order_placed"),
        (OrderFilters(status="new"), "order_status_placed"),
        (OrderFilters(customer_id=1), "order_customer_placed"),
        (OrderFilters(manager_id=1), "order_manager_placed"),
        (OrderFilters(placed_from=date(2026, 1, 1), placed_to=date(2026, 1, 31)), "order_placed"),
        (OrderFilters(amount_min=D("100"), amount_max=D("500")), "order_placed"),
        (OrderFilters(status="new", placed_from=date(2026, 1, 1)), "order_status_placed"),
    ],
)
def test_every_list_query_is_served_by_an_index(filters: OrderFilters, index: str) -> None:
    order_create()
    sql = captured_sql(
        lambda: selectors.order_list(filters=filters, limit=50, zone=KYIV), table="orders_order"
    )
    assert_uses_index(sql, table="orders_order", index=index)


def test_the_next_page_query_is_served_by_an_index() -> None:
    for _ in range(3):
        order_create()
    first = selectors.order_list(limit=1)
    assert first.next_cursor
    sql = captured_sql(
        lambda: selectors.order_list(cursor=first.next_cursor, limit=1), table="orders_order"
    )
    assert_uses_index(sql, table="orders_order", index="order_placed")
    sql = captured_sql(
        lambda: selectors.order_list(
            filters=OrderFilters(status="new"), cursor=first.next_cursor, limit=1
        ),
        table="orders_order",
    )
    assert_uses_index(sql, table="orders_order", index="order_status_placed")
    sql = captured_sql(
        lambda: selectors.orders_of_customer(customer_id=1, limit=10), table="orders_order"
    )
    assert_uses_index(sql, table="orders_order", index="order_customer_placed")
