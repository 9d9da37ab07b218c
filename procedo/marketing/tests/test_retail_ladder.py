"""The product ladder and RFM on real history: a hundredth of the retail file's customers,
imported as any shop's file would be; the ladder's SQL checked against plain Python."""

from __future__ import annotations

import csv
import gzip
import statistics
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from django.core.management import call_command

from procedo.analytics.tests.test_retail import RETAIL
from procedo.business.services import business_update
from procedo.customers.models import Customer
from procedo.marketing.models import CustomerRfm, LadderStep
from procedo.marketing.services import ladder as ladder_services
from procedo.marketing.services import rfm as rfm_services
from procedo.orders.models import Order, OrderLine

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.skipif(
        not RETAIL.exists(), reason="../shared/data/retail is not beside the project"
    ),
]


def _import(path: Path) -> None:
    with gzip.open(RETAIL, "rt", encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        rows = [row for row in reader if row["CustomerID"].endswith("77")]
        fields = reader.fieldnames or []
    with open(path, "w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    call_command(
        "import", "orders", str(path), "--source", "retail", "--currency", "GBP",
        "--timezone", "Europe/London",
    )  # fmt: skip


def _expected() -> dict[tuple[int, int], tuple[int, int]]:
    """(product, next product) -> (customers, median days), read order by order in Python."""
    orders: dict[int, list[Order]] = defaultdict(list)
    for order in Order.objects.filter(kind="sale", customer__isnull=False).exclude(
        status__category="cancelled"
    ):
        assert order.customer_id is not None
        orders[order.customer_id].append(order)
    products: dict[int, set[int]] = defaultdict(set)
    for order_id, product_id in OrderLine.objects.filter(sku__isnull=False).values_list(
        "order_id", "sku__product_id"
    ):
        products[order_id].add(product_id)
    days: dict[tuple[int, int], set[tuple[int, int]]] = defaultdict(set)
    for customer_id, theirs in orders.items():
        bought = sorted((o for o in theirs if products[o.pk]), key=lambda o: (o.placed_at, o.pk))
        for first, then in pairwise(bought):
            gap = (then.placed_at - first.placed_at).days
            for a in products[first.pk]:
                for b in products[then.pk] - {a}:
                    days[(a, b)].add((customer_id, gap))
    return {
        pair: (len({c for c, _g in seen}), round(statistics.median(g for _c, g in seen)))
        for pair, seen in days.items()
    }


def test_the_ladder_and_rfm_on_the_retail_file(tmp_path: Path) -> None:
    business_update(name="Gift shop", time_zone="Europe/London", currency="GBP", actor_id=None)
    _import(tmp_path / "retail-hundredth.csv")
    ladder_services.ladder_compute()
    expected = _expected()
    steps = list(LadderStep.objects.filter(manual=False))
    assert len(steps) > 100
    for step in steps:
        customers, median = expected[(step.product_id, step.next_product_id)]
        assert step.customers == customers
        # SQL rounds half away from zero, Python half to even: at most a day apart.
        assert step.median_days is not None and abs(step.median_days - median) <= 1
    # Each product's first step is the pair most customers took.
    most: dict[int, int] = defaultdict(int)
    for (product, _next), (customers, _median) in expected.items():
        most[product] = max(most[product], customers)
    firsts = [s for s in steps if s.position == 1]
    assert {s.product_id: s.customers for s in firsts} == {p: most[p] for p in most}

    result = rfm_services.rfm_refresh()
    buyers = Customer.objects.filter(orders_count__gt=0, merged_into__isnull=True).count()
    assert result["scored"] == buyers == CustomerRfm.objects.count() > 20
    assert set(CustomerRfm.objects.values_list("r", flat=True)) == {1, 2, 3, 4, 5}
