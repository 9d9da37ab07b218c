"""The worker's Huey: its consumer runs tasks in processes of their own (`worker_type`
"process"), and each of those ends with the consumer that forked it.

Processes, not threads: the worker's Python held one core for both of its threads while
the database and the web server had the other, and it applied 500 new shop orders a second
no faster than they came (make bench, B1b on PostgreSQL: 9,000 orders in 18 s, lag p95
5.7 s with threads, 1.1 s with processes; alone, 518 against 583 orders a second).
"""

from __future__ import annotations

import os
import signal
from typing import Any

import huey
from huey.consumer import Consumer, Environment, ProcessEnvironment

from procedo.core.processes import die_with_parent


class _Processes(ProcessEnvironment):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.consumer_pid = os.getpid()

    def init_child(self, process: Any) -> None:
        super().init_child(process)
        # SIGKILL: Huey's child takes SIGTERM only as "stop the task in hand", then waits for
        # a stop flag a dead consumer never sets; an orphan would go on taking tasks (the
        # scheduler enqueueing them) beside the consumer started in its place.
        hook = die_with_parent(signal.SIGKILL)
        if hook is not None:
            hook()
        if os.getppid() != self.consumer_pid:  # it died before the call
            os._exit(1)


class _Consumer(Consumer):
    def get_environment(self, worker_type: str) -> Environment:
        if worker_type == "process":
            return _Processes(self._graceful_sig, self._interrupt_sig)
        return super().get_environment(worker_type)

    def start(self) -> None:
        if self.environment.forks:
            # A child must not share the parent's connection to the database (Huey closes
            # its own queue's); each opens its own.
            from django.db import connections

            connections.close_all()
        super().start()


class SqliteHuey(huey.SqliteHuey):
    def create_consumer(self, **options: Any) -> Consumer:
        return _Consumer(self, **options)


class RedisHuey(huey.RedisHuey):
    def create_consumer(self, **options: Any) -> Consumer:
        return _Consumer(self, **options)
