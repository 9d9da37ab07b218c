"""Wake-ups of the consumers coalesce, and a drain held back by the horizon reads as soon as it
passes, without a chain of wake-ups per write."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from django.db import connection, transaction
from huey.api import Huey

from procedo.events import registry, tasks, wakeups
from procedo.events.models import Event
from procedo.events.services.consumers import consumer_drain
from procedo.events.services.recording import event_record
from procedo.events.tasks import events_dispatch
from procedo.events.tests.queue import pending, queued_huey, run_queue

pytestmark = pytest.mark.django_db(transaction=True)
NAME = "test.wakeups"


@pytest.fixture
def queue() -> Iterator[Huey]:
    with queued_huey() as huey:
        yield huey


class Seen(list[str]):
    """A consumer of our own that notes the events it is handed."""

    def __call__(self, events: Sequence[Event]) -> None:
        self.extend(event.event_type for event in events)


@pytest.fixture
def seen() -> Iterator[Seen]:
    handler = Seen()
    registry.consumer_register(name=NAME, handler=handler)
    yield handler
    registry.consumer_unregister(NAME)


@pytest.fixture
def unwoken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits wake nobody: the test runs the dispatcher itself."""
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)


def _write(event_type: str) -> None:
    with transaction.atomic():
        event_record(event_type=event_type)


def test_commits_while_no_worker_runs_leave_one_wake_up_in_the_queue(
    queue: Huey, seen: Seen
) -> None:
    for n in range(5):
        _write(f"thing.{n}")
    assert pending(queue) == ["events_dispatch"]  # one per commit flooded the queue

    assert run_queue(queue) == ["events_dispatch"]
    assert seen == [f"thing.{n}" for n in range(5)]

    # The wake-up took its mark as it began: the next commit enqueues the next one.
    _write("thing.5")
    assert pending(queue) == ["events_dispatch"]
    run_queue(queue)
    assert seen[-1] == "thing.5"


def test_a_mark_left_by_a_process_killed_before_it_enqueued_stops_no_wake_up_for_long(
    queue: Huey,
) -> None:
    mark = wakeups._mark(events_dispatch, later=False)
    # A wake-up marked a moment ago is taken as waiting in the queue ...
    queue.put(mark, time.time())
    _write("thing.one")
    assert pending(queue) == []
    # ... but a mark older than that was left by a process that died before it enqueued.
    queue.put(mark, time.time() - wakeups.STALE_AFTER - 1)
    _write("thing.two")
    assert pending(queue) == ["events_dispatch"]


def _connection(dbname: str | None = None) -> psycopg.Connection:
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    if dbname:
        params["dbname"] = dbname
    return psycopg.connect(**params)


@pytest.mark.usefixtures("postgres_only", "unwoken")
def test_a_transaction_open_in_another_database_does_not_hold_the_log_back(seen: Seen) -> None:
    # The database the tests' own is named after (test_<name>) is another on the same server.
    other = str(connection.settings_dict["NAME"]).removeprefix("test_")
    with _connection(other) as elsewhere:
        elsewhere.execute("SELECT pg_current_xact_id()")  # a transaction id, and it stays open
        _write("thing.committed")
        consumer_drain(name=NAME, handler=seen)
        assert seen == ["thing.committed"]
        elsewhere.rollback()


@pytest.mark.usefixtures("postgres_only", "unwoken")
def test_a_held_back_drain_reads_the_moment_the_older_transaction_ends(
    queue: Huey, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "HELD_BACK_WAIT", 60.0)
    waiting = threading.Event()
    horizon = tasks.events_horizon

    def watched_horizon() -> int:
        waiting.set()
        return horizon()

    monkeypatch.setattr(tasks, "events_horizon", watched_horizon)
    with _connection() as older:
        older.execute("SELECT pg_current_xact_id()")  # open, and older than the write below
        _write("thing.later")
        consumer_drain(name=NAME, handler=seen)
        assert seen == []  # held back: the older transaction may yet commit events

        def dispatch() -> None:
            try:
                events_dispatch.call_local()
            finally:
                connection.close()

        thread = threading.Thread(target=dispatch)
        thread.start()
        assert waiting.wait(timeout=30), "the dispatcher did not watch the horizon"
        older.rollback()
        thread.join(timeout=30)
    assert seen == ["thing.later"]
    assert pending(queue) == []  # read at once: no second look was enqueued


@pytest.mark.usefixtures("postgres_only")
def test_drains_held_back_by_a_long_transaction_leave_one_delayed_look(
    queue: Huey, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "HELD_BACK_WAIT", 0.05)
    with _connection() as long_running:
        long_running.execute("SELECT pg_current_xact_id()")
        for n in range(3):
            _write(f"thing.{n}")
            run_queue(queue)  # each write's wake-up gives up after HELD_BACK_WAIT
        assert seen == []
        # One look a second later, not one per write (each of which used to start a chain).
        (later,) = queue.scheduled()
        assert type(later).__name__ == "events_dispatch" and later.kwargs == {"attempt": 1}
        long_running.rollback()
    later.execute()
    assert seen == ["thing.0", "thing.1", "thing.2"]


@pytest.mark.usefixtures("postgres_only", "unwoken")
def test_a_drain_leaves_the_held_back_watch_to_the_wake_up_queued_since_it_began(
    queue: Huey, seen: Seen, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks: list[int] = []
    horizon = tasks.events_horizon

    def watched_horizon() -> int:
        looks.append(1)
        return horizon()

    monkeypatch.setattr(tasks, "events_horizon", watched_horizon)
    with _connection() as older:
        older.execute("SELECT pg_current_xact_id()")
        _write("thing.held")
        consumer_drain(name=NAME, handler=seen)
        assert seen == []  # held back by the older transaction
        # A commit since this wake-up began enqueued the next one: it will watch.
        wakeups.wake(events_dispatch)
        tasks._drain_held_back(0)
        assert looks == [] and seen == []
        older.rollback()
    assert run_queue(queue) == ["events_dispatch"]
    assert seen == ["thing.held"]
