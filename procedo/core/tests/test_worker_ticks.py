"""The worker's minute ticks: one log line when a tick did something, none when idle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.automation.tasks import automation_tick
from procedo.automation.tests.helpers import deliver, order, person, sop_live, task_step
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.tasks import messages_dispatch, messages_tick
from procedo.work.services import lifecycle
from procedo.work.tasks import work_tick

pytestmark = pytest.mark.django_db


def _ticks_said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("tick:")]


def test_idle_ticks_say_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    for tick in (automation_tick, work_tick, messages_tick):
        tick.call_local()
    assert _ticks_said(caplog) == []


def test_a_schedule_that_starts_a_run_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    sop_live(
        definition={
            "triggers": [
                {
                    "kind": "date",
                    "key": "after",
                    "field": "delivered_at",
                    "offset_days": 3,
                    "catch_up_days": 7,
                }
            ],
            "steps": [task_step("thank", title="Thank the customer")],
        }
    )
    deliver(order().pk, at=timezone.now() - timedelta(days=4))
    caplog.set_level("INFO")
    automation_tick.call_local()
    assert _ticks_said(caplog) == ["tick: 1 run(s) started by schedules, 1 advanced"]


def test_an_overdue_task_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    olena = person(Role.OPERATOR)
    lifecycle.task_create(
        title="Давно", assignee_user_id=olena.pk, due_at=timezone.now() - timedelta(hours=1)
    )
    caplog.set_level("INFO")
    work_tick.call_local()
    assert _ticks_said(caplog) == ["tick: 1 task(s) overdue, 0 escalated, 1 notification(s)"]


def test_a_sent_message_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    message_queue(
        channel="email",
        recipient="buyer@example.com",
        subject="Замовлення",
        body="Дякуємо!",
        idempotency_key="tick:1",
    )
    caplog.set_level("INFO")
    messages_tick.call_local()  # the default transport: the outbox
    assert _ticks_said(caplog) == [
        "tick: 1 message(s) sent, 0 to retry, 0 failed, 0 of unknown fate"
    ]
    messages_tick.call_local()
    assert len(_ticks_said(caplog)) == 1  # nothing left to send: no second line


def test_a_wake_up_that_sent_mail_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    for n in range(3):
        message_queue(
            channel="email",
            recipient=f"buyer{n}@example.com",
            subject="Замовлення",
            body="Дякуємо!",
            idempotency_key=f"wake:{n}",
        )
    caplog.set_level("INFO")
    messages_dispatch.call_local()
    messages_dispatch.call_local()
    said = [r.getMessage() for r in caplog.records if r.name == "procedo.messaging.tasks"]
    assert said == ["wake-up: 3 message(s) sent, 0 to retry, 0 failed, 0 of unknown fate"]
