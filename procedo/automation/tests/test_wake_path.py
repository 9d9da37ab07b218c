"""From a commit to the next task through wake-ups alone: no periodic task ever runs here.

Huey queues as in production here (in memory), and the test runs what waits in the queue
the way a consumer's worker does, with the periodic schedule left out: if any step of the
path waited for the minute's tick instead of being woken, its task would never appear.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from huey.api import Huey
from huey.contrib.djhuey import HUEY
from huey.storage import BaseStorage, RedisStorage, SqliteStorage

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.models import Run, RunState, RunStep
from procedo.automation.tasks import TIMER, TIMER_LEAD
from procedo.automation.tests.helpers import (
    event_trigger,
    person,
    sop_live,
    sop_with_decisions,
    task_step,
)
from procedo.events.tests.queue import pending, queued_huey, run_queue
from procedo.work.models import Task

pytestmark = pytest.mark.django_db(transaction=True)
JSON = "application/json"
WOKEN = {"events_dispatch", "automation_wake"}


@pytest.fixture
def queue() -> Iterator[Huey]:
    with queued_huey() as huey:
        yield huey


def _api(user: User) -> Client:
    issued = account_services.api_token_issue(user=user, name="t", expires_in_days=None, actor=user)
    return Client(headers={"Authorization": f"Bearer {issued.plaintext}"})


def _order_through_the_api(api: Client) -> int:
    line = {"description": "Чай", "unit_price": "150.00", "quantity": 1}
    response = api.post("/api/orders", {"lines": [line]}, content_type=JSON)
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def test_an_order_from_the_api_becomes_its_task_by_wake_ups_alone(queue: Huey) -> None:
    sop, _revision = sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})
    api = _api(person(Role.OWNER))
    run_queue(queue)  # what publishing the SOP and the person's token enqueued

    order_id = _order_through_the_api(api)
    # The commit enqueued one wake-up of the consumers; nothing has run yet.
    assert pending(queue) == ["events_dispatch"]
    assert not Task.objects.exists()

    ran = run_queue(queue)

    # The engine's batch advanced its run in the worker's thread: no automation_wake queued.
    assert set(ran) == {"events_dispatch"}
    task = Task.objects.get(subject_type="order", subject_id=order_id)
    assert task.title == "Call the customer"
    assert Run.objects.get(sop=sop, subject_id=order_id).state == RunState.WAITING
    assert queue.scheduled() == []  # and no timer was needed for it


def test_a_decision_answer_routes_the_run_and_the_chosen_step_follows_at_once(
    queue: Huey,
) -> None:
    sop_with_decisions()
    owner = person(Role.OWNER)
    api = _api(owner)
    order_id = _order_through_the_api(api)
    run_queue(queue)
    decision = Task.objects.get(subject_id=order_id, title="Підтвердити замовлення")

    response = api.post(
        f"/api/tasks/{decision.pk}/complete",
        {"answers": {"answer": "change"}},
        content_type=JSON,
    )
    assert response.status_code == 200, response.content
    # Closing the task moved the run in the same transaction and enqueued the executor.
    assert "automation_wake" in pending(queue)

    ran = run_queue(queue)

    assert set(ran) <= WOKEN
    titles = set(Task.objects.filter(subject_id=order_id).values_list("title", flat=True))
    assert titles == {"Підтвердити замовлення", "Змінити замовлення"}  # not "Передзвонити"


def test_a_wait_wakes_the_executor_at_its_end_not_at_the_next_tick(
    queue: Huey, monkeypatch: pytest.MonkeyPatch
) -> None:
    sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [
                {"kind": "wait", "key": "pause", "title": "Wait a day", "minutes": 24 * 60},
                task_step("after", title="After the wait"),
            ],
        }
    )
    order_id = _order_through_the_api(_api(person(Role.OWNER)))
    run_queue(queue)
    wait = RunStep.objects.get(step_key="pause", run__subject_id=order_id)
    assert wait.due_at is not None
    # One wake-up is scheduled for the wait's end to the microsecond (Huey's scheduler is
    # asked for it a second early, since it reads its schedule once a second).
    (timer,) = queue.scheduled()
    assert type(timer).__name__ == "automation_wake"
    assert timer.kwargs == {"at": wait.due_at.timestamp()}
    assert timer.eta == _naive(wait.due_at - timedelta(seconds=TIMER_LEAD))
    assert queue.get(TIMER, peek=True) == wait.due_at.timestamp()
    assert not Task.objects.filter(title="After the wait").exists()

    # At the wait's end the timer's wake-up finds the run due and the next step is done.
    at = wait.due_at + timedelta(milliseconds=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: at)
    (fired,) = queue.read_schedule(_naive(at))
    fired.execute()
    assert Task.objects.filter(subject_id=order_id, title="After the wait").exists()
    assert RunStep.objects.get(pk=wait.pk).outcome == "elapsed"


def _naive(moment: datetime) -> datetime:
    """Huey keeps moments as naive UTC."""
    return timezone.make_naive(moment, UTC)


@pytest.fixture(params=["sqlite", "redis"])
def worker_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real consumer process (`run_huey --no-periodic`) and this process enqueueing into
    its queue, Huey on SQLite or on Redis as configured in production; yields its env."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    settings = connection.settings_dict
    url = (
        f"sqlite:///{settings['NAME']}"
        if connection.vendor == "sqlite"
        else f"postgresql://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=url, PROCEDO_VAR=str(tmp_path)
    )
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs REDIS_URL")
        env["REDIS_URL"] = os.environ["REDIS_URL"]
        storage: BaseStorage = RedisStorage(name=HUEY.name, url=env["REDIS_URL"])
    else:
        storage = SqliteStorage(name=HUEY.name, filename=str(tmp_path / "huey.sqlite3"))
    HUEY.immediate = False
    HUEY.storage = storage
    worker = subprocess.Popen(
        [sys.executable, "-m", "procedo", "run_huey", "--workers", "2", "--no-periodic"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield env
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        storage.flush_all()
        storage.close()
        HUEY.immediate = True


@pytest.mark.slow
def test_with_no_periodic_task_a_real_worker_makes_the_task_of_an_order_from_the_api(
    worker_queue: dict[str, str],
) -> None:
    sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})
    order_id = _order_through_the_api(_api(person(Role.OWNER)))
    deadline = time.monotonic() + 60  # a bound for a loaded machine, not a measure
    while time.monotonic() < deadline and not Task.objects.filter(subject_id=order_id).exists():
        time.sleep(0.1)
    assert Task.objects.filter(subject_id=order_id, title="Call the customer").count() == 1
