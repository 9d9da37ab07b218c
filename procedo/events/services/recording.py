"""Writing the event log: one event, many, or a set from a SELECT, in the caller's
transaction, and waking the consumers once it commits.

`event_record` is on every write path in Procedo, so it is a single prepared
INSERT rather than an ORM save: the ORM's per-object work would cost more than
the row itself (measured by `make bench`, B0).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    DEFAULT_DB_ALIAS,
    connection,
    connections,
    models,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from procedo.core.actors import actor_id_of
from procedo.core.rows import rows_copy
from procedo.events.models import (
    Event,
)

logger = logging.getLogger(__name__)


_COLUMNS = (
    "event_type, subject_type, subject_id, customer_id, actor_id, actor_label,"
    " payload, occurred_at, idempotency_key"
)
_encoder = DjangoJSONEncoder(ensure_ascii=False, separators=(",", ":"))


class EventOutsideTransaction(RuntimeError):
    """An event must commit or vanish with the change it records."""


@dataclass(frozen=True)
class NewEvent:
    """One event for `events_record_many`; the same fields as `event_record`'s arguments."""

    event_type: str
    subject_type: str = ""
    subject_id: int | None = None
    customer_id: int | None = None
    actor_id: int | None = None
    actor_label: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    idempotency_key: str | None = None


def subject_ref(instance: models.Model) -> tuple[str, int]:
    """The (subject_type, subject_id) an event uses for a row: the model's name and its pk."""
    return instance._meta.model_name or "", int(instance.pk)


_statements: dict[tuple[str, int], str] = {}


def _insert_sql(db: BaseDatabaseWrapper, rows: int) -> str:
    """The INSERT of `rows` events, built once per backend and row count."""
    key = (db.vendor, rows)
    sql = _statements.get(key)
    if sql is None:
        payload = "%s::jsonb" if db.vendor == "postgresql" else "%s"
        one = f"(%s, %s, %s, %s, %s, %s, {payload}, %s, %s)"
        table = db.ops.quote_name(Event._meta.db_table)
        # Only constants and the quoted table name are formatted in; values are parameters.
        sql = f"INSERT INTO {table} ({_COLUMNS}) VALUES " + ", ".join([one] * rows)  # noqa: S608
        _statements[key] = sql
    return sql


def _payload_json(payload: Mapping[str, Any] | None) -> str:
    if not payload:
        return "{}"
    return _encoder.encode(payload if type(payload) is dict else dict(payload))


def _params(db: BaseDatabaseWrapper, event: NewEvent, now: datetime) -> list[Any]:
    return [
        event.event_type,
        event.subject_type,
        event.subject_id,
        event.customer_id,
        event.actor_id,
        event.actor_label,
        _payload_json(event.payload),
        db.ops.adapt_datetimefield_value(event.occurred_at or now),
        event.idempotency_key,
    ]


# event_record's cursor, one per database connection: making a Django cursor for
# every event cost about half as much as the INSERT itself (make bench, B0). It
# is made again for a new DB-API connection (after a reconnect) and when query
# logging is switched (DEBUG, assertNumQueries), so every insert is still logged
# and passes through the connection's execute wrappers.
_cursors: weakref.WeakKeyDictionary[BaseDatabaseWrapper, tuple[Any, bool, CursorWrapper]] = (
    weakref.WeakKeyDictionary()
)


def _cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    logged = db.queries_logged
    held = _cursors.get(db)
    if held is not None and held[0] is db.connection and held[1] == logged:
        return held[2]
    cursor = db.cursor()
    _cursors[db] = (db.connection, logged, cursor)
    return cursor


def _require_transaction(db: BaseDatabaseWrapper) -> None:
    if not db.in_atomic_block:
        raise EventOutsideTransaction(
            "event_record() must run inside transaction.atomic with the change it records"
        )


