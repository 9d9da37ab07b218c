"""The product ladder: what customers buy next and after how long, computed set-based from
the order history, or set by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import DomainError, NotFound
from procedo.events.services.recording import event_record
from procedo.marketing.models import (
    LadderStep,
)
from procedo.marketing.services._common import MAX_LADDER, _moment


def _ladder_statements(now: datetime) -> list[tuple[str, list[Any]]]:
    """The ladder as statements over temporary tables, none of them sorting every line pair.

    Orders average twenty-odd lines, so consecutive orders make hundreds of product pairs
    each (ten million over the retail file). So: each customer's orders are paired with
    their next once (a window over orders, not over lines); each order's products are made
    distinct and indexed once; the pairs are counted per (product, next product) in one
    GROUP BY, keeping only those that can still be in their product's top MAX_LADDER; and
    only those few are read again for their median days (the one sort by days).
    """
    from procedo.catalog.models import Sku
    from procedo.orders.models import Order, OrderLine, OrderStatus

    q = connection.ops.quote_name
    orders, lines = q(Order._meta.db_table), q(OrderLine._meta.db_table)
    skus, statuses = q(Sku._meta.db_table), q(OrderStatus._meta.db_table)
    ladder = q(LadderStep._meta.db_table)
    if connection.vendor == "postgresql":
        days = "CAST(FLOOR(EXTRACT(EPOCH FROM (s.next_at - s.placed_at)) / 86400) AS INTEGER)"
    else:
        days = "CAST(julianday(s.next_at) - julianday(s.placed_at) AS INTEGER)"
    # Each customer's orders that bought a product, one row per order and the one after it.
    steps = f"""
CREATE TEMPORARY TABLE ladder_next AS
SELECT s.customer_id, s.order_id, s.next_order, {days} AS days
FROM (
  SELECT o.customer_id, o.id AS order_id, o.placed_at,
    LEAD(o.id) OVER w AS next_order, LEAD(o.placed_at) OVER w AS next_at
  FROM {orders} o
  JOIN {statuses} st ON st.code = o.status
  WHERE o.customer_id IS NOT NULL AND o.kind = 'sale' AND st.category <> 'cancelled'
    AND EXISTS (SELECT 1 FROM {lines} l JOIN {skus} k ON k.id = l.sku_id WHERE l.order_id = o.id)
  WINDOW w AS (PARTITION BY o.customer_id ORDER BY o.placed_at, o.id)
) s
WHERE s.next_order IS NOT NULL
"""  # noqa: S608 (names from the models' meta)
    bought = f"""
CREATE TEMPORARY TABLE ladder_bought AS
SELECT DISTINCT l.order_id, k.product_id
FROM {lines} l JOIN {skus} k ON k.id = l.sku_id
WHERE l.order_id IN (SELECT order_id FROM ladder_next UNION SELECT next_order FROM ladder_next)
"""  # noqa: S608 (names from the models' meta)
    # Per (product, next product) its customers, and its rank among the product's next
    # products: a rank of MAX_LADDER or better is all that can still make the top (ties
    # share a rank; the median days decide among them below).
    candidates = """
CREATE TEMPORARY TABLE ladder_candidates AS
SELECT product_id, next_product_id, customers
FROM (
  SELECT a.product_id, b.product_id AS next_product_id,
    COUNT(DISTINCT t.customer_id) AS customers,
    RANK() OVER (
      PARTITION BY a.product_id ORDER BY COUNT(DISTINCT t.customer_id) DESC
    ) AS ranking
  FROM ladder_next t
  JOIN ladder_bought a ON a.order_id = t.order_id
  JOIN ladder_bought b ON b.order_id = t.next_order
  WHERE a.product_id <> b.product_id
  GROUP BY a.product_id, b.product_id
) counted
WHERE ranking <= %s
"""
    # The candidates' (customer, days) once each, for their median days.
    pairs = """
CREATE TEMPORARY TABLE ladder_pairs AS
SELECT DISTINCT c.product_id, c.next_product_id, t.customer_id, t.days
FROM ladder_candidates c
JOIN ladder_bought a ON a.product_id = c.product_id
JOIN ladder_next t ON t.order_id = a.order_id
JOIN ladder_bought b ON b.order_id = t.next_order AND b.product_id = c.next_product_id
"""
    medians = """
