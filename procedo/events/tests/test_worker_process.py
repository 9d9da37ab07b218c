"""A real Huey consumer process, on the configured queue, drains the log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import transaction

from procedo.events.models import ConsumerCursor, Event
from procedo.events.services.recording import event_record
from procedo.testing import child_env, process_alive, process_children, worker_process

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _handled_by_the_worker(count: int) -> int:
    """Events the worker's daily counts have read, once `count` or after 45 s."""
    deadline = time.monotonic() + 45
    while True:
        cursor = ConsumerCursor.objects.filter(name="events.daily_counts").first()
        handled = cursor.events_handled if cursor else 0
        if handled >= count or time.monotonic() > deadline:
            return handled
        time.sleep(0.2)


def _record(n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            event_record(event_type="order.created", subject_type="order", subject_id=i)


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_a_wake_up_through_the_queue_makes_the_worker_drain_the_log(
    queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if queue == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        env = child_env(tmp_path, REDIS_URL=os.environ["REDIS_URL"])
    else:
        env = child_env(tmp_path)
    # The tests' Huey is eager; here only the worker process may drain.
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    _record(1)
    with worker_process(env, "--workers", "1", "--no-periodic"):
        # Its look at the log as it starts is over before the events come.
        assert _handled_by_the_worker(1) == 1
        _record(7)
        # Another process (as a web request would) only enqueues the wake-up.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from procedo.events.tasks import events_dispatch;"
                " events_dispatch()",
            ],
            env=env,
            check=True,
            timeout=60,
        )
        assert _handled_by_the_worker(8) == Event.objects.count() == 8


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes via /proc")
def test_the_workers_processes_end_with_their_consumer_even_when_it_is_killed(
    tmp_path: Path,
) -> None:
    with worker_process(child_env(tmp_path), "--workers", "2") as worker:
        deadline = time.monotonic() + 60
        # Two workers and the scheduler, each a process of its own.
        while len(children := process_children(worker.pid)) < 3:
            assert worker.poll() is None and time.monotonic() < deadline, children
            time.sleep(0.1)
        worker.kill()  # SIGKILL: no chance to stop them
        worker.wait()
        deadline = time.monotonic() + 20
        while left := [pid for pid in children if process_alive(pid)]:
            assert time.monotonic() < deadline, f"orphans left running: {left}"
            time.sleep(0.1)


def test_a_starting_worker_reads_the_log_left_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No wake-up and no periodic tick: a worker killed mid-drain had taken the wake-up with
    it, and the one started in its place reads the log at once."""
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    _record(3)
    with worker_process(child_env(tmp_path), "--workers", "1", "--no-periodic"):
        assert _handled_by_the_worker(3) == Event.objects.count() == 3