def event_record(
    *,
    event_type: str,
    subject: models.Model | None = None,
    subject_type: str = "",
    subject_id: int | None = None,
    customer_id: int | None = None,
    actor: Any = None,
    actor_id: int | None = None,
    actor_label: str = "",
    payload: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Append one event in the caller's transaction.

    `subject` is the row the event is about (or pass subject_type/subject_id);
    `idempotency_key` is UNIQUE, the last guard when two deliveries of the same
    thing race past their services' own checks.

    On every write path, so it does as little as it can per call: one lookup of
    the connection (each attribute read through Django's `connection` proxy is a
    context-local lookup), the statement built once per table, the parameters
    straight into a list (make bench, B0).
    """
    db = connections[DEFAULT_DB_ALIAS]
    _require_transaction(db)
    if subject is not None:
        subject_type, subject_id = subject_ref(subject)
    params = [
        event_type,
        subject_type,
        subject_id,
        customer_id,
        actor_id if actor_id is not None else actor_id_of(actor),
        actor_label,
        _payload_json(payload),
        db.ops.adapt_datetimefield_value(occurred_at or timezone.now()),
        idempotency_key,
    ]
    _cursor(db).execute(_insert_sql(db, 1), params)
    _wake_consumers_on_commit()


def events_record_many(events: Iterable[NewEvent], *, chunk_size: int = 500) -> int:
    """Append many events in the caller's transaction; returns the count.

    SQLite takes them as multi-row INSERTs, PostgreSQL by COPY (rows.rows_copy). There a
    multi-row INSERT cost more than the rows did (its driver parses a statement's
    placeholders in Python and caches only short statements: 62–80 µs an event), one
    INSERT run per event 42 µs and COPY 14 (the worker's batches of shop orders: make
    bench, B1b).
    """
    db = connections[DEFAULT_DB_ALIAS]
    _require_transaction(db)
    now = timezone.now()
    written = 0
    chunk: list[NewEvent] = []

    def flush() -> None:
        if db.vendor == "postgresql":
            table = db.ops.quote_name(Event._meta.db_table)
            rows_copy(table, _COLUMNS, [_params(db, e, now) for e in chunk])
            return
        params: list[Any] = []
        for item in chunk:
            params.extend(_params(db, item, now))
        with db.cursor() as cursor:
            cursor.execute(_insert_sql(db, len(chunk)), params)

    for event in events:
        chunk.append(event)
        if len(chunk) == chunk_size:
            flush()
            written += len(chunk)
            chunk = []
    if chunk:
        flush()
        written += len(chunk)
    if written:
        _wake_consumers_on_commit()
    return written


def events_insert_select(
    select_sql: str, params: Sequence[Any], *, occurred_at: datetime | None = None
) -> int:
    """Append one event per row of a SELECT with one INSERT … SELECT, in the caller's
    transaction; returns the events written.

    For a set-based change (a refresh that moves thousands of customers): the rows
    never come to Python. `select_sql` yields columns named event_type, subject_type,
    subject_id, customer_id, payload (JSON text) and idempotency_key; a row whose key
    is in the log already is skipped, so a repeat adds nothing.
    """
    db = connections[DEFAULT_DB_ALIAS]
    _require_transaction(db)
    payload = "CAST(src.payload AS jsonb)" if db.vendor == "postgresql" else "src.payload"
    table = db.ops.quote_name(Event._meta.db_table)
    # Only the quoted table name and constants are formatted in; SQLite needs the WHERE
    # to read ON CONFLICT as the upsert, not as part of the SELECT.
    statement = (
        f"INSERT INTO {table} ({_COLUMNS})"  # noqa: S608
        " SELECT src.event_type, src.subject_type, src.subject_id, src.customer_id, NULL, '',"
        f" {payload}, %s, src.idempotency_key FROM ({select_sql}) AS src WHERE true"
        " ON CONFLICT (idempotency_key) DO NOTHING"
    )
    at = db.ops.adapt_datetimefield_value(occurred_at or timezone.now())
    with db.cursor() as cursor:
        cursor.execute(statement, [at, *params])
        written = max(cursor.rowcount, 0)
    if written:
        _wake_consumers_on_commit()
    return written


def _wake_consumers_on_commit() -> None:
    # A sooner wake-up only: the periodic tick re-reads the log by cursor, so a
    # process that dies after COMMIT and loses this hook loses no event.
    pending = connection.run_on_commit
    if pending and pending[-1][1] is _wake_consumers:
        return
    transaction.on_commit(_wake_consumers, robust=True)


def _wake_consumers() -> None:
    from procedo.events import wakeups
    from procedo.events.tasks import events_dispatch

    wakeups.wake(events_dispatch)


def events_move_to_customer(*, survivor_id: int, duplicate_id: int) -> int:
    """A merged duplicate's timeline becomes the survivor's: the events say the same things,
    only whose timeline they are on changes. Called inside the merge's transaction."""
    return Event.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
