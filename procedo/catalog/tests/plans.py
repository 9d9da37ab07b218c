"""Asserting that an index serves a query: EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


def captured_sql(run: Callable[[], Any], *, table: str) -> str:
    """Run a selector and return the SQL it sent that reads `table` (the list query)."""
    with CaptureQueriesContext(connection) as captured:
        run()
    quoted = connection.ops.quote_name(table)
    statements = [q["sql"] for q in captured.captured_queries if f"FROM {quoted}" in q["sql"]]
    assert statements, f"no query read {table}: {captured.captured_queries}"
    return statements[0]


def query_plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # On a few test rows PostgreSQL rightly prefers a sequential scan; with it
        # priced out, the plan shows whether an index can serve the query at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def assert_uses_index(sql: str, *, table: str, index: str | None = None) -> str:
    plan = query_plan(sql)
    if connection.vendor == "sqlite":
        main = [line for line in plan.splitlines() if f" {table} " in f" {line} "]
        assert main, plan
        for line in main:
            assert "INDEX" in line or "PRIMARY KEY" in line, plan
        if index:
            assert index in plan, plan
        # Ordered by the index itself: no sorting of every matching row.
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
    else:
        # Which of two fitting indexes PostgreSQL picks for a handful of rows
        # depends on statistics left by earlier tests; that an index (not a
        # scan of the table) serves the query is what must hold.
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan
    return plan
