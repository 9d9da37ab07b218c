"""The review meeting's report: per step, how many runs reached it, how long it took, how
often it was late or skipped and why, where runs were lost; on the page and in the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.analytics.periods import period_ending
from procedo.automation.models import RunStep
from procedo.automation.review import revision_review
from procedo.automation.services import steps as executor
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import event_trigger, order, person, sop_live, task_step
from procedo.testing import api_caller, logged_in
from procedo.work.models import Task
from procedo.work.services import lifecycle as work_services

pytestmark = pytest.mark.django_db


def test_the_report_counts_reach_times_skips_with_reasons_and_losses(quiet: None) -> None:
    owner = person(Role.OWNER)
    sop, revision = sop_live(
        definition={
            "triggers": [event_trigger(), {"kind": "manual", "key": "hand"}],
            "steps": [
                task_step("confirm", title="Call the customer"),
                task_step("pack", title="Pack the order"),
            ],
        },
        owner=owner,
    )
    for n in range(4):
        run_start_manual(
            sop_id=sop.pk,
            subject_type="order",
            subject_id=order().pk,
            actor=owner,
            idempotency_key=f"r{n}",
        )
    executor.runs_advance()
    tasks = list(Task.objects.order_by("id"))
    assert len(tasks) == 4
    work_services.task_complete(task_id=tasks[0].pk, actor=owner)
    work_services.task_complete(task_id=tasks[1].pk, actor=owner)
    work_services.task_skip(task_id=tasks[2].pk, actor=owner, note="Customer came to the shop")
    executor.runs_advance()
    # Times as if the first took 10 minutes and the second 30, the second finished late.
    start = timezone.now() - timedelta(hours=2)
    for task, minutes in ((tasks[0], 10), (tasks[1], 30)):
        RunStep.objects.filter(pk=task.run_step_id or 0).update(
            started_at=start,
            finished_at=start + timedelta(minutes=minutes),
            due_at=start + timedelta(minutes=20),
        )

    zone = timezone.get_current_timezone()
    period = period_ending(today=timezone.localdate(), days=30, zone=zone)
    report = revision_review(sop=sop, revision=revision, period=period)
    confirm, pack = report.steps
    assert (confirm.reached, confirm.done, confirm.skipped) == (4, 2, 1)
    assert (confirm.median_minutes, confirm.p90_minutes) == (20, 28)
    assert confirm.overdue_rate == 25  # one of four past its due time (the others not yet)
    assert confirm.skip_rate == 25
    assert confirm.reasons == [("Customer came to the shop", 1)]
    assert pack.reached == 3  # the fourth run still waits at the first step: not lost
    assert pack.lost == 0
    assert [step.key for step in report.most_skipped] == ["confirm"]

    page = logged_in(owner).get(f"/sops/runs/sop/{sop.pk}/review/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Customer came to the shop (1)" in text
    assert "half within 20 min, 9 in 10 within 28 min" in text
    assert "25.0 %" in text

    call = api_caller(owner)
    body = call("get", f"/sops/{sop.pk}/review").json()
    assert body["revision"] == revision.number and body["runs"] == 4
    assert body["steps"][0]["skip_reasons"] == [["Customer came to the shop", 1]]
    assert body["most_skipped"] == ["confirm"]
    wrong = call("get", f"/sops/{sop.pk}/review", {"revision_id": 999_999})
    assert (wrong.status_code, wrong.json()["field"]) == (422, "revision_id")
    assert call("get", "/sops/999999/review").status_code == 404
