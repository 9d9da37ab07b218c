"""RFM scores of every customer with an order, refreshed set-based, and the group moves as
events."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from procedo.events.services.recording import event_record, events_insert_select
from procedo.marketing.models import (
    CustomerRfm,
)
from procedo.marketing.services._common import _moment

# R, F, M are quintiles (5 best) by NTILE over every customer with an order; F and M
# give equal values the lowest tile among them (MIN … OVER PARTITION BY the value), so
# two customers with one order each never land in different tiles. The groups are the
# usual R×F grid.
_RFM_GROUP = """
CASE
  WHEN r = 5 AND f >= 4 THEN 'champions'
  WHEN r >= 3 AND f >= 4 THEN 'loyal'
  WHEN r >= 4 AND f >= 2 THEN 'potential_loyalist'
  WHEN r = 5 THEN 'new'
  WHEN r = 4 THEN 'promising'
  WHEN r = 3 AND f = 3 THEN 'need_attention'
  WHEN r = 3 THEN 'about_to_sleep'
  WHEN f = 5 THEN 'cant_lose'
  WHEN f >= 3 THEN 'at_risk'
  WHEN r = 1 AND f = 1 THEN 'lost'
  ELSE 'hibernating'
END"""


def _rfm_merges() -> bool:
    """Whether the refresh writes with MERGE (PostgreSQL 15 and later) rather than an upsert."""
    return connection.vendor == "postgresql" and connection.get_database_version() >= (15,)


def _rfm_sql() -> tuple[str, str]:
    from procedo.customers.models import Customer

    q = connection.ops.quote_name
    customers, rfm = q(Customer._meta.db_table), q(CustomerRfm._meta.db_table)
    group = q("group")
    scores = f"""
WITH base AS (
  SELECT id AS customer_id, last_order_at, orders_count AS frequency, lifetime_value AS monetary
  FROM {customers}
  WHERE merged_into_id IS NULL AND orders_count > 0 AND last_order_at IS NOT NULL
), tiled AS (
  SELECT customer_id, last_order_at, frequency, monetary,
    NTILE(5) OVER (ORDER BY last_order_at, customer_id) AS r,
    NTILE(5) OVER (ORDER BY frequency, customer_id) AS f0,
    NTILE(5) OVER (ORDER BY monetary, customer_id) AS m0
  FROM base
), scored AS (
  SELECT customer_id, last_order_at, frequency, monetary, r,
    MIN(f0) OVER (PARTITION BY frequency) AS f,
    MIN(m0) OVER (PARTITION BY monetary) AS m
  FROM tiled
), grouped AS (
  SELECT customer_id, last_order_at, frequency, monetary, r, f, m, {_RFM_GROUP} AS {group},
    %s AS computed_at
  FROM scored
)"""  # noqa: S608 (names from the models' meta, values as parameters)
    # The same SET and WHERE serve both forms: the new row is `excluded`, the kept one `t`.
    update = f"""
  last_order_at = excluded.last_order_at, frequency = excluded.frequency,
  monetary = excluded.monetary, r = excluded.r, f = excluded.f, m = excluded.m,
  {group} = excluded.{group}, computed_at = excluded.computed_at,
  previous_group = CASE WHEN t.{group} <> excluded.{group}
    THEN t.{group} ELSE t.previous_group END,
  group_since = CASE WHEN t.{group} <> excluded.{group}
    THEN excluded.computed_at ELSE t.group_since END"""
    moved = """
t.r <> excluded.r OR t.f <> excluded.f OR t.m <> excluded.m
  OR t.last_order_at <> excluded.last_order_at OR t.frequency <> excluded.frequency
  OR t.monetary <> excluded.monetary"""
    columns = f"""customer_id, last_order_at, frequency, monetary, r, f, m, {group},
  previous_group, group_since, computed_at"""
    if _rfm_merges():
        # MERGE inserts the new rows plainly and leaves the unchanged ones untouched;
        # the upsert tries each row's insert first and locks every row it then skips.
        write = f"""
