"""The worker woken for stored deliveries, coalesced across them (make bench, B1)."""

from __future__ import annotations

import logging
import os
import threading
import time

from procedo.events import wakeups

logger = logging.getLogger(__name__)


def deliveries_wake() -> None:
    """The worker woken now for stored deliveries (a replay: one, by a person)."""
    from procedo.integrations.tasks import deliveries_process

    try:
        wakeups.wake(deliveries_process)
    except Exception:
        # The delivery is stored; the minute's sweep (deliveries_tick) takes it up.
        logger.exception("could not wake the worker for deliveries")


class _Coalescer:
    """The worker woken after deliveries are stored, at most once per WINDOW per process.

    Each wake-up is a write to Huey's store (its SQLite file or Redis); one per delivery
    was a third of the hook's time at 8 concurrent posts (make bench, B1). A thread of
    this process wakes the worker as soon as it is asked, then waits WINDOW before it
    wakes it again for whatever was stored meanwhile: every stored delivery is followed by
    a wake-up that starts after its commit, none waits more than WINDOW for it. A process
    killed in between leaves its deliveries to the minute's sweep (deliveries_tick).
    """

    WINDOW = 0.1  # seconds

    def __init__(self) -> None:
        self._asked = threading.Condition()
        self._pending = False
        self._pid = 0  # the process whose thread runs: a forked child starts its own

    def ask(self) -> None:
        from huey.contrib.djhuey import HUEY

        if HUEY.immediate:  # tests: the task runs in the caller, as it did before
            deliveries_wake()
            return
        with self._asked:
            self._pending = True
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(
                    target=self._run, name="procedo-deliveries-wake", daemon=True
                ).start()
            self._asked.notify()

    def _run(self) -> None:
        while True:
            with self._asked:
                while not self._pending:
                    self._asked.wait()
                self._pending = False
            deliveries_wake()
            time.sleep(self.WINDOW)


_coalescer = _Coalescer()


def deliveries_wake_soon() -> None:
    _coalescer.ask()
