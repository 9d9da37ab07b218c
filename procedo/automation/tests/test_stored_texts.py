"""What the engine writes about a run (why it was cancelled, why it failed) is kept as its
English original and read in each reader's language; a row written before reads as written."""

from __future__ import annotations

import pytest
from django.utils import translation

from procedo.automation.models import Run, RunState
from procedo.automation.services import runs as run_services
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import engine_drain, event_trigger, order, sop_live, task_step
from procedo.events.models import Event
from procedo.events.timeline import timeline_lines
from procedo.orders.services.statuses import order_change_status
from procedo.work.models import Task, TaskState

pytestmark = pytest.mark.django_db(transaction=True)


def _sentence(event_type: str, subject_id: int) -> str:
    event = Event.objects.get(event_type=event_type, subject_id=subject_id)
    return timeline_lines([event])[0].plain


def test_cancel_reasons_read_in_ukrainian_and_an_old_row_as_written(quiet: None) -> None:
    sop_live(
        definition={
            "triggers": [event_trigger()],
            "cancel_on": [
                {
                    "event_type": "order.status_changed",
                    "conditions": {
                        "rules": [{"field": "event.to", "op": "eq", "value": "cancelled"}]
                    },
                }
            ],
            "steps": [task_step()],
        }
    )
    by_event, by_hand = order(), order()
    engine_drain()
    executor.runs_advance_all()
    order_change_status(
        order_id=by_event.pk, to_status="cancelled", actor=None, idempotency_key=None
    )
    engine_drain()
    first = Run.objects.get(subject_id=by_event.pk)
    cause = Event.objects.get(event_type="order.status_changed", subject_id=by_event.pk)
    second = run_services.run_cancel(run_id=Run.objects.get(subject_id=by_hand.pk).pk, actor=None)
    task = Task.objects.get(run_id=first.pk, state=TaskState.CANCELLED)
    assert first.state == second.state == RunState.CANCELLED
    assert first.error == f"Cancelled by event {cause.pk}."  # the project's language
    assert second.error == "Cancelled by a person."
    with translation.override("uk"):
        assert first.error_display == f"Скасовано подією {cause.pk}."
        assert first.steps.get().error_display == f"Скасовано подією {cause.pk}."
        assert task.outcome_note_display == f"Скасовано подією {cause.pk}."
        assert second.error_display == "Скасовано користувачем."
        assert "Скасовано користувачем." in _sentence("sop_run.cancelled", second.pk)
        assert f"Скасовано подією {cause.pk}." in _sentence("task.cancelled", task.pk)

    Run.objects.filter(pk=second.pk).update(error_text=None)  # a row from before
    second.refresh_from_db()
    with translation.override("uk"):
        assert second.error_display == "Cancelled by a person."


def test_a_run_the_engine_fails_tells_why_in_ukrainian(quiet: None) -> None:
    loop = {
        "kind": "branch",
        "key": "again",
        "title": "Again",
        "conditions": {"rules": []},
        "then_step": "again",
        "else_step": "end",
    }
    sop_live(definition={"triggers": [event_trigger()], "steps": [loop]})
    made = order()
    engine_drain()
    executor.runs_advance_all()
    run = Run.objects.get(subject_id=made.pk)
    n = executor.MAX_ITERATIONS
    assert run.state == RunState.FAILED
    assert run.error == f"Step again came round {n} times; the SOP loops."
    with translation.override("uk"):
        assert run.error_display == f"Крок again повторився {n} разів: СОП зациклився."
        assert "СОП зациклився" in _sentence("sop_run.failed", run.pk)
