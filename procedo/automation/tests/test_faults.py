"""Fault tests with real processes (R2, R5 and "two workers at once"), bounded to seconds.

Workers are separate OS processes on the test database, SIGKILLed at random;
on PostgreSQL the writers sleep inside their transactions so that commits land
out of id order. Whatever happens, each (SOP, subject, occurrence) has one run,
a replay from cursor 0 adds nothing, and each step's effect exists once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from procedo.automation.models import Run, RunState, RunStep
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import (
    customer,
    engine_drain,
    event_trigger,
    sop_live,
    task_step,
)
from procedo.events.models import ConsumerCursor, Event
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.messaging.models import Message
from procedo.testing import child_env
from procedo.work.models import Task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Events written by the chaos test; `PROCEDO_CHAOS_EVENTS=50000` runs the full R2.
CHAOS_EVENTS = int(os.environ.get("PROCEDO_CHAOS_EVENTS", "4000"))


class Workers:
    """Engine worker processes that a test can start, kill and restart."""

    def __init__(self, tmp_path: Path, mode: str, count: int) -> None:
        self.env = child_env(tmp_path)
        self.mode = mode
        self.procs = [self._start() for _ in range(count)]
        self.kills = 0

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "procedo.automation.tests.worker", self.mode, "97"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.procs))
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait(timeout=10)
        self.kills += 1
        self.procs[index] = self._start()

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=10)


def test_r2_chaos_one_run_per_occurrence_none_skipped_and_replay_adds_nothing(
    tmp_path: Path, quiet: None
) -> None:
    everything, _rev = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step()]}, name="Every order"
    )
    big, _rev = sop_live(
        definition={
            "triggers": [
                event_trigger(rules=[{"field": "event.total", "op": "gte", "value": "100"}])
            ],
            "steps": [task_step("vip", title="Big order")],
        },
        name="Big orders",
        holdout_percent=25,
    )
    rng = random.Random(20240605)
    totals = [Decimal(rng.randrange(10, 200)) for _ in range(CHAOS_EVENTS)]
    postgres = connection.vendor == "postgresql"

    def writer(part: int, parts: int) -> None:
        try:
            local = random.Random(part)
            mine = list(range(part, CHAOS_EVENTS, parts))
            for start in range(0, len(mine), 50):
                with transaction.atomic():
                    events_record_many(
                        NewEvent(
                            event_type="order.created",
                            subject_type="order",
                            subject_id=100_000 + i,
                            payload={"total": str(totals[i])},
                        )
                        for i in mine[start : start + 50]
                    )
                    if postgres:  # a slow writer: its lower ids commit after later ones
                        time.sleep(local.uniform(0, 0.03))
                # Writing goes on for a few seconds, so the workers die mid-stream.
                time.sleep(local.uniform(0.05, 0.15))
        finally:
            connection.close()  # the thread's own; kept for a minute otherwise (CONN_MAX_AGE)

    workers = Workers(tmp_path, "consume", 2)
    try:
        writers = [threading.Thread(target=writer, args=(n, 4)) for n in range(4)]
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 120
        while any(thread.is_alive() for thread in writers) and time.monotonic() < deadline:
            # Long enough for a restarted worker to boot and take a batch on a
            # loaded 2-core machine; short enough to kill each mid-stream.
            time.sleep(rng.uniform(1.0, 2.0))
            workers.kill_one(rng)
        for thread in writers:
            thread.join(timeout=30)
        # Let the survivors race a little longer, killing now and then.
        for _ in range(3):
            time.sleep(0.3)
            workers.kill_one(rng)
        # The last restarted workers get time to boot and take batches, however
        # loaded the machine is, so the check below sees them at work.
        settle = time.monotonic() + 30
        while (
            time.monotonic() < settle
            and not ConsumerCursor.objects.filter(
                name="automation.engine", events_handled__gt=0
            ).exists()
        ):
            time.sleep(0.5)
    finally:
        workers.stop()
    assert workers.kills >= 3
    handled_by_workers = ConsumerCursor.objects.get(name="automation.engine").events_handled
    assert handled_by_workers > 0
    engine_drain(timeout=90)

    events = dict(
        Event.objects.filter(event_type="order.created").values_list("id", "payload__total")
    )
    assert len(events) == CHAOS_EVENTS
    expected = {(everything.pk, f"e{pk}") for pk in events} | {
        (big.pk, f"e{pk}") for pk, total in events.items() if Decimal(total) >= 100
    }
    runs = set(Run.objects.values_list("sop_id", "occurrence_key"))
    assert runs == expected  # none skipped, none extra
    assert Run.objects.count() == len(expected)  # none twice
    running = Run.objects.exclude(state=RunState.HELD_OUT).count()
    assert RunStep.objects.count() == running  # one first step each
    assert Run.objects.filter(sop=big, state=RunState.HELD_OUT).exists()

    ConsumerCursor.objects.filter(name="automation.engine").update(txid=0, event_id=0)
    engine_drain(timeout=90)
    assert Run.objects.count() == len(expected)
    assert RunStep.objects.count() == running


def test_two_workers_at_once_and_a_kill_mid_batch_execute_each_step_once(
    tmp_path: Path, quiet: None
) -> None:
    sop_live(
        definition={
            "triggers": [event_trigger("customer.created")],
            "steps": [
                {
                    "kind": "email",
                    "key": "hello",
                    "title": "Welcome",
                    "subject": "Вітаємо",
                    "body": "Hello {{ customer.first_name }}",
                },
                {"kind": "add_tag", "key": "tag", "title": "Tag", "tag": "welcomed"},
                task_step("call", title="Welcome call"),
            ],
        },
        subject_type="customer",
        name="Welcome",
    )
    count = 120
    for i in range(count):
        customer(email=f"buyer{i}@example.com")
    engine_drain()
    assert Run.objects.count() == count

    rng = random.Random(7)
    workers = Workers(tmp_path, "advance", 3)
    try:
        # Kill a worker now and then while all three race for the same runs ...
        for _ in range(4):
            time.sleep(rng.uniform(0.3, 0.8))
            workers.kill_one(rng)
        # ... then let the survivors finish what is not leased to the dead.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            free = Run.objects.filter(
                state__in=(RunState.RUNNING,), claimed_until__isnull=True
            ).exists()
            if not free:
                break
            time.sleep(0.1)
    finally:
        workers.stop()
    # Leases of killed workers run out; the tick advances whatever they held.
    executor.runs_advance_all(now=timezone.now() + executor.LEASE * 2)

    assert Message.objects.count() == count
    assert Event.objects.filter(event_type="message.queued").count() == count
    assert Task.objects.count() == count
    assert Event.objects.filter(event_type="task.created").count() == count
    assert Event.objects.filter(event_type="customer.tagged").count() == count
    per_run = RunStep.objects.values_list("run_id", "step_key")
    assert len(per_run) == len(set(per_run)) == 3 * count
    assert set(Run.objects.values_list("state", flat=True)) == {RunState.WAITING}


def test_r5_a_killed_queue_worker_loses_nothing_and_the_tick_finishes_once(
    tmp_path: Path, quiet: None
) -> None:
    sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})
    with transaction.atomic():
        events_record_many(
            NewEvent(event_type="order.created", subject_type="order", subject_id=10_000 + i)
            for i in range(600)
        )
    env = child_env(tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "procedo", "run_huey", "--workers", "2", "--no-periodic"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Another process (a web request) enqueues the wake-up; the worker starts on it.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup();"
                " from procedo.events.tasks import events_dispatch; events_dispatch()",
            ],
            env=env,
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not Task.objects.exists():
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)  # mid-task: Huey acknowledges nothing
        worker.wait(timeout=10)
    assert Task.objects.count() < 600, "the worker finished before it could be killed"

    from procedo.automation.tasks import automation_tick
    from procedo.events.tasks import events_tick

    # The minute's tick, whatever the queue lost. Leases of the dead worker expire first.
    events_tick.call_local()
    engine_drain()
    executor.runs_advance_all(now=timezone.now() + executor.LEASE * 2)
    automation_tick.call_local()
    assert Run.objects.count() == 600
    assert Task.objects.count() == 600
    assert Event.objects.filter(event_type="task.created").count() == 600
    assert set(Run.objects.values_list("state", flat=True)) == {RunState.WAITING}
