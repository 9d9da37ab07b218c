"""Processes for the lost-wake-up tests: each dies (SIGKILL) between a commit and its wake-up.

    python -m procedo.automation.tests.dying writer   # places an order, as the web would
    python -m procedo.automation.tests.dying worker   # a Huey consumer (run_huey)

The writer dies as its commit would enqueue the consumers' wake-up; the worker
dies as the engine's commit would enqueue the executor's. Whatever they
committed stays; the wake-up is lost with the process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from typing import Any

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command

    from procedo.events import wakeups

    role = sys.argv[1]
    dies_at = {"writer": "events_dispatch", "worker": "automation_wake"}[role]
    wake = wakeups.wake

    def wake_or_die(task: Any, **kwargs: Any) -> None:
        if task.task_class.__name__ == dies_at:
            # The worker's tasks run in processes the consumer forked: it goes first, or it
            # would fork another in this one's place.
            consumer = multiprocessing.parent_process()
            if consumer is not None and consumer.pid is not None:
                os.kill(consumer.pid, signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
        wake(task, **kwargs)

    wakeups.wake = wake_or_die
    if role == "worker":
        call_command("run_huey", "--workers", "1", "--no-periodic")
    else:
        from procedo.automation.tests.helpers import order

        order()
    sys.exit("still alive: the wake-up never came")


if __name__ == "__main__":
    main()
