"""Moving the consumers along the log: a batch under the cursor's lock, failures kept
per event and retried with backoff, subjects held in order, and one read of the log
shared by every consumer a dispatch drains (make bench, B2b).
"""

from __future__ import annotations

import bisect
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import (
    DatabaseError,
    connection,
    models,
    transaction,
)
from django.utils import timezone

from procedo.events import registry, selectors
from procedo.events.models import (
    OPEN_FAILURE_STATES,
    ConsumerCursor,
    ConsumerFailure,
    Event,
    FailureState,
)
from procedo.events.registry import EventHandler

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- consumers

# A handler that fails on an event is given it again after 1 s, 2 s, 4 s … (at most
# RETRY_CAP), by whichever drain comes first after that (a write's wake-up or the
# minute's tick); after MAX_ATTEMPTS failures the event is parked for a person.
MAX_ATTEMPTS = 8
RETRY_FIRST = timedelta(seconds=1)
RETRY_CAP = timedelta(minutes=10)
RETRIES_PER_DRAIN = 100
ERROR_MAX = 1000
TRACEBACK_MAX = 4000


def retry_delay(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failure of an event."""
    return min(RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 20), RETRY_CAP)


def _subject_key(event: Event) -> tuple[str, int] | None:
    return (event.subject_type, event.subject_id) if event.subject_id is not None else None


def _attempt(handler: EventHandler, events: Sequence[Event]) -> Exception | None:
    """Run the handler in a savepoint: its writes stay only if it returns."""
    try:
        with transaction.atomic():
            handler(events)
    except Exception as exc:  # any bug in any handler: recorded against the event, not re-raised
        if connection.needs_rollback:
            # The savepoint could not be rolled back (the connection is gone): the whole
            # transaction is lost, which is the database failing, not the event.
            raise
        return exc
    return None


class _BareTryFailed(Exception):
    """The handler raised on a batch tried without a savepoint: the batch's transaction is
    rolled back and the batch taken again, the usual way."""

    def __init__(self, ids: list[int], error: Exception) -> None:
        super().__init__(ids, error)
        self.ids, self.error = ids, error


@dataclass
class _Pass:
    """Hands events to a handler so that a failing event holds back no other.

    The events go as one batch, in a savepoint; if the handler raises, the batch
    is split in halves and each is tried again, down to single events. One bad
    event among 500 costs about 2·log2(500) ≈ 18 handler calls instead of 500
    (event by event), and the writes for every good event are kept exactly
    once, in order: a failed try rolls its savepoint back. With
    `ordered_by_subject`, events of a subject that has a failing event are held
    back instead of handled.
    """

    handler: EventHandler
    ordered_by_subject: bool
    blocked: set[tuple[str, int]] = field(default_factory=set)
    failed: list[tuple[Event, Exception]] = field(default_factory=list)
    held: list[Event] = field(default_factory=list)
    # No savepoint for the first try (`_BareTryFailed` ends the transaction if it fails) …
    bare: bool = False
    # … or how it failed: the events it was given and the error, not to be tried again.
    tried: tuple[list[int], Exception] | None = None

    def run(self, events: Sequence[Event]) -> None:
        if self.ordered_by_subject and self.blocked:
            free: list[Event] = []
            for event in events:
                (self.held if _subject_key(event) in self.blocked else free).append(event)
            events = free
        if not events:
            return
        if self.bare:
            self.bare = False
            try:
                self.handler(events)
            except Exception as exc:
                raise _BareTryFailed([event.id for event in events], exc) from exc
            return
        if self.tried is not None and self.tried[0] == [event.id for event in events]:
            error: Exception | None = self.tried[1]
            self.tried = None
        else:
            error = _attempt(self.handler, events)
        if error is None:
            return
        if len(events) == 1:
            self.failed.append((events[0], error))
            key = _subject_key(events[0])
            if self.ordered_by_subject and key is not None:
                self.blocked.add(key)
            return
        middle = len(events) // 2
        self.run(events[:middle])
        self.run(events[middle:])


def _error_text(exc: Exception) -> tuple[str, str]:
    text = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    return text[:ERROR_MAX], trace[-TRACEBACK_MAX:]


def _log_failure(failure: ConsumerFailure) -> None:
    # One line per failure, never a traceback: the row keeps the traceback's tail.
    event = failure.event
    if failure.state == FailureState.PARKED:
        logger.error(
            "event consumer %s parked event %s (%s %s:%s) after %s attempts: %s",
            failure.consumer,
            event.pk,
            event.event_type,
            event.subject_type,
            event.subject_id,
            failure.attempts,
            failure.error,
        )
    else:
        logger.warning(
            "event consumer %s failed on event %s (%s %s:%s), attempt %s of %s,"
            " next try in %ss: %s",
            failure.consumer,
            event.pk,
            event.event_type,
            event.subject_type,
            event.subject_id,
            failure.attempts,
            MAX_ATTEMPTS,
            int(retry_delay(failure.attempts).total_seconds()),
            failure.error,
        )


_FAILURE_FIELDS = [
    "state",
    "attempts",
    "error",
    "traceback",
    "first_failed_at",
    "last_failed_at",
    "next_attempt_at",
    "resolved_at",
    "resolved_by",
    "note",
]


def _failures_record(
    *, name: str, failed: Sequence[tuple[Event, Exception]], held: Sequence[Event], now: datetime
) -> None:
    """Rows for events a batch failed on and (strict order) events held behind them.

    Written in the batch's transaction, with the cursor move past them: the cursor
    never moves past an event unless it was handled or has its row here. An event
    read again (a replay from an older cursor) starts over.
    """
    rows: list[ConsumerFailure] = []
    for event, error in failed:
        text, trace = _error_text(error)
        rows.append(
            ConsumerFailure(
                consumer=name,
                event=event,
                state=FailureState.RETRYING,
                attempts=1,
                error=text,
                traceback=trace,
                first_failed_at=now,
                last_failed_at=now,
                next_attempt_at=now + retry_delay(1),
                created_at=now,
            )
        )
    rows += [
        ConsumerFailure(consumer=name, event=event, state=FailureState.WAITING, created_at=now)
        for event in held
    ]
    ConsumerFailure.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["consumer", "event"],
        update_fields=_FAILURE_FIELDS,
    )
    for row in rows[: len(failed)]:
        _log_failure(row)
    if held:
        logger.info("event consumer %s: %s events wait behind failing ones", name, len(held))


def _failure_again(failure: ConsumerFailure, error: Exception, now: datetime) -> None:
    failure.error, failure.traceback = _error_text(error)
    failure.attempts += 1
    failure.first_failed_at = failure.first_failed_at or now
    failure.last_failed_at = now
    if failure.attempts >= MAX_ATTEMPTS:
        failure.state, failure.next_attempt_at = FailureState.PARKED, None
    else:
        failure.state = FailureState.RETRYING
        failure.next_attempt_at = now + retry_delay(failure.attempts)
    failure.save(update_fields=_FAILURE_FIELDS)
    _log_failure(failure)


def _blocked_subjects(name: str) -> set[tuple[str, int]]:
    rows = (
        ConsumerFailure.objects.filter(consumer=name, state__in=OPEN_FAILURE_STATES)
        .values_list("event__subject_type", "event__subject_id")
        .distinct()
    )
    return {(kind, subject_id) for kind, subject_id in rows if subject_id is not None}


def _release_waiting(
    *, name: str, handler: EventHandler, key: tuple[str, int] | None, now: datetime
) -> int:
    """Strict order: the subject's failing event is gone, so hand over the events that waited
    behind it, in order, until one fails (it becomes the subject's failing event)."""
    if key is None:
        return 0
    of_subject = ConsumerFailure.objects.filter(
        consumer=name, event__subject_type=key[0], event__subject_id=key[1]
    )
    if of_subject.filter(state__in=(FailureState.RETRYING, FailureState.PARKED)).exists():
        return 0  # another failing event of the subject still holds them
    waiting = list(
        of_subject.filter(state=FailureState.WAITING)
        .select_related("event")
        .order_by("event__txid", "event_id")
    )
    if not waiting:
        return 0
    run = _Pass(handler=handler, ordered_by_subject=True)
    run.run([row.event for row in waiting])
    failed = {event.pk: error for event, error in run.failed}
    still_waiting = {event.pk for event in run.held}
    handled = [
        row.pk
        for row in waiting
        if row.event_id not in failed and row.event_id not in still_waiting
    ]
    ConsumerFailure.objects.filter(pk__in=handled).delete()
    for row in waiting:
        if row.event_id in failed:
            _failure_again(row, failed[row.event_id], now)
    return len(handled)


def _retry_one(
    failure: ConsumerFailure, *, handler: EventHandler, ordered_by_subject: bool, now: datetime
) -> int | None:
    """The failure's event alone to the handler: None if it failed again, else the number of
    events that waited behind it and were handled after it."""
    error = _attempt(handler, [failure.event])
    if error is not None:
        _failure_again(failure, error, now)
        return None
    failure.state, failure.resolved_at, failure.next_attempt_at = FailureState.RESOLVED, now, None
    failure.save(update_fields=_FAILURE_FIELDS)
    if not ordered_by_subject:
        return 0
    return _release_waiting(
        name=failure.consumer, handler=handler, key=_subject_key(failure.event), now=now
    )


def _consumer_lock(name: str) -> None:
    """Take the consumer's turn: batches, retries and a person's retry never overlap."""
    ConsumerCursor.objects.bulk_create([ConsumerCursor(name=name)], ignore_conflicts=True)
    ConsumerCursor.objects.select_for_update().get(name=name)


@dataclass(frozen=True)
class LogRead:
    """The log read once for several consumers: every committed event after the cursor
    position `after` that the horizon let through when it was read, in commit order
    (at most the read's limit). It is a contiguous stretch of the log, so for any cursor
    at or past `after` the events of the read after that cursor are every event a read of
    its own would have returned, up to the read's end."""

    after: tuple[int, int]
    events: Sequence[Event]

    def after_cursor(self, position: tuple[int, int], limit: int) -> Sequence[Event] | None:
        """The read's events after `position`; None if `position` is before the read began
        (a cursor moved back, a replay): that consumer reads for itself."""
        if position < self.after:
            return None
        start = bisect.bisect_right(self.events, position, key=_position)
        return self.events[start : start + limit]


def _position(event: Event) -> tuple[int, int]:
    return (event.txid, event.id)


def consumer_run_batch(
    *,
    name: str,
    handler: EventHandler,
    batch_size: int = 500,
    ordered_by_subject: bool = False,
    now: datetime | None = None,
    read: LogRead | None = None,
) -> int:
    """Hand the next batch of committed events to `handler` and advance the cursor, atomically.

    Handler writes and the cursor move commit together, so a crash repeats the
    batch (at-least-once) and never skips one. The cursor row lock makes two
    workers on the same consumer take turns instead of handling a batch twice.
    An event the handler fails on gets a `ConsumerFailure` row in the same
    transaction (retried later, then parked); the events around it are handled.
    With `read`, the batch is taken from the log read once for every consumer
    (`consumers_drain`) after the cursor as it stands under the lock.

    The batch is first handed over without a savepoint: the two statements of one were a
    fifth of a sale day's dispatch (make bench, B2b). If that try fails (the handler
    raised, or the transaction could not be kept), the transaction is rolled back and
    the batch taken again with savepoints, where a failing event is found and recorded;
    a handler's failure is not tried twice on the same events.
    """
    options: dict[str, Any] = {
        "name": name,
        "handler": handler,
        "batch_size": batch_size,
        "ordered_by_subject": ordered_by_subject,
        "now": now,
        "read": read,
    }
    try:
        return _run_batch(**options, bare=True, tried=None)
    except _BareTryFailed as failed:
        return _run_batch(**options, bare=False, tried=(failed.ids, failed.error))
    except DatabaseError:
        # Not the handler's own exception: the transaction itself failed (a handler that
        # swallowed a database error leaves it unusable). Savepoints tell which it was.
        return _run_batch(**options, bare=False, tried=None)


def _run_batch(
    *,
    name: str,
    handler: EventHandler,
    batch_size: int,
    ordered_by_subject: bool,
    now: datetime | None,
    read: LogRead | None,
    bare: bool,
    tried: tuple[list[int], Exception] | None,
) -> int:
    with transaction.atomic():
        cursor = ConsumerCursor.objects.select_for_update().filter(name=name).first()
        if cursor is None:  # the consumer's first batch (made here, not before each batch)
            ConsumerCursor.objects.bulk_create([ConsumerCursor(name=name)], ignore_conflicts=True)
            cursor = ConsumerCursor.objects.select_for_update().get(name=name)
        batch = read.after_cursor((cursor.txid, cursor.event_id), batch_size) if read else None
        if batch is None:
            batch = selectors.events_after(
                txid=cursor.txid, event_id=cursor.event_id, limit=batch_size
            )
        if not batch:
            return 0
        run = _Pass(
            handler=handler,
            ordered_by_subject=ordered_by_subject,
            blocked=_blocked_subjects(name) if ordered_by_subject else set(),
            bare=bare,
            tried=tried,
        )
        run.run(batch)
        if run.failed or run.held:
            _failures_record(name=name, failed=run.failed, held=run.held, now=now or timezone.now())
        last = batch[-1]
        ConsumerCursor.objects.filter(pk=cursor.pk).update(
            txid=last.txid,
            event_id=last.id,
            events_handled=models.F("events_handled") + len(batch),
            updated_at=timezone.now(),
        )
    return len(batch)


def consumer_retry_due(
    *,
    name: str,
    handler: EventHandler,
    ordered_by_subject: bool = False,
    now: datetime | None = None,
    limit: int = RETRIES_PER_DRAIN,
) -> int:
    """Give the handler, one at a time, the failed events whose pause is over; returns how many.

    Each try is one handler call; after MAX_ATTEMPTS the event is parked and no
    drain calls the handler with it again (only a person's retry does).
    """
    now = now or timezone.now()
    due = ConsumerFailure.objects.filter(
        consumer=name, state=FailureState.RETRYING, next_attempt_at__lte=now
    )
    if not due.exists():  # every drain asks: one indexed query, no lock
        return 0
    with transaction.atomic():
        _consumer_lock(name)
        failures = list(due.select_related("event").order_by("event__txid", "event_id")[:limit])
        for failure in failures:
            if (
                _retry_one(failure, handler=handler, ordered_by_subject=ordered_by_subject, now=now)
                is not None
            ):
                logger.info(
                    "event consumer %s handled event %s on attempt %s",
                    name,
                    failure.event_id,
                    failure.attempts + 1,
                )
    return len(failures)


def consumer_drain(
    *,
    name: str,
    handler: EventHandler,
    batch_size: int = 500,
    max_batches: int = 200,
    ordered_by_subject: bool = False,
    now: datetime | None = None,
) -> int:
    """Retry what is due, then run batches until the consumer has caught up (or `max_batches`);
    returns the events read from the log (handled, or failed and recorded)."""
    consumer_retry_due(name=name, handler=handler, ordered_by_subject=ordered_by_subject, now=now)
    handled = 0
    for _batch in range(max_batches):
        count = consumer_run_batch(
            name=name,
            handler=handler,
            batch_size=batch_size,
            ordered_by_subject=ordered_by_subject,
            now=now,
        )
        handled += count
        if count < batch_size:
            break
    return handled


def consumers_drain(
    consumers: Sequence[registry.Consumer],
    *,
    batch_size: int = 500,
    max_batches: int = 200,
    now: datetime | None = None,
) -> int:
    """Drain several consumers as `consumer_drain` drains one, reading the log once a batch for
    all of them; returns the events read from the log.

    Consumers whose cursors stand at the same place (all of them, once they have caught
    up) share one read: a dispatch read the log once per consumer before, five times the
    same events (make bench, B2b). Each consumer still takes its batch under its own
    cursor lock, in its own transaction: one that fails, even on the database, keeps
    its cursor and stops no other. A consumer far behind (new, or replaying) reads its
    own stretch and holds back none of the others.
    """
    names = [consumer.name for consumer in consumers]
    due = set(
        ConsumerFailure.objects.filter(
            consumer__in=names,
            state=FailureState.RETRYING,
            next_attempt_at__lte=now or timezone.now(),
        )
        .values_list("consumer", flat=True)
        .distinct()
    )
    stopped: set[str] = set()
    for consumer in consumers:
        if consumer.name in due:
            try:
                consumer_retry_due(
                    name=consumer.name,
                    handler=consumer.handler,
                    ordered_by_subject=consumer.ordered_by_subject,
                    now=now,
                )
            except Exception:
                _drain_failed(consumer.name)
                stopped.add(consumer.name)
    read_total = 0
    for _batch in range(max_batches):
        groups: dict[tuple[int, int], list[registry.Consumer]] = {}
        at = _cursor_positions([name for name in names if name not in stopped])
        for consumer in consumers:
            if consumer.name not in stopped:
                groups.setdefault(at[consumer.name], []).append(consumer)
        more = False
        for after, members in groups.items():
            events = selectors.events_after(txid=after[0], event_id=after[1], limit=batch_size)
            if not events:
                continue
            read_total += len(events)
            read = LogRead(after=after, events=events)
            for consumer in members:
                try:
                    consumer_run_batch(
                        name=consumer.name,
                        handler=consumer.handler,
                        batch_size=batch_size,
                        ordered_by_subject=consumer.ordered_by_subject,
                        now=now,
                        read=read,
                    )
                except Exception:
                    _drain_failed(consumer.name)
                    stopped.add(consumer.name)
            more = more or len(events) == batch_size
        if not more:
            break
    return read_total


def _drain_failed(name: str) -> None:
    # A handler's failure on an event never gets here (the batch records it against the
    # event and moves on); this is the database itself failing. The consumer's cursor
    # stays where it was; the next wake-up or the minute's tick reads it again.
    logger.exception("event consumer %s failed", name)


def _cursor_positions(names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Where each consumer's cursor stands (no lock: a batch locks its own); a consumer
    without a row yet stands at the start."""
    found = {
        name: (txid, event_id)
        for name, txid, event_id in ConsumerCursor.objects.filter(name__in=names).values_list(
            "name", "txid", "event_id"
        )
    }
    return {name: found.get(name, (0, 0)) for name in names}
