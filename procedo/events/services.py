"""Writing the event log, and moving consumers along it.

`event_record` is on every write path in Procedo, so it is a single prepared
INSERT rather than an ORM save: the ORM's per-object work would cost more than
the row itself (measured by `make bench`, B0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from procedo.events import selectors
from procedo.events.models import ConsumerCursor, Event
from procedo.events.registry import EventHandler

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


def _actor_id(actor: Any) -> int | None:
    if actor is None or isinstance(actor, AnonymousUser):
        return None
    return int(actor.pk)


def _insert_sql(rows: int) -> str:
    table = connection.ops.quote_name(Event._meta.db_table)
    payload = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    one = f"(%s, %s, %s, %s, %s, %s, {payload}, %s, %s)"
    # Only constants and the quoted table name are formatted in; values are parameters.
    return f"INSERT INTO {table} ({_COLUMNS}) VALUES " + ", ".join([one] * rows)  # noqa: S608


def _params(event: NewEvent, now: datetime) -> list[Any]:
    return [
        event.event_type,
        event.subject_type,
        event.subject_id,
        event.customer_id,
        event.actor_id,
        event.actor_label,
        _encoder.encode(dict(event.payload)),
        connection.ops.adapt_datetimefield_value(event.occurred_at or now),
        event.idempotency_key,
    ]


def _require_transaction() -> None:
    if not connection.in_atomic_block:
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
    """
    _require_transaction()
    if subject is not None:
        subject_type, subject_id = subject_ref(subject)
    event = NewEvent(
        event_type=event_type,
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        actor_id=actor_id if actor_id is not None else _actor_id(actor),
        actor_label=actor_label,
        payload=payload or {},
        occurred_at=occurred_at,
        idempotency_key=idempotency_key,
    )
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(1), _params(event, timezone.now()))
    _wake_consumers_on_commit()


def events_record_many(events: Iterable[NewEvent], *, chunk_size: int = 500) -> int:
    """Append many events in the caller's transaction with multi-row INSERTs; returns the count."""
    _require_transaction()
    now = timezone.now()
    written = 0
    chunk: list[NewEvent] = []

    def flush() -> None:
        params: list[Any] = []
        for item in chunk:
            params.extend(_params(item, now))
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(len(chunk)), params)

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


def _wake_consumers_on_commit() -> None:
    # A sooner wake-up only: the periodic tick re-reads the log by cursor, so a
    # process that dies after COMMIT and loses this hook loses no event.
    pending = connection.run_on_commit
    if pending and pending[-1][1] is _wake_consumers:
        return
    transaction.on_commit(_wake_consumers, robust=True)


def _wake_consumers() -> None:
    from procedo.events.tasks import events_dispatch

    events_dispatch()


def consumer_run_batch(*, name: str, handler: EventHandler, batch_size: int = 500) -> int:
    """Hand the next batch of committed events to `handler` and advance the cursor, atomically.

    Handler writes and the cursor move commit together, so a crash repeats the
    batch (at-least-once) and never skips one. The cursor row lock makes two
    workers on the same consumer take turns instead of handling a batch twice.
    """
    ConsumerCursor.objects.bulk_create([ConsumerCursor(name=name)], ignore_conflicts=True)
    with transaction.atomic():
        cursor = ConsumerCursor.objects.select_for_update().get(name=name)
        batch: Sequence[Event] = selectors.events_after(
            txid=cursor.txid, event_id=cursor.event_id, limit=batch_size
        )
        if not batch:
            return 0
        handler(batch)
        last = batch[-1]
        ConsumerCursor.objects.filter(pk=cursor.pk).update(
            txid=last.txid,
            event_id=last.id,
            events_handled=models.F("events_handled") + len(batch),
            updated_at=timezone.now(),
        )
    return len(batch)


def consumer_drain(
    *, name: str, handler: EventHandler, batch_size: int = 500, max_batches: int = 200
) -> int:
    """Run batches until the consumer has caught up (or `max_batches`); returns events handled."""
    handled = 0
    for _ in range(max_batches):
        count = consumer_run_batch(name=name, handler=handler, batch_size=batch_size)
        handled += count
        if count < batch_size:
            break
    return handled
