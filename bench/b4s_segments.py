"""B4S: a segment's live count at a million customers, one query, against the same SQL raw.

1,000,000 customers at scale 1 (scaled down proportionally), each with an email
identity (three in five consenting), one order of one line in a product of one of
eight categories, and an RFM score. Two segments are counted as the editor counts
them (`customers_preview`'s count: the rules compiled and run): one of six rules
that must all hold (country, consent, order count, last order, category bought in
the last year, RFM group), and one of three any of which may. Each count must be
one query; its median and p95 over the runs are printed, with the ratio of the same
SQL on a raw cursor to it (goal: the selector costs at most 1.2× the SQL, ratio
>= 0.83). Nothing is asserted about time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.b3_sweeps import _ago, _series
from procedo.marketing import rules, selectors

N = 1_000_000
RUNS = 21  # the p95 of 21 runs is the second slowest
RAW_RUNS = 5  # the raw SQL's median only
CATEGORIES = 8
PRODUCTS = 40


def _insert_series(model: Any, n: int, exprs: dict[str, str]) -> None:
    """INSERT n rows of `model` in one statement: `exprs` (SQL over i) for some columns, the
    primary key among them if given, each field's default for the other NOT NULL ones."""
    q = connection.ops.quote_name
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.column in exprs:
            columns.append(q(field.column))
            values.append(exprs[field.column])
        elif not field.primary_key and not field.null and field.has_default():
            columns.append(q(field.column))
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(model._meta.db_table)} ({', '.join(columns)})"
            f" SELECT {', '.join(values)} FROM ({_series(n)}) AS series",
            params,  # `%%` in the expressions is the modulo operator
        )


def _fill(n: int) -> tuple[int, int]:
    """n customers, identities, orders, order lines and RFM rows, one statement each;
    returns the first and last customer id. Only integer constants are formatted in."""
    from procedo.catalog.models import Product, Sku
    from procedo.customers.models import Customer, Identity
    from procedo.marketing.models import CustomerRfm
    from procedo.orders.models import Order, OrderLine
    from procedo.orders.services.pipeline import order_pipeline_defaults_install

    order_pipeline_defaults_install()
    products = Product.objects.bulk_create(
        Product(name=f"B4S product {i}", category=f"Category {i % CATEGORIES}")
        for i in range(PRODUCTS)
    )
    skus = Sku.objects.bulk_create(
        Sku(product=product, code=f"B4S-{product.pk}", price=100, currency="UAH")
        for product in products
    )
    first_sku = min(sku.pk for sku in skus)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM customers_customer")
        base = int(cursor.fetchone()[0])
    last = _ago(f"((CAST(i AS BIGINT) * 7919) %% {400 * 86_400})")
    groups = "CASE (i / 7) %% 4 WHEN 0 THEN 'at_risk' WHEN 1 THEN 'loyal' WHEN 2 THEN 'hibernating'"
    with transaction.atomic():
        _insert_series(
            Customer,
            n,
            {
                "id": f"{base} + i",
                "first_name": "'B4S'",
                "last_name": "'Customer ' || i",
                "country": "CASE WHEN i %% 5 = 0 THEN 'PL' ELSE 'UA' END",
                "created_at": last,
                "first_order_at": last,
                "last_order_at": last,
                "orders_count": "1 + i %% 6",
                "lifetime_value": "100 * (1 + i %% 6)",
            },
        )
        _insert_series(
            Identity,
            n,
            {
                "customer_id": f"{base} + i",
                "kind": "'email'",
                "value": "'b4s.' || i || '@example.com'",
                "marketing_consent": "CASE WHEN i %% 5 < 3 THEN 'granted' ELSE 'unknown' END",
            },
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM orders_order")
            orders = int(cursor.fetchone()[0])
        _insert_series(
            Order,
            n,
            {
                "id": f"{orders} + i",
                "number": "'B4S-' || i",
                "customer_id": f"{base} + i",
                "status": "'delivered'",
                "currency": "'UAH'",
                "subtotal": "100",
                "discount_total": "0",
                "shipping_total": "0",
                "total": "100",
                "placed_at": last,
                "status_changed_at": last,
                "created_at": last,
            },
        )
        _insert_series(
            OrderLine,
            n,
            {
                "order_id": f"{orders} + i",
                "sku_id": f"{first_sku} + i %% {PRODUCTS}",
                "description": "'B4S'",
                "quantity": "1",
                "unit_price": "100",
                "line_total": "100",
            },
        )
        _insert_series(
            CustomerRfm,
            n,
            {
                "customer_id": f"{base} + i",
                "last_order_at": last,
                "frequency": "1 + i %% 6",
                "monetary": "100",
                "r": "1 + i %% 5",
                "f": "1 + i %% 5",
                "m": "1 + i %% 5",
                "group": f"{groups} ELSE 'champions' END",
                "computed_at": last,
            },
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return base + 1, base + n


SEGMENTS: list[tuple[str, str, list[dict[str, Any]]]] = [
    (
        "all of 6 rules",
        "all",
        [
            {"field": "country", "op": "eq", "value": "UA"},
            {"field": "email_consent", "op": "eq", "value": "granted"},
            {"field": "orders_count", "op": "gte", "value": "2"},
            {"field": "last_order_at", "op": "older_than_days", "value": 60},
            {"field": "category_bought", "op": "has", "value": "Category 3", "days": 365},
            {"field": "rfm_group", "op": "in", "value": ["at_risk", "hibernating"]},
        ],
    ),
    (
        "any of 3 rules",
        "any",
        [
            {"field": "category_bought", "op": "has", "value": "Category 5", "days": 90},
            {"field": "rfm_group", "op": "eq", "value": "champions"},
            {"field": "country", "op": "eq", "value": "PL"},
        ],
    ),
]


def _times(run: Callable[[], int], runs: int) -> tuple[list[float], int]:
    run()  # warm-up: the pages the count reads are in the cache, as while editing
    times, found = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        found = run()
        times.append(time.perf_counter() - started)
    return times, found


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, round(len(times) * 0.95) - 1)]


