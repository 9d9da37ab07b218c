"""Event triggers: conditions in SQL per batch, holdout and pilot groups, tasks that move runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.accounts.services import team_create, team_set_members
from procedo.automation.models import Run, RunState, RunStep, StepState
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import (
    customer,
    deliver,
    engine_drain,
    event_trigger,
    order,
    person,
    sop_live,
    task_step,
)
from procedo.core.errors import DomainError
from procedo.events.models import ConsumerCursor, Event
from procedo.sops import live
from procedo.work.models import Task, TaskState
from procedo.work.services import lifecycle as work_services

pytestmark = pytest.mark.django_db(transaction=True)

VIP_DELIVERED = {
    "triggers": [
        event_trigger(
            "order.status_changed",
            rules=[
                {"field": "event.to", "op": "eq", "value": "delivered"},
                {"field": "total", "op": "gte", "value": "100"},
                {"field": "customer.tags", "op": "has", "value": "vip"},
            ],
        )
    ],
    "steps": [task_step("thank", title="Call to say thank you")],
}


def test_a_trigger_with_conditions_starts_one_run_per_matching_subject(quiet: None) -> None:
    sop, revision = sop_live(definition=VIP_DELIVERED)
    vip = customer(tags=("VIP",))
    plain = customer()
    matching_order = order(customer_id=vip.pk, total="150.00")
    small = order(customer_id=vip.pk, total="50.00")
    untagged = order(customer_id=plain.pk, total="500.00")
    shipped_only = order(customer_id=vip.pk, total="300.00")
    for made in (matching_order, small, untagged):
        deliver(made.pk)
    from procedo.orders.services.statuses import order_change_status

    order_change_status(
        order_id=shipped_only.pk, to_status="confirmed", actor=None, idempotency_key=None
    )

    assert engine_drain() == Event.objects.count()
    run = Run.objects.get()
    delivered_event = Event.objects.get(
        event_type="order.status_changed", subject_id=matching_order.pk, payload__to="delivered"
    )
    assert (run.sop_id, run.revision_id, run.subject_type, run.subject_id) == (
        sop.pk,
        revision.pk,
        "order",
        matching_order.pk,
    )
    assert (run.trigger_kind, run.event_id, run.occurrence_key) == (
        "event",
        delivered_event.pk,
        f"e{delivered_event.pk}",
    )
    assert run.state == RunState.RUNNING
    assert list(run.steps.values_list("step_key", "state")) == [("thank", StepState.PENDING)]

    before = timezone.now()
    assert executor.runs_advance() == 1
    task = Task.objects.get()
    assert (task.title, task.assignee_role, task.subject_id, task.customer_id) == (
        "Call to say thank you",
        "operator",
        matching_order.pk,
        vip.pk,
    )
    assert task.due_at is not None
    assert before + timedelta(minutes=14) < task.due_at < timezone.now() + timedelta(minutes=16)
    run.refresh_from_db()
    assert run.state == RunState.WAITING and run.wake_at is None


def test_the_same_events_read_again_start_and_execute_nothing_twice(quiet: None) -> None:
    sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})
    for _ in range(5):
        order()
    engine_drain()
    executor.runs_advance()
    assert (Run.objects.count(), RunStep.objects.count(), Task.objects.count()) == (5, 5, 5)

    # A replay from cursor 0 (a crash before the cursor moved, or on purpose).
    ConsumerCursor.objects.filter(name="automation.engine").update(txid=0, event_id=0)
    engine_drain()
    Run.objects.update(wake_at=timezone.now(), state=RunState.RUNNING)  # as if a wake-up lied
    executor.runs_advance()
    assert (Run.objects.count(), RunStep.objects.count(), Task.objects.count()) == (5, 5, 5)


def test_holdout_is_stable_per_subject_recorded_and_runs_no_steps(quiet: None) -> None:
    sop, _revision = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step()]}, holdout_percent=30
    )
    orders = [order() for _ in range(60)]
    engine_drain()
    salt = live.salt(sop.pk, "holdout")
    expected = {o.pk for o in orders if live.bucket(o.pk, salt) < 30}
    held = set(Run.objects.filter(state=RunState.HELD_OUT).values_list("subject_id", flat=True))
    assert held == expected and 0 < len(held) < 60
    assert not RunStep.objects.filter(run__state=RunState.HELD_OUT).exists()
    assert Run.objects.filter(state=RunState.RUNNING).count() == 60 - len(held)


def test_the_stable_hash_is_the_same_in_sql_and_in_python(quiet: None) -> None:
    from django.db import transaction

    from procedo.events.services.recording import NewEvent, events_record_many

    with transaction.atomic():
        events_record_many(NewEvent(event_type="x") for _ in range(300))
    salt = live.salt(12345, "pilot")
    in_sql = dict(Event.objects.annotate(b=live.Bucket(F("id"), salt)).values_list("id", "b"))
    assert in_sql == {pk: live.bucket(pk, salt) for pk in in_sql}
    assert len(set(in_sql.values())) > 90


def test_a_percentage_pilot_splits_subjects_by_the_stable_hash(quiet: None) -> None:
    owner = person(Role.OWNER)
    reviewer = person(Role.MANAGER)
    definition = {"triggers": [event_trigger()], "steps": [task_step()]}
    sop, published = sop_live(definition=definition, owner=owner, reviewer=reviewer)
    _sop, pilot = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step(title="New way")]},
        sop=sop,
        owner=owner,
        reviewer=reviewer,
        state="pilot",
        pilot_percent=40,
    )
    orders = [order() for _ in range(50)]
    engine_drain()
    salt = live.salt(sop.pk, "pilot")
    by_revision = dict(Run.objects.values_list("subject_id", "revision_id"))
    assert by_revision == {
        o.pk: pilot.pk if live.bucket(o.pk, salt) < 40 else published.pk for o in orders
    }
    assert set(Run.objects.filter(pilot=True).values_list("revision_id", flat=True)) == {pilot.pk}


def test_a_team_pilot_runs_for_what_the_team_does(quiet: None) -> None:
    owner = person(Role.OWNER)
    reviewer = person(Role.MANAGER)
    in_team = person(Role.OPERATOR)
    outside = person(Role.OPERATOR)
    team = team_create(name="Pilots", lead_id=None, actor=owner)
    team_set_members(team_id=team.pk, member_ids=[in_team.pk], actor=owner)
    sop, published = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step()]},
        owner=owner,
        reviewer=reviewer,
    )
    _sop, pilot = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step(title="New")]},
        sop=sop,
        owner=owner,
        reviewer=reviewer,
        state="pilot",
        pilot_team_id=team.pk,
    )
    by_team = order(actor=in_team)
    by_other = order(actor=outside)
    by_shop = order()
    engine_drain()
    assert dict(Run.objects.values_list("subject_id", "revision_id")) == {
        by_team.pk: pilot.pk,
        by_other.pk: published.pk,
        by_shop.pk: published.pk,
    }


def test_completing_tasks_moves_the_run_to_its_end(quiet: None) -> None:
    operator = person(Role.OPERATOR)
    sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [
                task_step("call", title="Call"),
                task_step(
                    "pack",
                    title="Pack",
                    checklist=["Box", "Invoice"],
                    assignee={"kind": "sop_owner"},
                ),
            ],
        }
    )
    made = order()
    engine_drain()
    executor.runs_advance()
    call = Task.objects.get()
    work_services.task_complete(task_id=call.pk, actor=operator, note="Confirmed by phone")
    run = Run.objects.get()
    assert (run.state, run.current_step) == (RunState.RUNNING, "pack")
    executor.runs_advance()
    pack = Task.objects.get(title="Pack")
    assert pack.assignee_user_id == run.sop.owner_id
    assert [item.text for item in pack.items.order_by("position")] == ["Box", "Invoice"]
    owner = run.sop.owner
    with pytest.raises(DomainError, match="Tick “Invoice” first"):
        work_services.task_complete(task_id=pack.pk, actor=owner, answers={"item_1": True})
    # The refused completion stored nothing: both answers come again.
    work_services.task_complete(
        task_id=pack.pk, actor=owner, answers={"item_1": True, "item_2": "on"}
    )
    run.refresh_from_db()
    assert run.state == RunState.COMPLETED and run.finished_at is not None
    steps = list(run.steps.order_by("id").values_list("step_key", "state", "outcome"))
    assert steps == [("call", "done", "done"), ("pack", "done", "done")]
    assert Task.objects.filter(state=TaskState.DONE).count() == 2
    assert made.pk == run.subject_id


def test_a_new_published_revision_does_not_change_runs_in_flight(quiet: None) -> None:
    owner = person(Role.OWNER)
    reviewer = person(Role.MANAGER)
    sop, first = sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [task_step("a", title="Old A"), task_step("b", title="Old B")],
        },
        owner=owner,
        reviewer=reviewer,
    )
    order()
    engine_drain()
    executor.runs_advance()
    sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [task_step("a", title="New A"), task_step("b", title="New B")],
        },
        sop=sop,
        owner=owner,
        reviewer=reviewer,
    )
    work_services.task_complete(task_id=Task.objects.get().pk, actor=owner)
    executor.runs_advance()
    assert Run.objects.get().revision_id == first.pk
    assert list(Task.objects.order_by("id").values_list("title", flat=True)) == ["Old A", "Old B"]


def test_without_help_an_order_becomes_a_task_through_the_wake_ups() -> None:
    import time

    from procedo.events.tasks import events_dispatch

    sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})
    made = order()
    # Eager Huey in tests: commit → events_dispatch → engine → automation_wake → task.
    # On PostgreSQL a transaction open elsewhere in the cluster (another test run)
    # may hold the log back for a moment; the next wake-up then delivers it.
    deadline = time.monotonic() + 90
    while not Task.objects.filter(subject_id=made.pk).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
        events_dispatch()
    task = Task.objects.get(subject_id=made.pk)
    assert task.run_id == Run.objects.get(subject_id=made.pk).pk


def test_events_from_before_an_sop_went_live_never_start_it(quiet: None) -> None:
    before = order()  # the consumer has not read it yet when the SOP goes live
    sop, _rev = sop_live(definition={"triggers": [event_trigger()], "steps": [task_step()]})
    after = order()
    engine_drain()
    assert list(Run.objects.values_list("subject_id", flat=True)) == [after.pk]
    assert before.pk != after.pk
    sop.refresh_from_db()
    assert sop.live_since is not None
