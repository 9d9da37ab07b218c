"""B4 analytics: RFM scores, monthly cohort retention and the product ladder over the whole
retail file, each timed as Procedo computes it and as DuckDB computes the same result from
the same rows (copied into an in-memory DuckDB untimed), in the same run.

The results must be equal, or the run fails: a fast wrong answer is no answer.
"""

from __future__ import annotations

import tempfile
import time
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from procedo.analytics.periods import Period
from procedo.analytics.selectors import cohort_retention
from procedo.business.services import business_update
from procedo.catalog.models import Sku
from procedo.customers.models import Customer
from procedo.imports.csvfiles import RejectedReport
from procedo.imports.orders import import_orders
from procedo.marketing.models import CustomerRfm, LadderStep
from procedo.marketing.services._common import MAX_LADDER
from procedo.marketing.services.ladder import ladder_compute
from procedo.marketing.services.rfm import rfm_refresh
from procedo.orders.models import Order, OrderLine, OrderStatus

# ../shared/data/retail beside the checkout (or beside the folder of worktrees).
RETAIL = next(
    (
        found
        for parent in Path(__file__).resolve().parents
        if (found := parent / "shared" / "data" / "retail" / "online_retail.csv.gz").exists()
    ),
    Path("shared/data/retail/online_retail.csv.gz"),
)
ZONE = "Europe/London"
GOAL = {"sqlite": 5.0, "postgresql": 3.0}

RFM_DUCK = """
WITH base AS (
  SELECT id AS customer_id, orders_count AS frequency, lifetime_value AS monetary, last_order_at
  FROM customers WHERE merged_into_id IS NULL AND orders_count > 0 AND last_order_at IS NOT NULL
), tiled AS (
  SELECT *, NTILE(5) OVER (ORDER BY last_order_at, customer_id) AS r,
    NTILE(5) OVER (ORDER BY frequency, customer_id) AS f0,
    NTILE(5) OVER (ORDER BY monetary, customer_id) AS m0
  FROM base
)
SELECT customer_id, r, MIN(f0) OVER (PARTITION BY frequency) AS f,
  MIN(m0) OVER (PARTITION BY monetary) AS m
FROM tiled
"""

COHORTS_DUCK = """
WITH sales AS (
  SELECT o.customer_id, o.placed_at FROM orders o JOIN statuses s ON s.code = o.status
  WHERE o.currency = 'GBP' AND o.kind = 'sale' AND o.total > 0 AND s.category <> 'cancelled'
)
SELECT CAST(date_trunc('month', c.first_order_at AT TIME ZONE 'UTC') AS DATE) AS cohort,
  CAST(date_trunc('month', s.placed_at AT TIME ZONE 'UTC') AS DATE) AS month,
  COUNT(DISTINCT s.customer_id) AS customers
FROM sales s JOIN customers c ON c.id = s.customer_id
WHERE c.first_order_at >= $first AND c.first_order_at < $end
GROUP BY ALL ORDER BY 1, 2
"""

SIZES_DUCK = """
SELECT CAST(date_trunc('month', first_order_at AT TIME ZONE 'UTC') AS DATE), COUNT(*)
FROM customers WHERE first_order_at >= $first AND first_order_at < $end GROUP BY 1
"""

LADDER_DUCK = """
WITH bought AS (
  SELECT DISTINCT o.customer_id, o.id AS order_id, o.placed_at, k.product_id
  FROM orders o JOIN statuses st ON st.code = o.status JOIN lines l ON l.order_id = o.id
  JOIN skus k ON k.id = l.sku_id
  WHERE o.customer_id IS NOT NULL AND o.kind = 'sale' AND st.category <> 'cancelled'
), sequence AS (
  SELECT customer_id, order_id, placed_at,
    LEAD(order_id) OVER (PARTITION BY customer_id ORDER BY placed_at, order_id) AS next_order,
    LEAD(placed_at) OVER (PARTITION BY customer_id ORDER BY placed_at, order_id) AS next_at
  FROM (SELECT DISTINCT customer_id, order_id, placed_at FROM bought)
), pairs AS (
  SELECT DISTINCT a.product_id, b.product_id AS next_product_id, s.customer_id,
    CAST(date_diff('second', s.placed_at, s.next_at) // 86400 AS INTEGER) AS days
  FROM sequence s JOIN bought a ON a.order_id = s.order_id
  JOIN bought b ON b.order_id = s.next_order
  WHERE a.product_id <> b.product_id
), ordered AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY product_id, next_product_id ORDER BY days) AS n,
    COUNT(*) OVER (PARTITION BY product_id, next_product_id) AS pairs
  FROM pairs
), medians AS (
  SELECT product_id, next_product_id, CAST(ROUND(AVG(days)) AS INTEGER) AS median_days
  FROM ordered WHERE n IN ((pairs + 1) // 2, (pairs + 2) // 2) GROUP BY ALL
), steps AS (
  SELECT p.product_id, p.next_product_id, COUNT(DISTINCT p.customer_id) AS customers,
    MAX(m.median_days) AS median_days
  FROM pairs p JOIN medians m USING (product_id, next_product_id) GROUP BY ALL
), ranked AS (
  SELECT *, ROW_NUMBER() OVER (
    PARTITION BY product_id ORDER BY customers DESC, median_days, next_product_id) AS position
  FROM steps
)
SELECT product_id, next_product_id, position, customers, median_days FROM ranked
WHERE position <= $top
"""


