"""Huey tasks for the log: wake-ups only. The cursors in the database are the state."""

from __future__ import annotations

import time

from django.db import connection
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from procedo.events import wakeups
from procedo.events.registry import consumers_all
from procedo.events.selectors import events_horizon, events_unread_last_txid
from procedo.events.services.consumers import consumers_drain

# On PostgreSQL a drain stops short of committed events while an older transaction of this
# database is still open (a worker's step, a web request, an import's batch). Their writing
# part lasts milliseconds, so the dispatcher watches the horizon and reads those events the
# moment it passes them. Before, it looked again a second later (two, with Huey's one-second
# scheduler), and every write started a chain of such looks of its own (make bench, B2b).
# A transaction still open after HELD_BACK_WAIT frees the worker thread: one delayed look a
# second follows, up to HELD_BACK_RETRIES times; the minute's tick reads what is left then.
HELD_BACK_WAIT = 0.25
HELD_BACK_POLL = 0.01
HELD_BACK_RETRIES = 30
# Events a consumer takes at a time in the worker. A batch's fixed cost is large beside its
# events' (the daily sales counts the batch's days again, whole): 2,000 at a time cost the
# consumers 143–183 µs of Python and 60 of the database per new shop order, 500 at a time
# 308 and 150 (make bench, B1b's orders, all of one day). A quiet log's batch is what is
# there, so this holds back no event.
DRAIN_BATCH = 2000


def _drain_all() -> None:
    # In the worker's thread: the executor's wake-up after the engine's batch runs here at
    # once (the engine is first), not behind the drains queued meanwhile.
    with wakeups.serving():
        consumers_drain(consumers_all(), batch_size=DRAIN_BATCH)


def _drain_held_back(attempt: int) -> None:
    """Drain again as soon as the horizon passes the events this drain found held back."""
    if wakeups.pending(events_dispatch):
        # Something committed since this wake-up began, and its wake-up waits in the queue:
        # that one drains and watches the horizon. Draining here as well read every consumer
        # twice a wake-up under a steady stream of writes (a sale day: make bench, B2b).
        return
    wanted = events_unread_last_txid(names=[consumer.name for consumer in consumers_all()])
    if wanted is None:
        return
    deadline = time.monotonic() + HELD_BACK_WAIT
    while events_horizon() <= wanted:
        if time.monotonic() >= deadline:
            if attempt < HELD_BACK_RETRIES:
                wakeups.wake(events_dispatch, delay=1, attempt=attempt + 1)
            return
        time.sleep(HELD_BACK_POLL)
    _drain_all()


@db_task()
def events_dispatch(attempt: int = 0) -> None:
    # Taken first: an event committed from now on enqueues the next wake-up, and one
    # committed before is read below. No task lock: the cursor row lock already makes
    # concurrent drains take turns.
    wakeups.taken(events_dispatch, later=attempt > 0)
    _drain_all()
    if connection.vendor == "postgresql":
        _drain_held_back(attempt)


@on_startup()
def events_on_start() -> None:
    """A worker process that starts (again, after one was killed mid-drain with the wake-up
    taken) reads the log at once, not at the minute's tick."""
    wakeups.wake(events_dispatch)


@db_periodic_task(crontab(minute="*"))
def events_tick() -> None:
    """Once a minute, whatever happened to the wake-ups: the guarantee of delivery."""
    _drain_all()
