"""Every step kind, retries with backoff, failures that stay in their run, and cancelling."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.automation.models import Run, RunState, StepState
from procedo.automation.services import engine as services
from procedo.automation.services import runs as run_services
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
from procedo.core.errors import Conflict, DomainError
from procedo.core.money import money_format
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.messaging.models import Message
from procedo.orders.models import Order
from procedo.orders.services.statuses import order_change_status
from procedo.work.models import Task, TaskState
from procedo.work.services import lifecycle as work_services

pytestmark = pytest.mark.django_db(transaction=True)


def _run_for(subject_id: int) -> Run:
    return Run.objects.get(subject_id=subject_id)


def _steps(run: Run) -> list[tuple[str, str, str]]:
    return list(run.steps.order_by("id").values_list("step_key", "state", "outcome"))


def _start(definition: dict[str, Any], **kwargs: Any) -> tuple[Any, Any]:
    return sop_live(definition={"triggers": [event_trigger()], **definition}, **kwargs)


def test_messages_are_rendered_into_the_ledger_once(quiet: None) -> None:
    _start(
        {
            "steps": [
                {
                    "kind": "email",
                    "key": "thanks",
                    "title": "Thank",
                    "subject": "Order {{ order.number }}",
                    "body": "Дякуємо, {{ customer.first_name }}! {{ order.total }}",
                },
                {"kind": "sms", "key": "sms", "title": "SMS", "body": "Thanks"},
            ]
        }
    )
    buyer = customer(first_name="Тарас", email="taras@example.com")
    made = order(customer_id=buyer.pk, total="120.00")
    engine_drain()
    executor.runs_advance_all()
    message = Message.objects.get()
    assert (message.channel, message.recipient, message.state) == (
        "email",
        "taras@example.com",
        "queued",
    )
    assert message.subject == f"Order {made.number}"
    assert message.body == f"Дякуємо, Тарас! {money_format(Decimal('120.00'), 'UAH')}"
    assert message.idempotency_key == f"run:{_run_for(made.pk).pk}:step:thanks:0"
    # No phone: the SMS is skipped, not failed, and the run completes.
    assert _steps(_run_for(made.pk)) == [
        ("thanks", "done", "done"),
        ("sms", "skipped", "no_recipient"),
    ]
    assert _run_for(made.pk).state == RunState.COMPLETED


def test_status_and_tag_steps_change_the_order_and_its_customer(quiet: None) -> None:
    _start(
        {
            "steps": [
                {"kind": "set_status", "key": "confirm", "title": "Confirm", "status": "confirmed"},
                {"kind": "add_tag", "key": "tag", "title": "Tag", "tag": "Ordered"},
                {"kind": "remove_tag", "key": "untag", "title": "Untag", "tag": "Lead"},
            ]
        }
    )
    buyer = customer(tags=("Lead",))
    made = order(customer_id=buyer.pk)
    engine_drain()
    executor.runs_advance_all()
    assert Order.objects.get(pk=made.pk).status_id == "confirmed"
    assert list(buyer.tags.values_list("name", flat=True)) == ["Ordered"]
    changed = Event.objects.get(event_type="order.status_changed", subject_id=made.pk)
    assert changed.idempotency_key == f"sop:run:{_run_for(made.pk).pk}:step:confirm:0"
    assert _run_for(made.pk).state == RunState.COMPLETED


def test_a_step_the_rules_refuse_fails_only_its_run_and_tells_the_owner(quiet: None) -> None:
    sop, _rev = _start(
        {"steps": [{"kind": "set_status", "key": "ship", "title": "Ship", "status": "shipped"}]}
    )
    refused = order()  # new → shipped is not a move of the pipeline
    ok = order()
    order_change_status(order_id=ok.pk, to_status="confirmed", actor=None, idempotency_key=None)
    order_change_status(order_id=ok.pk, to_status="packed", actor=None, idempotency_key=None)
    engine_drain()
    executor.runs_advance_all()
    failed = _run_for(refused.pk)
    assert failed.state == RunState.FAILED and "cannot go from" in failed.error
    assert _steps(failed) == [("ship", "failed", "")]
    assert _run_for(ok.pk).state == RunState.COMPLETED
    owner_task = Task.objects.get(run_id=failed.pk)
    assert owner_task.assignee_user_id == sop.owner_id and owner_task.priority == "high"
    assert Event.objects.filter(event_type="sop_run.failed", subject_id=failed.pk).exists()


class _Hook(BaseHTTPRequestHandler):
    # subject id → the status codes to answer its calls with, in turn; then 200.
    answers: dict[int, list[int]] = {}
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"key": self.headers["Idempotency-Key"], "body": body})
        planned = type(self).answers.get(body["subject_id"], [])
        code = planned.pop(0) if planned else 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.answers, _Hook.received = {}, []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_a_failing_webhook_is_retried_with_backoff_then_fails_the_run(
    quiet: None, hook: str
) -> None:
    _start({"steps": [{"kind": "webhook", "key": "notify", "title": "Notify", "url": hook}]})
    flaky, dead = order(), order()
    engine_drain()
    # The first run's receiver fails once then answers; the second's never answers well.
    _Hook.answers = {flaky.pk: [500], dead.pk: [503] * 10}
    now = timezone.now()
    executor.runs_advance_all(now=now)
    runs = {r.subject_id: r for r in Run.objects.all()}
    step = runs[flaky.pk].steps.get()
    assert (step.state, step.attempts) == (StepState.PENDING, 1)
    assert step.next_attempt_at == now + executor.BACKOFF[0]
    executor.runs_advance_all(now=now + timedelta(seconds=29))  # not due yet
    assert len(_Hook.received) == 2
    executor.runs_advance_all(now=now + timedelta(seconds=31))
    executor.runs_advance_all(now=now + timedelta(minutes=5))
    executor.runs_advance_all(now=now + timedelta(minutes=20))
    states = {r.subject_id: r.state for r in Run.objects.all()}
    assert states == {flaky.pk: RunState.COMPLETED, dead.pk: RunState.FAILED}
    dead_step = Run.objects.get(subject_id=dead.pk).steps.get()
    assert dead_step.attempts == executor.MAX_ATTEMPTS and "503" in dead_step.error
    keys = {item["key"] for item in _Hook.received}
    assert len(keys) == 2  # every retry of a step sends the same Idempotency-Key
    assert {item["body"]["subject_id"] for item in _Hook.received} == {flaky.pk, dead.pk}
    assert Task.objects.filter(title__contains="failed").count() == 1


def test_a_4xx_webhook_answer_fails_at_once(quiet: None, hook: str) -> None:
    _start({"steps": [{"kind": "webhook", "key": "notify", "title": "Notify", "url": hook}]})
    made = order()
    engine_drain()
    _Hook.answers = {made.pk: [404]}
    executor.runs_advance_all()
    assert _run_for(made.pk).state == RunState.FAILED
    assert len(_Hook.received) == 1


WAIT_FOR_PAYMENT = {
    "steps": [
        {
            "kind": "wait",
            "key": "paid",
            "title": "Wait for payment",
            "event_type": "order.paid",
            "timeout_minutes": 60,
            "on_timeout": "remind",
        },
        task_step("pack", title="Pack it", next="end"),
        task_step("remind", title="Remind to pay"),
    ]
}


def _paid(order_id: int) -> None:
    with transaction.atomic():
        event_record(event_type="order.paid", subject_type="order", subject_id=order_id)


def test_waiting_for_an_event_resumes_when_it_comes(quiet: None) -> None:
    _start(WAIT_FOR_PAYMENT)
    made = order()
    engine_drain()
    executor.runs_advance_all()
    run = _run_for(made.pk)
    assert run.state == RunState.WAITING and run.wake_at is not None
    _paid(made.pk)
    engine_drain()
    executor.runs_advance_all()
    assert list(Task.objects.values_list("title", flat=True)) == ["Pack it"]
    assert _steps(run)[0] == ("paid", "done", "event")


def test_an_event_before_the_wait_counts_and_a_timeout_takes_its_branch(quiet: None) -> None:
    _start(WAIT_FOR_PAYMENT)
    early, late = order(), order()
    _paid(early.pk)  # paid before the run reached its wait
    engine_drain()
    now = timezone.now()
    executor.runs_advance_all(now=now)
    assert Task.objects.get(subject_id=early.pk).title == "Pack it"
    executor.runs_advance_all(now=now + timedelta(minutes=61))
    assert Task.objects.get(subject_id=late.pk).title == "Remind to pay"
    assert _steps(_run_for(late.pk))[0] == ("paid", "done", "timeout")


def test_a_duration_wait_then_a_branch_on_the_subject(quiet: None) -> None:
    _start(
        {
            "steps": [
                {"kind": "wait", "key": "pause", "title": "Wait a day", "minutes": 1440},
                {
                    "kind": "branch",
                    "key": "big",
                    "title": "Big order?",
                    "conditions": {"rules": [{"field": "total", "op": "gte", "value": 1000}]},
                    "then_step": "vip",
                    "else_step": "end",
                },
                task_step("vip", title="Call a big buyer"),
            ]
        }
    )
    small, large = order(total="10.00"), order(total="5000.00")
    engine_drain()
    now = timezone.now()
    executor.runs_advance_all(now=now)
    assert not Task.objects.exists()
    executor.runs_advance_all(now=now + timedelta(minutes=1439))
    assert set(Run.objects.values_list("state", flat=True)) == {RunState.WAITING}
    executor.runs_advance_all(now=now + timedelta(minutes=1441))
    assert _run_for(small.pk).state == RunState.COMPLETED
    assert _steps(_run_for(small.pk)) == [("pause", "done", "elapsed"), ("big", "done", "else")]
    assert Task.objects.get().subject_id == large.pk


def test_a_branch_that_loops_forever_fails_its_run(quiet: None) -> None:
    _start(
        {
            "steps": [
                {
                    "kind": "branch",
                    "key": "again",
                    "title": "Again",
                    "conditions": {"rules": []},
                    "then_step": "again",
                    "else_step": "end",
                }
            ]
        }
    )
    made = order()
    engine_drain()
    executor.runs_advance_all()
    run = _run_for(made.pk)
    assert run.state == RunState.FAILED and "loops" in run.error
    assert run.steps.count() == executor.MAX_ITERATIONS


def test_start_another_sop_runs_it_on_the_same_subject_or_its_customer(quiet: None) -> None:
    owner = person(Role.OWNER)
    welcome, _rev = sop_live(
        definition={
            "triggers": [{"kind": "manual", "key": "hand"}],
            "steps": [task_step("hello", title="Say hello")],
        },
        owner=owner,
        subject_type="customer",
        name="Welcome",
    )
    _start(
        {
            "steps": [
                {"kind": "start_sop", "key": "welcome", "title": "Welcome", "sop_id": welcome.pk}
            ]
        },
        owner=owner,
    )
    buyer = customer()
    made = order(customer_id=buyer.pk)
    engine_drain()
    executor.runs_advance_all()
    parent = _run_for(made.pk)
    child = Run.objects.get(sop=welcome)
    assert (child.subject_type, child.subject_id, child.parent_run_id, child.depth) == (
        "customer",
        buyer.pk,
        parent.pk,
        1,
    )
    assert child.trigger_kind == "start_sop"
    assert Task.objects.get().title == "Say hello"


def test_people_start_and_cancel_runs_and_events_cancel_them_too(quiet: None) -> None:
    operator = person(Role.OPERATOR)
    definition = {
        "triggers": [
            event_trigger(),
            {
                "kind": "manual",
                "key": "hand",
                "conditions": {"rules": [{"field": "total", "op": "gte", "value": 100}]},
            },
        ],
        "cancel_on": [
            {
                "event_type": "order.status_changed",
                "conditions": {"rules": [{"field": "event.to", "op": "eq", "value": "cancelled"}]},
            }
        ],
        "steps": [task_step()],
    }
    sop, _rev = sop_live(definition=definition)
    made = order(total="150.00")
    cheap = order(total="15.00")
    run = services.run_start_manual(
        sop_id=sop.pk,
        subject_type="order",
        subject_id=made.pk,
        actor=operator,
        idempotency_key="k1",
    )
    again = services.run_start_manual(
        sop_id=sop.pk,
        subject_type="order",
        subject_id=made.pk,
        actor=operator,
        idempotency_key="k1",
    )
    assert again.pk == run.pk and run.started_by_id == operator.pk
    with pytest.raises(DomainError) as unfit:
        services.run_start_manual(
            sop_id=sop.pk,
            subject_type="order",
            subject_id=cheap.pk,
            actor=operator,
            idempotency_key="k2",
        )
    assert unfit.value.field == "subject_id"
    engine_drain()
    executor.runs_advance_all()
    assert Task.objects.filter(state=TaskState.OPEN).count() == 3  # 2 order.created + 1 manual

    run_services.run_cancel(run_id=run.pk, actor=operator, reason="Customer asked")
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED and run.error == "Customer asked"
    with pytest.raises(Conflict):
        run_services.run_cancel(run_id=run.pk, actor=operator)
    assert Task.objects.get(run_id=run.pk).state == TaskState.CANCELLED

    order_change_status(order_id=cheap.pk, to_status="cancelled", actor=None, idempotency_key=None)
    engine_drain()
    cancelled = Run.objects.get(subject_id=cheap.pk)
    assert cancelled.state == RunState.CANCELLED
    assert Task.objects.get(run_id=cancelled.pk).state == TaskState.CANCELLED
    assert Event.objects.filter(event_type="sop_run.cancelled").count() == 2
    # The other run on the first order goes on.
    assert Run.objects.filter(subject_id=made.pk, state=RunState.WAITING).count() == 1
    with pytest.raises(Conflict):
        work_services.task_complete(
            task_id=Task.objects.get(run_id=cancelled.pk).pk, actor=operator
        )