def run(*, scale: float) -> None:
    n = max(1_000, int(N * scale))
    started = time.perf_counter()
    _fill(n)
    print(f"  B4S  {n:,} customers, orders, lines and RFM rows made in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    for label, match, raw_rules in SEGMENTS:
        cleaned = rules.rules_clean(raw_rules)

        # One moment for every run: "in the last 90 days" moves with the clock, and an
        # order crossing it between two runs would change the count under the benchmark.
        now = timezone.now()

        def count(
            cleaned: list[dict[str, Any]] = cleaned, match: str = match, now: datetime = now
        ) -> int:
            return selectors.customers_matching(cleaned, match, now=now).count()

        with CaptureQueriesContext(connection) as captured:
            expected = count()
        queries = len(captured.captured_queries)
        sql = captured.captured_queries[-1]["sql"]

        def raw(sql: str = sql) -> int:
            with connection.cursor() as cursor:
                cursor.execute(sql)  # the statement Django ran, its values inlined
                return int(cursor.fetchone()[0])

        times, found = _times(count, RUNS)
        raw_times, raw_found = _times(raw, RAW_RUNS)
        assert found == raw_found == expected, (found, raw_found, expected)
        ratio = statistics.median(raw_times) / statistics.median(times)
        print(
            f"  B4S  segment count, {label:<15} {found:>9,} of {n:,}  {queries} query"
            f"  median {statistics.median(times) * 1000:8.1f} ms  p95 {_p95(times) * 1000:8.1f} ms"
            f"  raw SQL median {statistics.median(raw_times) * 1000:8.1f} ms"
            f"  ratio {ratio:4.2f}  (goal 1 query, ratio >= 0.83)"
        )
