"""The task steps a claimed batch of runs begins are started together, with the rows one by
one would write, in a bounded number of statements; a lease lost meanwhile keeps nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
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

CHECKLIST = {
    **task_step("check", title="Перевірити замовлення"),
    "kind": "checklist",
    "checklist_kind": "verification",
    "items": [{"key": "paid", "text": "Оплачено"}, {"key": "address", "text": "Адреса є"}],
    "assignee": {"kind": "sop_owner"},
    "priority": "high",
    "due_in_minutes": 90,
}


def _orders(count: int) -> list[int]:
    buyer = customer(email="buyer@example.com")
    return [order(customer_id=buyer.pk).pk for _ in range(count)]


@pytest.mark.usefixtures("quiet")
def test_many_first_steps_start_together_as_one_by_one_would_start_them() -> None:
    owner = person(Role.OWNER)
    sop, _revision = sop_live(
        definition={"triggers": [event_trigger()], "steps": [CHECKLIST, task_step("next")]},
        owner=owner,
    )
    orders = _orders(30)
    engine_drain()
    before = timezone.now()

    with CaptureQueriesContext(connection) as queries:
        assert executor.runs_advance(limit=100) == 30
    # One by one this took ~15 statements a run (450 here).
    assert len(queries) <= 25, [query["sql"][:80] for query in queries]

    for order_id in orders:
        run = Run.objects.get(sop=sop, subject_id=order_id)
        assert (run.state, run.wake_at, run.claimed_by, run.claimed_until) == (
            RunState.WAITING,
            None,
            "",
            None,
        )
        step = RunStep.objects.get(run=run)
        task = Task.objects.get(run_step_id=step.pk)
        assert (step.state, step.task_id, step.attempts, step.due_at) == (
            StepState.WAITING,
            task.pk,
            1,
            task.due_at,
        )
        assert step.started_at is not None and step.started_at >= before
        assert task.idempotency_key == f"run:{run.pk}:step:check:0"
        assert (task.title, task.checklist_kind, task.priority) == (
            "Перевірити замовлення",
            "verification",
            "high",
        )
        assert (task.assignee_user_id, task.assignee_role, task.run_id) == (owner.pk, "", run.pk)
        assert (task.subject_type, task.subject_id) == ("order", order_id)
        assert task.customer_id is not None
        assert task.due_at is not None
        assert timedelta(minutes=89) < task.due_at - before < timedelta(minutes=91)
        assert list(ChecklistItem.objects.filter(task=task).values_list("key", flat=True)) == [
            "paid",
            "address",
        ]
        created = Event.objects.get(event_type="task.created", subject_id=task.pk)
        assert created.payload == {
            "title": "Перевірити замовлення",
            "assignee_user_id": owner.pk,
            "assignee_team_id": None,
            "assignee_role": "",
            "due_at": DjangoJSONEncoder().default(task.due_at),
            "run_id": run.pk,
        }
        assert created.customer_id == task.customer_id

    # Closing one moves its run on, as ever.
    first = Task.objects.get(subject_id=orders[0])
    work_services.task_complete(
        task_id=first.pk, actor=owner, answers={"paid": "passed", "address": "passed"}
    )
    executor.runs_advance_all()
    assert Task.objects.filter(subject_id=orders[0], title="Call the customer").exists()


@pytest.mark.usefixtures("quiet")
def test_a_run_no_longer_held_is_left_alone_and_a_lease_lost_midway_keeps_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})
    orders = _orders(3)
    engine_drain()
    now = timezone.now()
    token, ids = executor.runs_claim(limit=10, now=now)
    assert len(ids) == 3
    # One run's lease ran out and another worker took it before this batch began.
    Run.objects.filter(pk=ids[0]).update(claimed_by="another-worker")
    # Another's claim is found changed when the batch comes to move its runs.
    create_many = work_services.tasks_create_many

    def taken_meanwhile(items: Any) -> Any:
        Run.objects.filter(pk=ids[1]).update(claimed_by="another-worker")
        return create_many(items)

    monkeypatch.setattr(work_services, "tasks_create_many", taken_meanwhile)
    assert executor._runs_move_many(ids, token, now) == set()
    assert not Task.objects.exists()  # the batch rolled back whole
    assert not Event.objects.filter(event_type="task.created").exists()

    # Step by step, the worker starts the runs it holds (the change above was rolled back
    # with the batch, so it holds two), and leaves the taken one alone.
    monkeypatch.undo()
    for run_id in ids:
        executor.run_advance(run_id=run_id, token=token, now=now)
    held = set(Run.objects.filter(pk__in=ids[1:]).values_list("subject_id", flat=True))
    assert set(Task.objects.values_list("subject_id", flat=True)) == held
    assert held < set(orders)


@pytest.mark.usefixtures("quiet")
def test_runs_whose_step_is_not_a_fresh_task_go_step_by_step() -> None:
    sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [{"kind": "add_tag", "key": "tag", "title": "Tag", "tag": "new"}, task_step()],
        }
    )
    _orders(2)
    engine_drain()
    executor.runs_advance_all()
    # The tag step was done one by one; its run then went on to the task in the same pass.
    assert Task.objects.count() == 2
    assert set(RunStep.objects.values_list("step_key", "state")) == {
        ("tag", StepState.DONE),
        ("confirm", StepState.WAITING),
    }