MERGE INTO {rfm} AS t USING grouped AS excluded ON t.customer_id = excluded.customer_id
WHEN MATCHED AND ({moved}) THEN UPDATE SET {update}
WHEN NOT MATCHED THEN INSERT ({columns})
  VALUES (excluded.customer_id, excluded.last_order_at, excluded.frequency, excluded.monetary,
    excluded.r, excluded.f, excluded.m, excluded.{group}, '', excluded.computed_at,
    excluded.computed_at)"""  # noqa: S608
    else:
        write = f"""
INSERT INTO {rfm} AS t ({columns})
SELECT customer_id, last_order_at, frequency, monetary, r, f, m, {group}, '', computed_at,
  computed_at
FROM grouped WHERE true
ON CONFLICT (customer_id) DO UPDATE SET {update}
WHERE {moved}"""  # noqa: S608
    gone = f"""
DELETE FROM {rfm} WHERE NOT EXISTS (
  SELECT 1 FROM {customers} c WHERE c.id = {rfm}.customer_id AND c.merged_into_id IS NULL
  AND c.orders_count > 0 AND c.last_order_at IS NOT NULL)
"""  # noqa: S608
    return scores + write, gone


def _rfm_moves_sql() -> str:
    """One `rfm.group_changed` row per customer this refresh moved to another group (a
    customer scored for the first time has no group to move from, and no event)."""
    q = connection.ops.quote_name
    rfm, group = q(CustomerRfm._meta.db_table), q("group")
    json = "json_build_object" if connection.vendor == "postgresql" else "json_object"
    return f"""
SELECT 'rfm.group_changed' AS event_type, 'customer' AS subject_type,
  customer_id AS subject_id, customer_id,
  {json}('from_group', previous_group, 'to_group', {group}) AS payload,
  %s || CAST(customer_id AS TEXT) AS idempotency_key
FROM {rfm} WHERE group_since = %s AND previous_group <> ''
"""  # noqa: S608 (names from the models' meta, values as parameters)


@transaction.atomic
def rfm_refresh(*, now: datetime | None = None) -> dict[str, int]:
    """Score every customer with an order in two statements (a MERGE or an upsert, and a
    delete), and record a `rfm.group_changed` per customer moved to another group in a third.

    Only rows whose scores or inputs moved are written, so a refresh when little
    changed writes little; the quintiles themselves need the whole population. The
    moves are read back from the rows stamped with this refresh's time, so the events
    are one INSERT … SELECT and commit or vanish with the scores.
    """
    now = now or timezone.now()
    write, gone = _rfm_sql()
    with connection.cursor() as cursor:
        if _rfm_merges():
            # Unlike the upsert, MERGE fails on a row another refresh inserted meanwhile:
            # refreshes take turns (readers are not held up).
            table = connection.ops.quote_name(CustomerRfm._meta.db_table)
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(write, [_moment(now)])
        cursor.execute(gone)
        removed = max(cursor.rowcount, 0)
    moved = events_insert_select(
        _rfm_moves_sql(),
        [f"rfm:{now:%Y%m%dT%H%M%S%f}:", _moment(now)],
        occurred_at=now,
    )
    # sqlite3 reports no rowcount for a statement that starts with WITH; the rows this
    # refresh wrote are those stamped with its time (both counts in one pass).
    counts = CustomerRfm.objects.aggregate(
        scored=Count("pk"), changed=Count("pk", filter=Q(computed_at=now))
    )
    result = {**counts, "removed": removed, "moved": moved}
    event_record(event_type="rfm.refreshed", subject_type="business", subject_id=1, payload=result)
    return result


def rfm_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's score goes; the next refresh scores the survivor."""
    deleted, _counts = CustomerRfm.objects.filter(customer_id=duplicate_id).delete()
    return deleted
