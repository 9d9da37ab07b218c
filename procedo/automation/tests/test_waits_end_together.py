"""Waits that are over end together, with the rows step by step would write, in a bounded
number of statements; what they cannot end together goes step by step; a lease lost keeps
nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.automation.models import Run, RunState, RunStep, StepState
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import (
    customer,
    engine_drain,
    event_trigger,
    order,
    person,
    sop_live,
    task_step,
)
from procedo.events.models import Event
from procedo.work.models import ChecklistItem, Task
from procedo.work.services import lifecycle as work_services

pytestmark = pytest.mark.django_db(transaction=True)

PAUSE = {"kind": "wait", "key": "pause", "title": "Wait a minute", "minutes": 1}
CHECK = {
    **task_step("check", title="Перевірити замовлення"),
    "kind": "checklist",
    "checklist_kind": "verification",
    "items": [{"key": "paid", "text": "Оплачено"}],
    "assignee": {"kind": "sop_owner"},
}
TAG = {"kind": "add_tag", "key": "tag", "title": "Tag", "tag": "waited"}


def _three_sops() -> None:
    """A wait then a checklist; a wait that ends the run; a wait then a tag, then a task."""
    owner = person(Role.OWNER)
    for name, steps in (
        ("Check after a minute", [PAUSE, CHECK]),
        ("Only wait", [PAUSE]),
        ("Tag after a minute", [PAUSE, TAG, task_step("call")]),
    ):
        sop_live(definition={"triggers": [event_trigger()], "steps": steps}, owner=owner, name=name)


def _state(run_ids: list[int], since: datetime) -> list[Any]:
    """What a run's pass wrote, apart from ids and the run's own number."""

    def moment(value: datetime | None) -> float | None:
        return None if value is None else round((value - since).total_seconds(), 3)

    found = []
    for run in Run.objects.filter(pk__in=run_ids).order_by("id"):
        steps = [
            (
                step.step_key,
                step.iteration,
                step.kind,
                step.state,
                step.outcome,
                step.attempts,
                step.error,
                moment(step.started_at),
                moment(step.finished_at),
                moment(step.due_at),
                step.task_id is not None,
            )
            for step in run.steps.order_by("id")
        ]
        keys = dict(run.steps.values_list("pk", "step_key"))
        tasks = [
            (
                task.title,
                task.state,
                task.checklist_kind,
                task.assignee_user_id,
                task.assignee_role,
                task.customer_id is not None,
                moment(task.due_at),
                task.idempotency_key == f"run:{run.pk}:step:{keys.get(task.run_step_id or 0)}:0",
                list(ChecklistItem.objects.filter(task=task).values_list("key", flat=True)),
                Event.objects.filter(event_type="task.created", subject_id=task.pk).count(),
            )
            for task in Task.objects.filter(run_id=run.pk).order_by("id")
        ]
        found.append(
            (
                run.sop.name,
                run.state,
                run.current_step,
                run.current_iteration,
                moment(run.wake_at),
                run.claimed_by,
                moment(run.finished_at),
                steps,
                tasks,
            )
        )
    return found


def _split(
    token_ids: tuple[str, list[int]], one_by_one: list[int], together: list[int]
) -> tuple[str, list[int], list[int]]:
    token, ids = token_ids
    runs_of = dict(Run.objects.filter(pk__in=ids).values_list("pk", "subject_id"))
    by_steps = [run_id for run_id in ids if runs_of[run_id] in one_by_one]
    batch = [run_id for run_id in ids if runs_of[run_id] in together]
    return token, by_steps, batch


@pytest.mark.usefixtures("quiet")
def test_waits_begin_and_end_together_as_step_by_step_would() -> None:
    _three_sops()
    buyer = customer(email="buyer@example.com")
    one_by_one = [order(customer_id=buyer.pk).pk for _ in range(4)]
    together = [order(customer_id=buyer.pk).pk for _ in range(4)]
    engine_drain()
    began = timezone.now()
    token, by_steps, batch = _split(executor.runs_claim(limit=100, now=began), one_by_one, together)
    for run_id in by_steps:
        executor.run_advance(run_id=run_id, token=token, now=began)
    with CaptureQueriesContext(connection) as queries:
        assert executor._runs_move_many(batch, token, began) == set(batch)
    # Step by step a wait's beginning took 8 statements a run (96 here).
    assert len(queries) <= 12, [query["sql"][:80] for query in queries]
    assert _state(batch, began) == _state(by_steps, began)
    assert set(Run.objects.values_list("state", "claimed_by")) == {(RunState.WAITING, "")}

    later = began + timedelta(minutes=1, seconds=1)
    token, by_steps, batch = _split(executor.runs_claim(limit=100, now=later), one_by_one, together)
    assert len(by_steps) == len(batch) == 12
    for run_id in by_steps:
        executor.run_advance(run_id=run_id, token=token, now=later)

    with CaptureQueriesContext(connection) as queries:
        settled = executor._runs_move_many(batch, token, later)
    # Step by step a wait's end and the task after it took ~30 statements a run (360 here).
    assert len(queries) <= 25, [query["sql"][:80] for query in queries]
    # The checklist runs wait for a person and the wait-only runs are over; the tag runs
    # are left due for step by step, which goes on from their tag.
    names = dict(Run.objects.filter(pk__in=batch).values_list("pk", "sop__name"))
    assert {names[run_id] for run_id in settled} == {"Check after a minute", "Only wait"}
    assert len(settled) == 8
    for run_id in batch:
        if run_id not in settled:
            executor.run_advance(run_id=run_id, token=token, now=later)

    assert _state(batch, later) == _state(by_steps, later)
    check = [row for row in _state(batch, later) if row[0] == "Check after a minute"]
    assert [row[1:4] for row in check] == [(RunState.WAITING, "check", 0)] * 4
    assert [step[:5] for step in check[0][7]] == [
        ("pause", 0, "wait", StepState.DONE, "elapsed"),
        ("check", 0, "checklist", StepState.WAITING, ""),
    ]
    tag = [row for row in _state(batch, later) if row[0] == "Tag after a minute"]
    assert {row[1:3] for row in tag} == {(RunState.WAITING, "call")}
    assert {row[0]: row[1] for row in _state(batch, later)}["Only wait"] == RunState.COMPLETED
    assert not Run.objects.exclude(claimed_by="").exists()


@pytest.mark.usefixtures("quiet")
def test_an_event_heard_ends_its_wait_with_the_others_and_a_run_not_due_stays() -> None:
    owner = person(Role.OWNER)
    wait_for_payment = {
        "kind": "wait",
        "key": "paid",
        "title": "Wait for payment",
        "event_type": "order.paid",
        "timeout_minutes": 60,
    }
    sop_live(
        definition={"triggers": [event_trigger()], "steps": [wait_for_payment, CHECK]},
        owner=owner,
    )
    heard, unheard = order(), order()
    engine_drain()
    began = timezone.now()
    executor.runs_advance_all(now=began)
    heard_run = Run.objects.get(subject_id=heard.pk)
    # The engine heard the payment: the step has its event, the run is due now.
    RunStep.objects.filter(run=heard_run).update(outcome="event")
    Run.objects.filter(pk=heard_run.pk).update(wake_at=began)
    Run.objects.filter(subject_id=unheard.pk).update(wake_at=began)  # woken early: not over

    token, ids = executor.runs_claim(limit=10, now=began)
    assert executor._runs_move_many(ids, token, began) == {heard_run.pk}
    assert list(heard_run.steps.order_by("id").values_list("step_key", "state", "outcome")) == [
        ("paid", StepState.DONE, "event"),
        ("check", StepState.WAITING, ""),
    ]
    for run_id in ids:
        if run_id != heard_run.pk:
            executor.run_advance(run_id=run_id, token=token, now=began)
    # Step by step put it back to sleep until its timeout.
    still = Run.objects.get(subject_id=unheard.pk)
    assert (still.state, still.current_step, still.claimed_by) == (RunState.WAITING, "paid", "")
    assert still.wake_at == RunStep.objects.get(run=still).due_at
    assert Task.objects.get().subject_id == heard.pk


@pytest.mark.usefixtures("quiet")
def test_a_lease_lost_while_waits_end_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    sop_live(definition={"triggers": [event_trigger()], "steps": [PAUSE, CHECK]})
    for _ in range(3):
        order()
    engine_drain()
    began = timezone.now()
    executor.runs_advance_all(now=began)
    later = began + timedelta(minutes=2)
    token, ids = executor.runs_claim(limit=10, now=later)
    create_many = work_services.tasks_create_many

    def taken_meanwhile(items: Any) -> Any:
        Run.objects.filter(pk=ids[1]).update(claimed_by="another-worker")
        return create_many(items)

    monkeypatch.setattr(work_services, "tasks_create_many", taken_meanwhile)
    assert executor._runs_move_many(ids, token, later) == set()
    assert not Task.objects.exists()
    assert set(RunStep.objects.values_list("step_key", "state")) == {("pause", StepState.WAITING)}
    assert set(Run.objects.values_list("state", "current_step", "claimed_by")) == {
        (RunState.WAITING, "pause", token)
    }
