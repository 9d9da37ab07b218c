"""The KPI catalog on hand-made orders: which documents count, exact money, the time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from procedo.analytics.kpis import KPIS
from procedo.analytics.periods import Period, period_clean
from procedo.analytics.selectors import cohort_retention, kpi_read
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import DomainError
from procedo.customers.models import Customer
from procedo.orders.models import Order, OrderKind
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.tests.factories import customer_create, move, order_create

KYIV = ZoneInfo("Europe/Kyiv")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def store() -> None:
    order_pipeline_defaults_install()
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)


def _at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=KYIV)


def _sale(
    customer: Customer | None,
    price: str,
    when: datetime,
    status: str = "delivered",
    **extra: object,
) -> Order:
    return order_create(
        (sku_create(price=price, on_hand=100, currency=str(extra.pop("currency", "UAH"))), 1),
        customer=customer,
        placed_at=when,
        status=status,
        currency=extra.pop("currency_of_order", None),
        **extra,
    )


def _month(year: int, month: int) -> Period:
    first = date(year, month, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return Period(first=first, last=last, zone=KYIV)


def test_revenue_counts_sales_kept_in_the_business_currency_to_the_cent() -> None:
    anna, bohdan = customer_create("Анна"), customer_create("Богдан")
    _sale(anna, "100.10", _at("2025-03-01"))
    _sale(anna, "200.20", _at("2025-03-20"))
    # 23:30 in Kyiv on the 31st is still March there (21:30 UTC); 00:30 on 1 April is not.
    _sale(bohdan, "50.05", _at("2025-03-31", 23, 30))
    _sale(bohdan, "999.00", _at("2025-04-01", 0, 30))
    cancelled = _sale(bohdan, "999.00", _at("2025-03-10"), status="new")
    move(cancelled, "cancelled")
    # Returned whole: an order placed, worth nothing.
    _sale(bohdan, "70.00", _at("2025-03-11"), status="returned")
    _sale(None, "0.00", _at("2025-03-12"))  # a free sample is not an order
    _sale(None, "500.00", _at("2025-03-13"), currency="USD", currency_of_order="USD")

    march = _month(2025, 3)
    revenue = kpi_read(code="revenue", period=march)
    assert revenue.now.value == Decimal("350.35")
    orders = kpi_read(code="orders", period=march)
    assert orders.now.value == 4  # the returned one was an order
    aov = kpi_read(code="average_order_value", period=march)
    assert aov.now.value == Decimal("105.09")  # (100.10 + 200.20 + 50.05 + 70.00) / 4
    assert kpi_read(code="revenue", period=_month(2025, 4)).now.value == Decimal("999.00")
    # February had nothing: no change can be computed against it.
    assert revenue.before.value == 0 and revenue.change is None


def test_a_return_document_is_negative_revenue_in_its_own_month(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "order_number,placed_at,sku,description,quantity,unit_price,email\n"
        "A1,2025-05-02 10:00,MUG,Mug,3,10.10,olha@example.com\n"
        "C-A1,2025-06-03 10:00,MUG,Mug,-1,10.10,olha@example.com\n",
        encoding="utf-8",
    )
    call_command("import", "orders", str(path), "--source", "shop", "--currency", "UAH")
    assert Order.objects.filter(kind=OrderKind.RETURN).count() == 1
    assert kpi_read(code="revenue", period=_month(2025, 5)).now.value == Decimal("30.30")
    assert kpi_read(code="revenue", period=_month(2025, 6)).now.value == Decimal("-10.10")
    # A credit note is not an order.
    assert kpi_read(code="orders", period=_month(2025, 6)).now.value == 0
    lifetime = kpi_read(code="lifetime_value", period=_month(2025, 6))
    assert (lifetime.now.value, lifetime.now.base) == (Decimal("20.20"), 1)


def test_repeat_purchase_waits_for_the_window_and_counts_the_second_order_only() -> None:
    back, once, late = customer_create("Віра"), customer_create("Олег"), customer_create("Ліна")
    _sale(back, "10.00", _at("2025-01-05"))
    _sale(back, "10.00", _at("2025-02-20"))  # 46 days later: back within 90
    _sale(once, "10.00", _at("2025-01-10"))
    _sale(late, "10.00", _at("2025-01-15"))
    _sale(late, "10.00", _at("2025-06-15"))  # 151 days later: not within 90
    january = _month(2025, 1)
    rate = kpi_read(code="repeat_purchase_rate", period=january, window=90)
    assert (rate.now.value, rate.now.base) == (Decimal("33.33"), 3)
    wider = kpi_read(code="repeat_purchase_rate", period=january, window=200)
    assert wider.now.value == Decimal("66.67")
    # Someone whose first order was yesterday cannot have failed to come back yet.
    recent = customer_create("Ніна")
    _sale(recent, "10.00", datetime.now(tz=KYIV) - timedelta(days=1))
    today = date.today()
    this_month = Period(first=today.replace(day=1), last=today, zone=KYIV)
    assert kpi_read(code="repeat_purchase_rate", period=this_month, window=90).now.base == 0
    # Spend in the first 30 days: the second order of "back" is past it, the rest is the first.
    spend = kpi_read(code="first_month_spend", period=january)
    assert (spend.now.value, spend.now.base) == (Decimal("10.00"), 3)


def test_churn_and_reactivation_look_back_from_the_period() -> None:
    gone, stays, returns = customer_create("А"), customer_create("Б"), customer_create("В")
    _sale(gone, "10.00", _at("2023-01-10"))
    _sale(stays, "10.00", _at("2024-11-01"))
    _sale(returns, "10.00", _at("2023-02-01"))
    _sale(returns, "10.00", _at("2025-01-20"))
    january = _month(2025, 1)
    churn = kpi_read(code="churn_rate", period=january, window=365)
    # At the end of January 2025 "gone" has been silent two years; "returns" just came back.
    assert (churn.now.value, churn.now.base) == (Decimal("33.33"), 3)
    reactivation = kpi_read(code="reactivation_rate", period=january, window=365)
    assert (reactivation.now.value, reactivation.now.base) == (Decimal("50.00"), 2)


def test_confirmation_time_is_the_median_of_the_period_orders() -> None:
    for minutes in (10, 20, 30, 40):
        order = _sale(None, "10.00", _at("2025-03-03"), status="new")
        Order.objects.filter(pk=order.pk).update(
            confirmed_at=order.placed_at + timedelta(minutes=minutes)
        )
    _sale(None, "10.00", _at("2025-03-04"), status="new")  # not confirmed: not measured
    reading = kpi_read(code="order_confirmation_time", period=_month(2025, 3))
    assert (reading.now.value, reading.now.base) == (Decimal("25.0"), 4)


def test_cohorts_show_who_came_back_each_month() -> None:
    a, b = customer_create("А"), customer_create("Б")
    _sale(a, "10.00", _at("2025-01-03"))
    _sale(a, "10.00", _at("2025-03-03"))
    _sale(b, "10.00", _at("2025-01-31", 23, 50))  # January in Kyiv
    _sale(b, "10.00", _at("2025-02-02"))
    cohorts = cohort_retention(
        period=Period(first=date(2025, 1, 1), last=date(2025, 3, 31), zone=KYIV)
    )
    assert [(c.month, c.customers, c.retained) for c in cohorts] == [
        (date(2025, 1, 1), 2, [Decimal("100.0"), Decimal("50.0"), Decimal("50.0")])
    ]


def test_every_kpi_reads_on_an_empty_store_totals_as_zero_the_rest_as_no_data() -> None:
    period = Period(first=date(2025, 1, 1), last=date(2025, 1, 31), zone=KYIV)
    for code in KPIS:
        reading = kpi_read(code=code, period=period)
        if code in ("revenue", "orders"):
            assert reading.enough and reading.now.value == 0, code
        else:
            assert not reading.enough and reading.now.value is None, code


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        (date(2025, 2, 1), date(2025, 1, 1), "last"),
        (date(1900, 1, 1), date(2025, 1, 1), "first"),
        (date(2000, 1, 1), date(2025, 1, 1), "last"),
    ],
)
def test_a_period_that_makes_no_sense_is_refused_naming_the_field(
    first: date, last: date, field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        period_clean(first=first, last=last, zone=KYIV)
    assert refused.value.field == field


def test_unknown_kpi_and_window_out_of_range_are_refused() -> None:
    period = Period(first=date(2025, 1, 1), last=date(2025, 1, 31), zone=KYIV)
    with pytest.raises(DomainError) as unknown:
        kpi_read(code="happiness", period=period)
    assert unknown.value.field == "kpi"
    with pytest.raises(DomainError) as window:
        kpi_read(code="churn_rate", period=period, window=100_000)
    assert window.value.field == "window"