CREATE TEMPORARY TABLE ladder_medians AS
WITH ordered AS (
  SELECT product_id, next_product_id, days,
    ROW_NUMBER() OVER (PARTITION BY product_id, next_product_id ORDER BY days) AS n,
    COUNT(*) OVER (PARTITION BY product_id, next_product_id) AS pairs
  FROM ladder_pairs
)
SELECT product_id, next_product_id, CAST(ROUND(AVG(days)) AS INTEGER) AS median_days
FROM ordered
WHERE n IN ((pairs + 1) / 2, (pairs + 2) / 2)
GROUP BY product_id, next_product_id
"""
    insert = f"""
WITH ranked AS (
  SELECT c.product_id, c.next_product_id, c.customers, m.median_days,
    ROW_NUMBER() OVER (
      PARTITION BY c.product_id ORDER BY c.customers DESC, m.median_days, c.next_product_id
    ) AS position
  FROM ladder_candidates c
  JOIN ladder_medians m ON m.product_id = c.product_id AND m.next_product_id = c.next_product_id
)
INSERT INTO {ladder}
  (product_id, next_product_id, position, manual, customers, median_days, computed_at)
SELECT product_id, next_product_id, position, %s, customers, median_days, %s
FROM ranked WHERE position <= %s
"""  # noqa: S608 (names from the models' meta, values as parameters)
    return [
        (steps, []),
        (bought, []),
        ("CREATE INDEX ladder_bought_order ON ladder_bought (order_id, product_id)", []),
        ("CREATE INDEX ladder_bought_product ON ladder_bought (product_id)", []),
        ("CREATE INDEX ladder_next_order ON ladder_next (order_id)", []),
        # Temporary tables have no statistics until asked (PostgreSQL's autovacuum skips
        # them): without them the planner loops over the pairs instead of hashing them.
        ("ANALYZE ladder_next", []),
        ("ANALYZE ladder_bought", []),
        (candidates, [MAX_LADDER]),
        ("ANALYZE ladder_candidates", []),
        (pairs, []),
        (medians, []),
        ("CREATE INDEX ladder_medians_pair ON ladder_medians (product_id, next_product_id)", []),
        (insert, [False, _moment(now), MAX_LADDER]),
    ]


_LADDER_TABLES = (
    "ladder_next",
    "ladder_bought",
    "ladder_candidates",
    "ladder_pairs",
    "ladder_medians",
)


@transaction.atomic
def ladder_compute(*, now: datetime | None = None) -> int:
    """Replace the computed ladder from the order history, set-based over temporary tables."""
    now = now or timezone.now()
    LadderStep.objects.filter(manual=False).delete()
    with connection.cursor() as cursor:
        for table in _LADDER_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        for statement, params in _ladder_statements(now):
            cursor.execute(statement, params or None)
        for table in _LADDER_TABLES:
            cursor.execute(f"DROP TABLE {table}")
    written = LadderStep.objects.filter(manual=False).count()
    event_record(
        event_type="ladder.computed",
        subject_type="business",
        subject_id=1,
        payload={"steps": written},
    )
    return written


@transaction.atomic
def ladder_set(
    *, product_id: int, next_product_ids: Sequence[int], actor: Actor
) -> list[LadderStep]:
    """A manager's ladder for a product (an empty list returns it to the computed one)."""
    from procedo.catalog.models import Product

    if not Product.objects.filter(pk=product_id).exists():
        raise NotFound(field="product_id", message=_("No product %(id)s.") % {"id": product_id})
    wanted = list(dict.fromkeys(int(pk) for pk in next_product_ids))
    if len(wanted) > MAX_LADDER:
        raise DomainError(
            field="next_product_ids",
            message=_("A ladder has at most %(n)s steps.") % {"n": MAX_LADDER},
        )
    if product_id in wanted:
        raise DomainError(
            field="next_product_ids", message=_("A product cannot be its own next step.")
        )
    known = set(Product.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in known]
    if missing:
        raise NotFound(
            field="next_product_ids", message=_("No product %(id)s.") % {"id": missing[0]}
        )
    LadderStep.objects.filter(product_id=product_id, manual=True).delete()
    steps = LadderStep.objects.bulk_create(
        LadderStep(product_id=product_id, next_product_id=pk, position=n, manual=True)
        for n, pk in enumerate(wanted, start=1)
    )
    event_record(
        event_type="ladder.set",
        subject_type="product",
        subject_id=product_id,
        actor=actor,
        payload={"next_product_ids": wanted},
    )
    return steps
