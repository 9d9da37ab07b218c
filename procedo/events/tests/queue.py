"""Huey as in production for a test: wake-ups wait in a queue (in memory) until run.

The tests' Huey is eager: a wake-up runs inside the commit that enqueues it. A test
about wake-ups needs to see what waits in the queue, and to run it as a worker would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from huey.api import Huey
from huey.contrib.djhuey import HUEY
from huey.storage import MemoryStorage


@contextmanager
def queued_huey() -> Iterator[Huey]:
    HUEY.immediate = False
    HUEY.storage = MemoryStorage(HUEY.name)
    try:
        yield HUEY
    finally:
        HUEY.immediate = True  # a fresh in-memory queue, eager again


def pending(huey: Huey) -> list[str]:
    return [type(task).__name__ for task in huey.pending()]


def run_queue(huey: Huey) -> list[str]:
    """Take and run what waits in the queue, as a worker would, until none is left: a task
    due later goes to the schedule (not run here), and no periodic task is ever run."""
    ran: list[str] = []
    while (task := huey.dequeue()) is not None:
        if not huey.ready_to_run(task):
            huey.add_schedule(task)
            continue
        ran.append(type(task).__name__)
        task.execute()
    return ran
