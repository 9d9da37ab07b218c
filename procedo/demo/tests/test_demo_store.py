"""The demo store's generated trade: sizes, statuses, duplicates, figures, determinism, once only.

One small store is loaded per module (inside a transaction rolled back at the end) with a
fixed `now`; the full-size plan is checked without the database.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from django.db import transaction
from django.db.models import Count

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.catalog.models import Product, Sku
from procedo.customers.models import Customer, Identity
from procedo.customers.selectors import customer_duplicates
from procedo.demo.commerce import (
    FULL_SIZE,
    DemoCommerceSummary,
    DemoPlan,
    DemoSizes,
    demo_commerce_load,
    demo_plan,
)
from procedo.demo.load import DEMO_STAFF, demo_store_load
from procedo.events.models import Event
from procedo.orders.models import Order, OrderKind, OrderLine, StatusCategory, StockState
from procedo.orders.services.pipeline import DEFAULT_STATUSES

NOW = datetime(2026, 3, 11, 12, 30, tzinfo=UTC)  # a Wednesday, 14:30 in Kyiv
SIZES = DemoSizes(
    customers=160, orders=500, days=45, live_days=3, duplicate_pairs=6, notes=8, consent_changes=2
)
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoCommerceSummary]:
    # Loaded once for the module; each test runs in a savepoint inside this transaction.
    with django_db_blocker.unblock(), transaction.atomic():
        owner = account_services.user_create(username="owner", password=PASSWORD, role=Role.OWNER)
        staff = {
            username: account_services.user_create(
                username=username, password=PASSWORD, role=role, actor=owner
            )
            for username, _first, _last, role in DEMO_STAFF
        }
        yield demo_commerce_load(owner=owner, staff=staff, sizes=SIZES, now=NOW)
        transaction.set_rollback(True)


pytestmark = pytest.mark.django_db


def _plan_digest(plan: DemoPlan) -> str:
    customers = sorted(
        (c.first_name, c.last_name, c.country, tuple(sorted(c.identities))) for c in plan.customers
    )
    orders = sorted(
        (
            o.number,
            min(o.customer.identities),
            o.status,
            str(o.totals.total),
            o.placed_at.isoformat(),
            len(o.lines),
        )
        for o in plan.orders
    )
    return hashlib.sha256(repr((customers, orders)).encode()).hexdigest()


def _db_digest() -> str:
    identities: dict[int, list[str]] = defaultdict(list)
    for customer_id, value in Identity.objects.values_list("customer_id", "value"):
        identities[customer_id].append(value)
    customers = sorted(
        (first, last, country, tuple(sorted(identities[pk])))
        for pk, first, last, country in Customer.objects.values_list(
            "id", "first_name", "last_name", "country"
        )
    )
    lines: dict[int, int] = defaultdict(int)
    for order_id in OrderLine.objects.values_list("order_id", flat=True):
        lines[order_id] += 1
    orders = sorted(
        (number, min(identities[customer_id]), status, str(total), placed_at.isoformat(), lines[pk])
        for pk, number, customer_id, status, total, placed_at in Order.objects.values_list(
            "id", "number", "customer_id", "status_id", "total", "placed_at"
        )
    )
    return hashlib.sha256(repr((customers, orders)).encode()).hexdigest()


def test_the_full_size_plan_has_the_promised_sizes() -> None:
    plan = demo_plan(now=NOW)
    skus = [sku for product in plan.products for sku in product.skus]
    live = [order for order in plan.orders if plan.order_is_live(order)]
    assert len(plan.customers) == FULL_SIZE.customers == 3000
    assert 8000 <= len(plan.orders) <= 12_000
    assert 55 <= len(plan.products) <= 65 and 130 <= len(skus) <= 170
    assert 100 <= len(live) <= 900  # the last days, placed through the services
    assert len(plan.duplicates) == 40
    assert {o.status for o in plan.orders} == {code for code, *_rest in DEFAULT_STATUSES}
    assert all(1 <= len(o.lines) <= 4 for o in plan.orders)
    countries = [c.country for c in plan.customers]
    assert countries.count("UA") > len(countries) / 2
    assert {"PL", "DE", "GB", "US"} <= set(countries)
    emails = [c.email for c in plan.customers]
    assert len(set(emails)) == len(emails)
    phones = [c.phone for c in plan.customers if c.phone]
    assert len(set(phones)) == len(phones)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(phone)) for phone in phones)
    assert any("а" <= ch <= "я" for c in plan.customers[:50] for ch in c.last_name)


@pytest.mark.parametrize("hour", [9, 14, 19, 23])
def test_the_latest_orders_wait_to_be_confirmed_at_any_hour(hour: int) -> None:
    """An owner opening the demo finds new orders to take, in the evening too."""
    now = datetime(2026, 12, 7, hour, 30, tzinfo=ZoneInfo("Europe/Kyiv"))
    plan = demo_plan(now=now, sizes=SIZES)
    latest = plan.orders[-3:]
    assert [order.status for order in latest] == ["new"] * 3
    assert all(plan.order_is_live(order) for order in latest)


def test_loading_writes_the_planned_sizes(demo: DemoCommerceSummary) -> None:
    plan = demo_plan(now=NOW, sizes=SIZES)
    assert demo.loaded
    assert demo.customers == Customer.objects.count() == SIZES.customers
    assert demo.orders == Order.objects.count() == SIZES.orders
    assert demo.products == Product.objects.count() == len(plan.products)
    assert demo.skus == Sku.objects.count() == sum(len(p.skus) for p in plan.products)
    assert demo.payments and demo.shipments and demo.returns and demo.refunds
    # The last days went through the services, the history was written in bulk.
    assert Event.objects.filter(event_type="order.created").count() == demo.live_orders > 0
    imported = Event.objects.filter(event_type="order.imported").count()
    assert imported == demo.orders - demo.live_orders
    assert set(OrderLine.objects.values_list("order_id", flat=True)) == set(
        Order.objects.values_list("id", flat=True)
    )
    # Every customer's timeline has something on it.
    with_events = set(Event.objects.exclude(customer_id=None).values_list("customer_id", flat=True))
    assert set(Customer.objects.values_list("id", flat=True)) <= with_events


def test_every_status_of_the_default_pipeline_has_orders(demo: DemoCommerceSummary) -> None:
    counts = dict(Order.objects.values_list("status_id").annotate(n=Count("id")).order_by())
    assert {code for code, *_rest in DEFAULT_STATUSES} <= counts.keys()


def test_the_duplicates_page_finds_the_planted_pairs(demo: DemoCommerceSummary) -> None:
    found = {(pair.older.pk, pair.newer.pk) for pair in customer_duplicates(limit=500).pairs}
    assert len(demo.duplicate_pairs) == SIZES.duplicate_pairs
    # Exactly those: no two other customers look alike by accident.
    assert found == set(demo.duplicate_pairs)


def test_customer_figures_equal_a_recomputation_from_the_orders(demo: DemoCommerceSummary) -> None:
    # Cancelled orders do not count; a return document would count against the value;
    # a returned sale counts as an order but adds nothing to the value.
    value: dict[int, Decimal] = defaultdict(Decimal)
    placed: dict[int, list[datetime]] = defaultdict(list)
    rows = Order.objects.exclude(status__category=StatusCategory.CANCELLED).values_list(
        "customer_id", "kind", "total", "placed_at", "status__category"
    )
    for customer_id, kind, total, placed_at, category in rows:
        if not (kind == OrderKind.SALE and category == StatusCategory.RETURNED):
            value[customer_id] += -total if kind == OrderKind.RETURN else total
        if kind == OrderKind.SALE:
            placed[customer_id].append(placed_at)
    customers = list(
        Customer.objects.values_list(
            "id", "orders_count", "lifetime_value", "first_order_at", "last_order_at"
        )
    )
    assert sum(orders for _pk, orders, *_rest in customers) > SIZES.orders * 0.8
    for pk, orders, lifetime, first, last in customers:
        times = placed[pk]
        assert (orders, lifetime, first, last) == (
            len(times),
            value[pk],
            min(times, default=None),
            max(times, default=None),
        ), pk


def test_the_same_seed_makes_the_same_store(demo: DemoCommerceSummary) -> None:
    plan = demo_plan(now=NOW, sizes=SIZES)
    assert _db_digest() == _plan_digest(plan)
    assert _plan_digest(demo_plan(now=NOW, sizes=SIZES)) == _plan_digest(plan)
    assert _plan_digest(demo_plan(now=NOW, sizes=SIZES, seed=7)) != _plan_digest(plan)


def test_stock_held_is_what_the_open_orders_reserved(demo: DemoCommerceSummary) -> None:
    held: dict[int, int] = defaultdict(int)
    for sku_id, quantity in OrderLine.objects.filter(
        order__stock_state=StockState.RESERVED
    ).values_list("sku_id", "quantity"):
        held[sku_id] += quantity
    assert held
    skus = Sku.objects.values_list("id", "reserved", "on_hand", "allow_backorder")
    for sku_id, reserved, on_hand, backorder in skus:
        assert reserved == held.get(sku_id, 0)
        assert on_hand >= reserved or backorder  # gift certificates are sold without stock


def test_nothing_is_stamped_after_now(demo: DemoCommerceSummary) -> None:
    # The services stamp with the clock; the loader moves every stamp to its step's time.
    demo_events = Event.objects.exclude(subject_type__in=["user", "team"])
    assert not demo_events.filter(occurred_at__gt=NOW).exists()
    assert not Order.objects.filter(created_at__gt=NOW).exists()
    assert not Customer.objects.filter(created_at__gt=NOW).exists()


def test_loading_twice_does_not_load_twice(demo: DemoCommerceSummary) -> None:
    owner = User.objects.get(username="owner")
    again = demo_commerce_load(owner=owner, staff={}, sizes=SIZES, now=NOW)
    assert again == DemoCommerceSummary(loaded=False)
    assert demo_store_load() is None  # accounts exist: the demo is not loaded at all
    assert Customer.objects.count() == SIZES.customers
    assert Order.objects.count() == SIZES.orders
