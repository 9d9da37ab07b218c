"""A wake-up lost with its process, killed between the commit and the wake-up, costs at most
one tick: the minute's tick still makes the task (real processes, SIGKILLed at that moment)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from huey import SqliteHuey

from procedo.automation.models import Run, RunState
from procedo.automation.tasks import automation_tick
from procedo.automation.tests.helpers import event_trigger, order, sop_live, task_step
from procedo.events.models import Event
from procedo.events.tasks import events_tick
from procedo.orders.models import Order
from procedo.work.models import Task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _env(tmp_path: Path) -> dict[str, str]:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{settings['NAME']}"
    else:
        url = (
            f"postgresql://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}"
        )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=url, PROCEDO_VAR=str(tmp_path)
    )
    return env


def _queued(tmp_path: Path) -> list[str]:
    """The tasks waiting in the processes' queue (Huey on SQLite in their PROCEDO_VAR), now
    or later, by name."""
    queue = SqliteHuey("procedo", filename=str(tmp_path / "huey.sqlite3"))
    try:
        waiting = [*queue.storage.enqueued_items(), *queue.storage.scheduled_items()]
        return [queue.serializer.deserialize(item).name for item in waiting]
    finally:
        queue.storage.close()


def _dying(role: str) -> list[str]:
    return [sys.executable, "-m", "procedo.automation.tests.dying", role]


@pytest.fixture
def sop() -> None:
    sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})


@pytest.mark.usefixtures("sop")
def test_a_writer_killed_after_its_commit_loses_the_wake_up_and_the_tick_makes_the_task(
    tmp_path: Path,
) -> None:
    died = subprocess.run(_dying("writer"), env=_env(tmp_path), timeout=60, check=False)

    assert died.returncode == -signal.SIGKILL
    placed = Order.objects.get()  # committed, with its event, before the process died
    assert Event.objects.filter(event_type="order.created", subject_id=placed.pk).exists()
    assert not Run.objects.exists() and _queued(tmp_path) == []

    # The minute's tick drains the log; the engine's commit wakes the executor (this
    # test's Huey runs that wake-up in place).
    events_tick.call_local()
    assert Task.objects.filter(subject_id=placed.pk).count() == 1


@pytest.mark.usefixtures("sop")
def test_a_worker_killed_between_the_engines_commit_and_its_wake_up_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the worker process reads the log here: this process's commits wake nobody.
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    placed = order()
    env = _env(tmp_path)
    worker = subprocess.Popen(
        _dying("worker"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # Another process (as a web request would) enqueues the consumers' wake-up.
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
        assert worker.wait(timeout=60) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)

    run = Run.objects.get(subject_id=placed.pk)  # the engine's batch committed ...
    assert run.state == RunState.RUNNING and run.wake_at is not None
    assert not Task.objects.exists()  # ... its wake-up died; what the worker's start
    # enqueued (the deliveries' look) may still wait, the executor's wake-up may not.
    assert not [name for name in _queued(tmp_path) if name.endswith("automation_wake")]

    automation_tick.call_local()  # the minute's tick
    assert Task.objects.filter(subject_id=placed.pk).count() == 1
