"""A dispatch reads the log once for every consumer whose cursor stands at the same place,
and the executor's wake-up after the engine's batch runs in the worker's own thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from huey.api import Huey
from huey.contrib.djhuey import db_task

from procedo.events import registry, wakeups
from procedo.events.models import ConsumerCursor, Event
from procedo.events.services import consumers as consumer_services
from procedo.events.services.consumers import LogRead, consumers_drain
from procedo.events.services.recording import event_record
from procedo.events.tests.queue import pending, queued_huey
from procedo.testing import oldest_transaction

pytestmark = pytest.mark.django_db(transaction=True)


class Seen(list[int]):
    """A consumer of our own that notes the ids of the events it is handed."""

    def __call__(self, events: Sequence[Event]) -> None:
        self.extend(event.id for event in events)


def _consumers(*names: str) -> list[tuple[registry.Consumer, Seen]]:
    made = []
    for name in names:
        seen = Seen()
        made.append((registry.Consumer(name=name, handler=seen), seen))
    return made


def _write(n: int) -> list[int]:
    with transaction.atomic():
        for i in range(n):
            event_record(event_type="thing.happened", subject_type="thing", subject_id=i)
    return list(Event.objects.order_by("txid", "id").values_list("id", flat=True))


def _drain_until(
    consumers: list[tuple[registry.Consumer, Seen]], seen: Seen, count: int, **options: Any
) -> list[list[str]]:
    """Drain until `seen` holds `count` events (on PostgreSQL the horizon may hold them a
    moment); the statements that read the log, per drain."""
    reads: list[list[str]] = []
    deadline = time.monotonic() + 120
    while len(seen) < count:
        assert time.monotonic() < deadline, f"held back by {oldest_transaction()}"
        with CaptureQueriesContext(connection) as captured:
            consumers_drain([consumer for consumer, _seen in consumers], **options)
        reads.append(
            [q["sql"] for q in captured.captured_queries if 'FROM "events_event"' in q["sql"]]
        )
    return reads


def test_consumers_at_one_place_share_one_read_of_the_log() -> None:
    consumers = _consumers("test.one", "test.two", "test.three")
    ids = _write(5)
    reads = _drain_until(consumers, consumers[-1][1], 5)
    # One read a drain for all three (it was one per consumer), and each got every event.
    assert all(len(read) <= 1 for read in reads), reads
    assert [seen for _consumer, seen in consumers] == [ids, ids, ids]
    assert set(ConsumerCursor.objects.values_list("event_id", flat=True)) == {ids[-1]}


def test_a_consumer_far_behind_reads_its_own_stretch_and_holds_back_no_other() -> None:
    (ahead, ahead_seen), (behind, behind_seen) = _consumers("test.ahead", "test.behind")
    old = _write(6)
    ConsumerCursor.objects.create(name=ahead.name, txid=0, event_id=old[-1])
    ConsumerCursor.objects.create(name=behind.name, txid=0, event_id=0)
    if connection.vendor == "postgresql":
        last = Event.objects.get(pk=old[-1])
        ConsumerCursor.objects.filter(name=ahead.name).update(txid=last.txid)
    ids = _write(2)
    # Batches of 3: the one behind reads its 8 events in three; the one ahead reads its 2
    # from where it stands, alongside.
    _drain_until([(ahead, ahead_seen), (behind, behind_seen)], behind_seen, 8, batch_size=3)
    assert behind_seen == ids and ahead_seen == ids[-2:]


def test_a_cursor_moved_back_since_the_read_reads_for_itself() -> None:
    events = [Event(id=n, txid=0) for n in (4, 5, 6)]
    read = LogRead(after=(0, 3), events=events)
    assert [e.id for e in read.after_cursor((0, 3), 10) or []] == [4, 5, 6]
    assert [e.id for e in read.after_cursor((0, 4), 1) or []] == [5]
    assert read.after_cursor((0, 6), 10) == []
    assert read.after_cursor((0, 2), 10) is None  # a replay: not a stretch this read holds


def test_a_consumer_whose_batch_fails_on_the_database_stops_no_other(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    consumers = _consumers("test.broken", "test.fine")
    run_batch = consumer_services.consumer_run_batch

    def broken(**options: Any) -> int:
        if options["name"] == "test.broken":
            raise DatabaseError("the connection went away")
        return run_batch(**options)

    monkeypatch.setattr(consumer_services, "consumer_run_batch", broken)
    ids = _write(3)
    caplog.set_level(logging.ERROR)
    _drain_until(consumers, consumers[1][1], 3)
    assert consumers[1][1] == ids and consumers[0][1] == []
    assert "event consumer test.broken failed" in caplog.text
    assert not ConsumerCursor.objects.filter(name="test.broken", event_id__gt=0).exists()


calls: list[str] = []


@db_task()
def noted(label: str) -> None:
    calls.append(label)
    wakeups.wake(noted, here=True, label="nested")


@pytest.fixture
def queue() -> Iterator[Huey]:
    calls.clear()
    with queued_huey() as huey:
        yield huey


def test_a_wake_up_asked_here_runs_at_once_only_in_a_serving_thread(queue: Huey) -> None:
    wake: Callable[..., None] = wakeups.wake
    wake(noted, here=True, label="web")
    assert calls == [] and pending(queue) == ["noted"]  # a web request enqueues
    queue.flush()
    with wakeups.serving():
        wake(noted, here=True, label="worker")
    # Run in this thread; what it wakes in turn goes through the queue.
    assert calls == ["worker"] and pending(queue) == ["noted"]


def test_the_engine_leads_every_dispatch() -> None:
    assert registry.consumers_all()[0].name == "automation.engine"
