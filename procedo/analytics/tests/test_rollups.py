"""The daily sales rollup: kept by its consumer from the orders' events, a late order and a
return land on their own day, readers are never behind it, and it adds up to the catalog."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from procedo.analytics.kpis import KPIS
from procedo.analytics.models import SalesDay
from procedo.analytics.periods import Period
from procedo.analytics.rollups import (
    CONSUMER,
    sales_days,
    sales_days_consume,
    sales_days_ensure,
)
from procedo.analytics.selectors import sales_readings
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.customers.models import Customer
from procedo.orders.models import Order
from procedo.orders.tests.factories import customer_create, move, order_create
from procedo.testing import consumer_catch_up

KYIV = ZoneInfo("Europe/Kyiv")
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quiet")]


@pytest.fixture(autouse=True)
def store() -> None:
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)


def _sale(customer: Customer, price: str, when: datetime, **extra: object) -> Order:
    sku = sku_create(price=price, on_hand=100)
    return order_create((sku, 1), customer=customer, placed_at=when, status="delivered", **extra)


def _at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=KYIV)


def _catch_up() -> None:
    consumer_catch_up(name=CONSUMER, handler=sales_days_consume)


def _kept() -> dict[tuple[date, str], tuple[int, int, int, int]]:
    return {
        (row.day, row.channel): (row.revenue_cents, row.documents, row.orders, row.sales_cents)
        for row in SalesDay.objects.all()
    }


def test_a_late_order_and_a_return_change_their_own_day() -> None:
    olha = customer_create("Ольга")
    _sale(olha, "100.00", _at(1), channel="instagram")
    second = _sale(olha, "50.00", _at(2))
    sales_days_ensure()
    _catch_up()
    assert _kept() == {
        (date(2025, 3, 1), "instagram"): (10000, 1, 1, 10000),
        (date(2025, 3, 2), ""): (5000, 1, 1, 5000),
    }

    # Placed on the 1st at 23:30 in Kyiv (21:30 UTC), arriving days later.
    _sale(olha, "20.05", _at(1, 23, 30), channel="instagram")
    # The reader counts it before the consumer has: that day comes from the orders.
    assert sales_days(first=date(2025, 3, 1), last=date(2025, 3, 3))[date(2025, 3, 1)].revenue == (
        Decimal("120.05")
    )
    assert _kept()[(date(2025, 3, 1), "instagram")] == (10000, 1, 1, 10000)
    _catch_up()
    assert _kept()[(date(2025, 3, 1), "instagram")] == (12005, 2, 2, 12005)

    # Returned whole: still an order of its day, worth nothing; the 1st is untouched.
    move(second, "returned")
    _catch_up()
    assert _kept()[(date(2025, 3, 2), "")] == (0, 0, 1, 5000)
    assert _kept()[(date(2025, 3, 1), "instagram")] == (12005, 2, 2, 12005)

    march = Period(first=date(2025, 3, 1), last=date(2025, 3, 31), zone=KYIV)
    readings = sales_readings(period=march)
    for code in ("revenue", "orders", "average_order_value"):
        assert readings[code].now == KPIS[code].measure(march, None), code
    assert readings["revenue"].now.value == Decimal("120.05")
    assert readings["average_order_value"].now.value == Decimal("56.68")  # 170.05 / 3
    by_channel = sales_readings(period=march, channel="instagram")
    assert by_channel["orders"].now.value == 2


def test_readers_of_a_caught_up_rollup_read_it_and_not_the_orders(
    django_assert_num_queries: object,
) -> None:
    _sale(customer_create(), "10.00", _at(5))
    sales_days_ensure()
    _catch_up()
    # Rows the orders do not have: only a reader of the rollup can see them.
    SalesDay.objects.filter(day=date(2025, 3, 5)).update(revenue_cents=777)
    # The business, the basis, the cursor, the days not caught up on, the rollup.
    with django_assert_num_queries(5):  # type: ignore[operator]
        found = sales_days(first=date(2025, 3, 1), last=date(2025, 3, 31))
    assert found[date(2025, 3, 5)].revenue_cents == 777


def test_a_new_time_zone_counts_every_day_again() -> None:
    _sale(customer_create(), "10.00", _at(5, 1, 30))  # 23:30 on the 4th in London
    sales_days_ensure()
    assert list(_kept()) == [(date(2025, 3, 5), "")]
    business_update(name="Чайна лавка", time_zone="Europe/London", currency="UAH", actor_id=None)
    # Until it is rebuilt the rollup is not trusted: the reader counts from the orders.
    assert list(sales_days(first=date(2025, 3, 1), last=date(2025, 3, 31))) == [date(2025, 3, 4)]
    assert sales_days_ensure() is True
    assert list(_kept()) == [(date(2025, 3, 4), "")]
