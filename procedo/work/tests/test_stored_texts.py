"""A task the system cancels keeps why as its English original, read in each reader's
language; a note written before (or by a person) reads as written."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext_noop

from procedo.core.texts import LaterText
from procedo.work.models import Task, TaskState
from procedo.work.services import lifecycle

pytestmark = pytest.mark.django_db


def test_a_cancel_reason_reads_in_ukrainian_and_an_old_one_as_written() -> None:
    tasks = [
        lifecycle.task_create(title=f"Call {n}", assignee_role="operator", run_step_id=n)
        for n in (901, 902)
    ]
    lifecycle.tasks_cancel_for_run_steps(
        run_step_ids=[901], reason=LaterText(gettext_noop("Cancelled by event %(id)s."), {"id": 7})
    )
    lifecycle.tasks_cancel_for_run_steps(run_step_ids=[902], reason="Customer asked")
    by_system, by_words = (Task.objects.get(pk=task.pk) for task in tasks)
    assert by_system.state == by_words.state == TaskState.CANCELLED
    assert by_system.outcome_note == "Cancelled by event 7."
    with translation.override("uk"):
        assert by_system.outcome_note_display == "Скасовано подією 7."
        assert by_words.outcome_note_display == "Customer asked"
    Task.objects.filter(pk=by_system.pk).update(outcome_note_text=None)  # a row from before
    by_system.refresh_from_db()
    with translation.override("uk"):
        assert by_system.outcome_note_display == "Cancelled by event 7."
