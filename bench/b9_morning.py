"""B9: the owner's morning page at a million customers and three million orders.

1,000,000 customers and 3,000,000 orders at scale 1 (scaled down proportionally), made
set-based as B4S makes its million: orders over the last two years through four channels,
one in fifty still waiting in a status that needs work (new, confirmed, packed, shipped), a
few cancelled and returned. The daily sales rollup the page reads is built as the nightly
task builds it, and its consumer's cursor set to the end of the log, as a worker that has
caught up leaves it. Then the home page is requested as the owner through Django's test
client, RUNS times after a warm-up; its p50 and p95 are printed (goal p95 < 200 ms), with
the number of queries one request makes. Nothing is asserted about time.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from django.db import connection, transaction
from django.test import Client

from bench.b3_sweeps import _ago
from bench.b4s_segments import _insert_series

CUSTOMERS = 1_000_000
ORDERS_PER_CUSTOMER = 3
RUNS = 40
TWO_YEARS = 730 * 86_400

# Order k of customer (k mod n): spread over two years by a multiplicative step, so each
# customer's orders fall on different days and every day of the span has sales.
_STATUS = (
    "CASE WHEN i %% 50 = 0 THEN (CASE (i / 50) %% 4 WHEN 0 THEN 'new' WHEN 1 THEN 'confirmed'"
    " WHEN 2 THEN 'packed' ELSE 'shipped' END)"
    " WHEN i %% 97 = 0 THEN 'cancelled' WHEN i %% 89 = 0 THEN 'returned' ELSE 'delivered' END"
)
_CHANNEL = "CASE i %% 4 WHEN 0 THEN 'web' WHEN 1 THEN 'instagram' WHEN 2 THEN 'phone' ELSE '' END"


def _fill(customers: int) -> None:
    from procedo.business.services import business_update
    from procedo.customers.models import Customer
    from procedo.orders.models import Order
    from procedo.orders.services.pipeline import order_pipeline_defaults_install

    order_pipeline_defaults_install()
    business_update(name="B9 shop", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    orders = customers * ORDERS_PER_CUSTOMER
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM customers_customer")
        base = int(cursor.fetchone()[0])
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM orders_order")
        first_order = int(cursor.fetchone()[0])
    # Waiting orders are the recent ones (the last 10 days); the rest anywhere in two years.
    placed = _ago(
        f"CASE WHEN i %% 50 = 0 THEN (CAST(i AS BIGINT) * 7919) %% 864000"
        f" ELSE (CAST(i AS BIGINT) * 7919) %% {TWO_YEARS} END"
    )
    first = _ago(f"{TWO_YEARS} - (i %% 86400)")
    last = _ago("(CAST(i AS BIGINT) * 7919) %% 864000")
    total = "(100 + (i %% 37) * 25)"
    with transaction.atomic():
        _insert_series(
            Customer,
            customers,
            {
                "id": f"{base} + i",
                "first_name": "'B9'",
                "last_name": "'Customer ' || i",
                "country": "'UA'",
                "created_at": first,
                "first_order_at": first,
                "last_order_at": last,
                "orders_count": str(ORDERS_PER_CUSTOMER),
                "lifetime_value": f"{ORDERS_PER_CUSTOMER} * 400",
            },
        )
        _insert_series(
            Order,
            orders,
            {
                "id": f"{first_order} + i",
                "number": "'B9-' || i",
                "customer_id": f"{base} + 1 + (i %% {customers})",
                "status": _STATUS,
                "channel": _CHANNEL,
                "currency": "'UAH'",
                "subtotal": total,
                "discount_total": "0",
                "shipping_total": "0",
                "total": total,
                "placed_at": placed,
                "status_changed_at": placed,
                "created_at": placed,
            },
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What autovacuum does on a live server after a bulk insert: without the
            # visibility map an index-only scan (the waiting orders' counts) visits the heap.
            cursor.execute("VACUUM (ANALYZE) customers_customer, orders_order")
        else:
            cursor.execute("ANALYZE")


def _caught_up() -> None:
    """The rollup as the nightly task leaves it, and its consumer at the end of the log."""
    from procedo.analytics.rollups import CONSUMER, sales_days_consume, sales_days_rebuild
    from procedo.events.services.consumers import consumer_drain

    sales_days_rebuild()
    consumer_drain(name=CONSUMER, handler=sales_days_consume)


def _p(times: list[float], share: float) -> float:
    return sorted(times)[max(0, round(len(times) * share) - 1)]


def run(*, scale: float) -> None:
    from procedo.accounts.roles import Role
    from procedo.testing import person

    customers = max(1_000, int(CUSTOMERS * scale))
    started = time.perf_counter()
    _fill(customers)
    made = time.perf_counter() - started
    started = time.perf_counter()
    _caught_up()
    print(
        f"  B9   {customers:,} customers, {customers * ORDERS_PER_CUSTOMER:,} orders made in "
        f"{made:.1f} s; the daily rollup built in {time.perf_counter() - started:.1f} s"
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(person(Role.OWNER, username="b9-owner"))

    def home() -> None:
        response = client.get("/")
        assert response.status_code == 200, response.status_code

    home()  # warm-up: templates compiled, the rollup's pages in the cache
    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        home()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        home()
        times.append(time.perf_counter() - started)
    print(
        f"  B9   morning page as the owner, {RUNS} requests, {len(queries)} queries each"
        f"  p50 {statistics.median(times) * 1000:7.1f} ms  p95 {_p(times, 0.95) * 1000:7.1f} ms"
        f"  (goal p95 < 200 ms)"
    )