def _naive_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _duck() -> Any:
    """An in-memory DuckDB holding the rows Procedo's queries read, as Procedo has them."""
    import duckdb
    import pandas as pd

    duck = duckdb.connect()
    duck.execute(f"SET TimeZone = '{ZONE}'")
    customers = pd.DataFrame(
        [
            (pk, orders, float(value), _naive_utc(last), _naive_utc(first), merged)
            for pk, orders, value, last, first, merged in Customer.objects.values_list(
                "id", "orders_count", "lifetime_value", "last_order_at", "first_order_at",
                "merged_into_id",
            )
        ],
        columns=["id", "orders_count", "lifetime_value", "last_order_at", "first_order_at",
                 "merged_into_id"],
    )  # fmt: skip
    # Money as DECIMAL(14, 2), as both databases hold it.
    orders = pd.DataFrame(
        [
            (pk, customer, status, kind, currency, str(total), _naive_utc(placed))
            for pk, customer, status, kind, currency, total, placed in Order.objects.values_list(
                "id", "customer_id", "status_id", "kind", "currency", "total", "placed_at"
            )
        ],
        columns=["id", "customer_id", "status", "kind", "currency", "total", "placed_at"],
    )
    lines = pd.DataFrame(
        list(OrderLine.objects.values_list("order_id", "sku_id")), columns=["order_id", "sku_id"]
    )
    skus = pd.DataFrame(
        list(Sku.objects.values_list("id", "product_id")), columns=["id", "product_id"]
    )
    statuses = pd.DataFrame(
        list(OrderStatus.objects.values_list("code", "category")), columns=["code", "category"]
    )
    for name, frame in (
        ("customers_df", customers), ("orders_df", orders), ("lines_df", lines),
        ("skus_df", skus), ("statuses_df", statuses),
    ):  # fmt: skip
        duck.register(name, frame)
    duck.execute(
        "CREATE TABLE customers AS SELECT id, orders_count,"
        " CAST(lifetime_value AS DECIMAL(14, 2)) AS lifetime_value, last_order_at,"
        " first_order_at, CAST(merged_into_id AS BIGINT) AS merged_into_id FROM customers_df"
    )
    duck.execute(
        "CREATE TABLE orders AS SELECT id, CAST(customer_id AS BIGINT) AS customer_id, status,"
        " kind, currency, CAST(total AS DECIMAL(14, 2)) AS total, placed_at FROM orders_df"
    )
    for name in ("lines", "skus", "statuses"):
        duck.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_df")
    return duck


def _timed(
    run: Callable[[], Any],
    repeat: int,
    warmup: bool = True,
    reset: Callable[[], None] | None = None,
) -> tuple[float, Any]:
    """The median seconds of `repeat` runs (after a warm-up), each after `reset` (untimed),
    and the last run's result."""
    if warmup:
        run()
    times, result = [], None
    for _ in range(repeat):
        if reset is not None:
            reset()
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2], result


def _line(name: str, procedo: float, duck: float) -> None:
    goal = GOAL.get(connection.vendor, 5.0)
    ratio = procedo / duck if duck else float("inf")
    verdict = "ok" if ratio <= goal else "MISSED"
    print(
        f"  B4   {name:<44} procedo {procedo * 1000:9.1f} ms  duckdb {duck * 1000:8.1f} ms"
        f"  ratio {ratio:6.1f}×  (goal ≤ {goal:g}×: {verdict})"
    )


