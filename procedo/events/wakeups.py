"""Wake-ups that coalesce: at most one of each kind waits in the queue at a time.

Every commit that writes events enqueues a wake-up of the consumers, and the
worker's own writes (each task an SOP step creates records `task.created`)
enqueue more. One per commit flooded the queue: 100 writes of order events
in 10 s made the steps create ~900 tasks, which enqueued ~900 more drains,
each reading both consumers, and the executor's wake-up waited behind them in
Huey's FIFO (make bench, B2b at 40 events/s: event → task p95 8–13 s on
SQLite). A wake-up says "look now", so one waiting in the queue is as good as
a hundred.

A pending wake-up is a mark in Huey's own key-value store (`put_if_empty`:
one atomic write on SQLite and Redis) holding the moment it is due. The task
takes the mark off before it looks, so whatever commits after that enqueues
the next one and nothing is left unseen. A process killed between marking
and enqueueing leaves a mark that no task takes off: a mark more than
`STALE_AFTER` past its moment is ignored, and the minute's tick reads
everything regardless.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from huey.api import TaskWrapper

# A wake-up due now is normally taken within a poll of the queue (0.1 s). A mark this
# far past its moment was left by a process that died before it enqueued, or the queue
# is backed up behind long tasks (an import): one more wake-up a second costs nothing.
STALE_AFTER = 1.0


def _mark(task: TaskWrapper, later: bool) -> str:
    kind = task.task_class
    return f"procedo.wake:{kind.__module__}.{kind.__name__}{':later' if later else ''}"


# Set while a worker's thread drains the consumers (`serving`): a wake-up asked for `here`
# then runs in that thread at once instead of going through the queue.
_serving: ContextVar[bool] = ContextVar("procedo_wake_serving", default=False)


@contextmanager
def serving() -> Iterator[None]:
    """The worker's own thread serves wake-ups asked for with `here=True` while inside."""
    token = _serving.set(True)
    try:
        yield
    finally:
        _serving.reset(token)


def wake(
    task: TaskWrapper, *, delay: float | None = None, here: bool = False, **kwargs: Any
) -> None:
    """Enqueue `task` (`delay` seconds from now) unless such a wake-up is waiting already.

    A delayed wake-up has a mark of its own, so it never holds back one due now. With
    `here`, inside `serving` (a worker's thread, after a commit), the task runs now in
    this thread: on a sale day the executor's wake-up waited in the queue until one of
    the two threads, both draining consumers, was free (make bench, B2b). What it
    wakes in turn goes through the queue again.
    """
    if here and delay is None and _serving.get():
        token = _serving.set(False)
        try:
            task.call_local(**kwargs)
        finally:
            _serving.reset(token)
        return
    huey, key = task.huey, _mark(task, later=delay is not None)
    now = time.time()
    due = now + (delay or 0)
    if not huey.put_if_empty(key, due):
        marked = huey.get(key, peek=True)
        if marked is not None and now - marked < STALE_AFTER:
            return
        huey.put(key, due)
    if delay is None:
        task(**kwargs)
    else:
        task.schedule(kwargs=kwargs, delay=delay)


def pending(task: TaskWrapper) -> bool:
    """Whether a wake-up of `task` due now waits in the queue (marked, and not stale)."""
    marked = task.huey.get(_mark(task, later=False), peek=True)
    return marked is not None and time.time() - marked < STALE_AFTER


def taken(task: TaskWrapper, *, later: bool = False) -> None:
    """The wake-up started: later commits must enqueue a new one. Call first in the task."""
    task.huey.delete(_mark(task, later))
