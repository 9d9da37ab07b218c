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
from procedo.testing import child_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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
    with transaction.atomic():
        for i in range(7):
            event_record(event_type="order.created", subject_type="order", subject_id=i)

    worker = subprocess.Popen(
        [sys.executable, "-m", "procedo", "run_huey", "--workers", "1", "--no-periodic"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
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
        deadline = time.monotonic() + 45
        handled = 0
        while time.monotonic() < deadline:
            cursor = ConsumerCursor.objects.filter(name="events.daily_counts").first()
            handled = cursor.events_handled if cursor else 0
            if handled >= Event.objects.count():
                break
            time.sleep(0.2)
        assert handled == Event.objects.count() == 7
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes via /proc")
def test_the_workers_processes_end_with_their_consumer_even_when_it_is_killed(
    tmp_path: Path,
) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "procedo", "run_huey", "--workers", "2"],
        env=child_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # Two workers and the scheduler, each a process of its own.
        while len(children := _children(worker.pid)) < 3:
            assert worker.poll() is None and time.monotonic() < deadline, children
            time.sleep(0.1)
        worker.kill()  # SIGKILL: no chance to stop them
        worker.wait()
        deadline = time.monotonic() + 20
        while left := {pid for pid in children if _running(pid)}:
            assert time.monotonic() < deadline, f"orphans left running: {left}"
            time.sleep(0.1)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_a_starting_worker_reads_the_log_left_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No wake-up and no periodic tick: a worker killed mid-drain had taken the wake-up with
    it, and the one started in its place reads the log at once."""
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    with transaction.atomic():
        for i in range(3):
            event_record(event_type="order.created", subject_type="order", subject_id=i)
    worker = subprocess.Popen(
        [sys.executable, "-m", "procedo", "run_huey", "--workers", "1", "--no-periodic"],
        env=child_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 45
        handled = 0
        while handled < 3 and time.monotonic() < deadline:
            cursor = ConsumerCursor.objects.filter(name="events.daily_counts").first()
            handled = cursor.events_handled if cursor else 0
            time.sleep(0.2)
        assert handled == Event.objects.count() == 3
    finally:
        worker.terminate()
        worker.wait(timeout=20)
