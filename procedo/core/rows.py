"""Rows written as they are, set-based, for the bulk writers (history imports, the demo store,
the worker's batches of shop orders): PostgreSQL's COPY there, one INSERT run for every row
(executemany) on SQLite."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models


def rows_insert(
    model: type[models.Model], attnames: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Rows of `model`'s table, each value in the order of `attnames`.

    Half a million rows: Django's bulk_create spends several times the database's own
    time preparing each field of each object, so rows go to executemany as the driver
    takes them (int, str, Decimal, bytes, None), but for a datetime (adapted for the
    backend) and a JSON field's value (prepared by its field). The caller validates the
    rows and records their events; it needs no ids back.
    """
    if not rows:
        return
    fields = {field.attname: field for field in model._meta.concrete_fields}
    json_fields = [
        (index, fields[name])
        for index, name in enumerate(attnames)
        if isinstance(fields[name], models.JSONField)
    ]
    adapt = connection.ops.adapt_datetimefield_value

    def prepared(row: Sequence[Any]) -> tuple[Any, ...]:
        values = [adapt(value) if isinstance(value, datetime) else value for value in row]
        for index, field in json_fields:
            if values[index] is not None:
                values[index] = field.get_db_prep_save(values[index], connection)
        return tuple(values)

    names = ", ".join(connection.ops.quote_name(fields[name].column) for name in attnames)
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":
        rows_copy(table, names, [prepared(row) for row in rows])
        return
    placeholders = ", ".join(["%s"] * len(attnames))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({placeholders})",  # noqa: S608 (the model's names)
            [prepared(row) for row in rows],
        )


def rows_copy(table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: rows into `table` (quoted) by COPY, each value in the order of `columns`
    (quoted, comma-separated), in the caller's transaction.

    A row INSERTed by executemany is one run of the executor on the server: 11 µs of the
    worker's Python and 30 µs of the server's CPU a row, against 3.5 and 10–12 by COPY
    (100 events at a time; COPY was no slower for one row). A constraint refuses a COPY
    as it refuses an INSERT: the same IntegrityError, and none of the rows is written.
    """
    if not rows:
        return
    sql = f"COPY {table} ({columns}) FROM STDIN"
    with bound_cursor() as cursor:
        # Django's wrappers see only execute(): its errors and its query log, by hand.
        logged = cursor.debug_sql(sql, rows, many=True) if connection.queries_logged else None
        with (
            logged or contextlib.nullcontext(),
            connection.wrap_database_errors,
            cursor.cursor.copy(sql) as copy,
        ):
            for row in rows:
                copy.write_row(row)


@contextlib.contextmanager
def bound_cursor(*, prepared: bool = False) -> Iterator[Any]:
    """A cursor whose statements travel apart from their values (PostgreSQL's extended
    protocol): Django's own binds values into the SQL text on the client, and the
    server then parses every value as a literal, a long body's too (make bench, B1).
    SQLite's driver always binds apart; there it is Django's own cursor.

    `prepared`: each statement is parsed and planned once per connection, then only
    bound and run. Django turns psycopg's preparing off for every statement (a pooler in
    transaction mode may hand the next one another server connection); the hook's one
    INSERT, run thousands of times a minute, cost the server half as much prepared
    (make bench, B1). A pooler in front of PostgreSQL must then keep prepared statements
    (PgBouncer 1.21+: max_prepared_statements)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg  # its plain Cursor binds server-side; Django's is a ClientCursor

    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = (_prepared_cursor() if prepared else psycopg.Cursor)(connection.connection)
    # As Django wraps its own: logged when queries are (DEBUG, assertNumQueries).
    make = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with make(raw) as cursor:  # type: ignore[arg-type]  # the stubs want Django's wrapper
        yield cursor


@functools.cache
def _prepared_cursor() -> type[Any]:
    import psycopg  # installed on SQLite too, but not imported there until needed

    class PreparedCursor(psycopg.Cursor[Any]):
        """Prepares what it runs: Django's wrapper calls execute() with no `prepare`."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            kwargs.setdefault("prepare", True)
            return super().execute(query, params, **kwargs)

    return PreparedCursor