def _cohorts_from_duck(duck: Any, period: Period) -> list[tuple[date, int, list[Decimal]]]:
    bounds = {"first": _naive_utc(period.start), "end": _naive_utc(period.end)}
    sizes = dict(duck.execute(SIZES_DUCK, bounds).fetchall())
    active: dict[date, dict[int, int]] = {month: {} for month in sizes}
    for cohort, month, customers in duck.execute(COHORTS_DUCK, bounds).fetchall():
        offset = (month.year - cohort.year) * 12 + month.month - cohort.month
        active.setdefault(cohort, {})[offset] = customers
    return [
        (
            month,
            sizes[month],
            [
                (Decimal(by_offset.get(k, 0)) * 100 / sizes[month]).quantize(Decimal("0.1"))
                for k in range(max(by_offset, default=0) + 1)
            ],
        )
        for month, by_offset in sorted(active.items())
        if sizes.get(month)
    ]


def run(*, scale: float) -> None:
    if not RETAIL.exists():
        print("  B4   analytics: skipped (../shared/data/retail is not beside the project)")
        return
    business_update(name="Bench", time_zone=ZONE, currency="GBP", actor_id=None)
    zone = zoneinfo.ZoneInfo(ZONE)
    # B4's import leaves no orders behind; another bench's orders (B2b's) are not the file.
    if not Order.objects.filter(source="bench").exists():
        with RejectedReport(Path(tempfile.gettempdir()) / "b4a-rejected.csv") as rejected:
            import_orders(path=RETAIL, source="bench", currency="GBP", zone=zone, report=rejected)
    duck = _duck()
    repeat = 3 if scale >= 1 else 1

    def rfm_forget() -> None:
        # Every run scores and writes every customer, into a table as a first refresh
        # finds it. A DELETE would leave PostgreSQL the last run's rows dead in the table
        # and its indexes for the timed run to step over until autovacuum comes by (the
        # cost of the reset, not of a refresh); SQLite's DELETE of every row truncates.
        with transaction.atomic():
            if connection.vendor == "postgresql":
                table = connection.ops.quote_name(CustomerRfm._meta.db_table)
                with connection.cursor() as cursor:
                    cursor.execute(f"TRUNCATE {table}")
            else:
                CustomerRfm.objects.all().delete()

    seconds, _counts = _timed(rfm_refresh, repeat, reset=rfm_forget)
    scores = CustomerRfm.objects.values_list("customer_id", "r", "f", "m")
    scored = {row[0]: row[1:] for row in scores}
    duck_seconds, duck_rows = _timed(lambda: duck.execute(RFM_DUCK).fetchall(), repeat)
    expected = {row[0]: tuple(row[1:]) for row in duck_rows}
    assert scored == expected, "RFM: Procedo's scores differ from DuckDB's"
    _line(f"RFM scores ({len(scored):,} customers)", seconds, duck_seconds)

    whole = Period(first=date(2010, 12, 1), last=date(2011, 12, 31), zone=zone)
    seconds, cohorts = _timed(lambda: cohort_retention(period=whole), repeat)
    duck_seconds, duck_cohorts = _timed(lambda: _cohorts_from_duck(duck, whole), repeat)
    assert [(c.month, c.customers, c.retained) for c in cohorts] == duck_cohorts, (
        "cohorts: Procedo's retention differs from DuckDB's"
    )
    _line(f"monthly cohort retention ({len(cohorts)} cohorts)", seconds, duck_seconds)

    def ladder() -> list[tuple[int, int, int, int, int | None]]:
        ladder_compute()
        return sorted(
            LadderStep.objects.filter(manual=False).values_list(
                "product_id", "next_product_id", "position", "customers", "median_days"
            )
        )

    # Minutes on SQLite over the whole file: timed once, both sides alike.
    seconds, steps = _timed(ladder, 1, warmup=False)
    duck_seconds, duck_steps = _timed(
        lambda: sorted(duck.execute(LADDER_DUCK, {"top": MAX_LADDER}).fetchall()), 1, warmup=False
    )
    assert steps == duck_steps, "ladder: Procedo's steps differ from DuckDB's"
    _line(f"product ladder ({len(steps):,} steps)", seconds, duck_seconds)
    duck.close()
