"""A small store shared by the marketing tests: six customers, three products, a history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from procedo.catalog.models import Product, Sku
from procedo.catalog.tests.factories import product_create, sku_create
from procedo.customers.models import Customer
from procedo.customers.services.customers import customer_create
from procedo.customers.services.details import tag_add
from procedo.orders.tests.factories import order_create


@dataclass
class Store:
    customers: dict[str, Customer]
    products: dict[str, Product]
    skus: dict[str, Sku]


def _customer(name: str, email: str, consent: str, **extra: Any) -> Customer:
    return customer_create(
        first_name=name, emails=[email], email_consent=consent, consent_source="test", **extra
    )


@pytest.fixture
def store(db: None) -> Store:
    return store_make()


def store_make() -> Store:
    """Kettle → filter → descaler is the usual path; who bought what, and when:

    olena: kettle (300 d ago), filter (275 d), descaler (240 d)  granted, UA
    taras: kettle (200 d), filter (175 d)                         granted, UA, tag vip
    iryna: kettle (20 d)                                          granted, PL
    petro: kettle (400 d), descaler (390 d)                       denied,  UA
    maria: filter (5 d)                                           unknown, UA
    ivan:  no order                                               granted, UA
    """
    now = timezone.now()
    products = {name: product_create(name=name) for name in ("Kettle", "Filter", "Descaler")}
    prices = {"Kettle": "1200.00", "Filter": "300.00", "Descaler": "150.00"}
    skus = {
        name: sku_create(product=product, price=prices[name], on_hand=100)
        for name, product in products.items()
    }
    people = {
        "olena": _customer("Олена", "olena@example.com", "granted", country="UA"),
        "taras": _customer("Тарас", "taras@example.com", "granted", country="UA"),
        "iryna": _customer("Ірина", "iryna@example.com", "granted", country="PL"),
        "petro": _customer("Петро", "petro@example.com", "denied", country="UA"),
        "maria": _customer("Марія", "maria@example.com", "unknown", country="UA"),
        "ivan": _customer("Іван", "ivan@example.com", "granted", country="UA"),
    }
    tag_add(customer_id=people["taras"].pk, name="VIP", actor=None)
    history = {
        "olena": [("Kettle", 300), ("Filter", 275), ("Descaler", 240)],
        "taras": [("Kettle", 200), ("Filter", 175)],
        "iryna": [("Kettle", 20)],
        "petro": [("Kettle", 400), ("Descaler", 390)],
        "maria": [("Filter", 5)],
    }
    for who, bought in history.items():
        for product, days in bought:
            order_create(
                (skus[product], 1),
                customer=people[who],
                placed_at=now - timedelta(days=days),
                status="delivered",
            )
    fresh = {who: Customer.objects.get(pk=c.pk) for who, c in people.items()}
    return Store(customers=fresh, products=products, skus=skus)


@pytest.fixture
def no_quiet_hours(db: None) -> None:
    quiet_hours_off()


def quiet_hours_off() -> None:
    """Marketing mail goes out whatever the hour the tests run at."""
    from procedo.business.selectors import business_get
    from procedo.business.services import business_update

    business = business_get()
    business_update(
        name=business.name,
        time_zone=business.time_zone,
        currency=business.currency,
        actor_id=None,
        quiet_hours_start=None,
        quiet_hours_end=None,
    )
