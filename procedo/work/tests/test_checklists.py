"""Checklists of five kinds: typed answers, required items, routing a run, facts on subjects."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.roles import Role
from procedo.accounts.services import user_set_active
from procedo.automation.models import Run, RunState
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import (
    customer,
    engine_drain,
    order,
    person,
    sop_with_decisions,
)
from procedo.core.errors import Conflict, DomainError, PermissionDenied
from procedo.events.models import Event
from procedo.testing import logged_in
from procedo.work.models import ChecklistItem, SubjectFact, Task, TaskState
from procedo.work.services import lifecycle as services

pytestmark = pytest.mark.django_db


def _task(kind: str, items: list[dict[str, Any]], **extra: Any) -> Task:
    return services.task_create(
        title="Check",
        assignee_role=Role.OPERATOR,
        checklist_kind=kind,
        checklist=items,
        **extra,
    )


def _answers(task: Task) -> dict[str, Any]:
    return dict(ChecklistItem.objects.filter(task=task).values_list("key", "answer"))


def test_required_items_block_completion_and_optional_ones_do_not() -> None:
    operator = person(Role.OPERATOR)
    task = _task(
        "detailed",
        [
            {"key": "box", "text": "Коробка", "help": "Подвійний картон"},
            {"key": "gift", "text": "Подарункова листівка", "required": False},
        ],
    )
    assert task.items.get(key="box").help == "Подвійний картон"
    with pytest.raises(DomainError, match="Tick “Коробка” first") as refused:
        services.task_complete(task_id=task.pk, actor=operator)
    assert refused.value.field == "items.box"
    services.task_complete(task_id=task.pk, actor=operator, answers={"box": "on"})
    task.refresh_from_db()
    assert task.state == TaskState.DONE
    assert _answers(task) == {"box": True, "gift": None}


def test_answers_of_the_wrong_type_are_refused_and_change_nothing() -> None:
    operator = person(Role.OPERATOR)
    task = _task(
        "information",
        [
            {"key": "amount", "text": "Сума", "field_type": "number"},
            {"key": "when", "text": "Дата", "field_type": "date"},
            {
                "key": "reason",
                "text": "Причина",
                "field_type": "choice",
                "choices": ["Брак", "Запізно"],
            },
            {"key": "again", "text": "Купить ще?", "field_type": "yes_no"},
        ],
    )
    bad = [
        ({"amount": "багато"}, "items.amount"),
        ({"when": "31.12.2026"}, "items.when"),
        ({"reason": "Інше"}, "items.reason"),
        ({"again": "можливо"}, "items.again"),
        ({"nope": "x"}, "items.nope"),
        # One bad answer among good ones: none is stored.
        ({"amount": "12,50", "when": "someday"}, "items.when"),
    ]
    for answers, field in bad:
        with pytest.raises(DomainError) as refused:
            services.checklist_answer(task_id=task.pk, actor=operator, answers=answers)
        assert refused.value.field == field
    assert set(_answers(task).values()) == {None}
    assert not Event.objects.filter(event_type="task.answered").exists()

    services.checklist_answer(
        task_id=task.pk,
        actor=operator,
        answers={"amount": "1 250,50", "when": "2026-11-24", "reason": "Брак", "again": "ні"},
    )
    assert _answers(task) == {
        "amount": "1250.50",
        "when": "2026-11-24",
        "reason": "Брак",
        "again": False,  # a "no" is an answer, not a blank
    }
    assert Event.objects.filter(event_type="task.answered", subject_id=task.pk).count() == 1


def test_information_answers_become_facts_of_the_subject() -> None:
    operator = person(Role.OPERATOR)
    buyer = customer()
    items = [{"key": "complaint_reason", "text": "Причина скарги"}]
    first = _task("information", items, subject_type="customer", subject_id=buyer.pk)
    services.task_complete(task_id=first.pk, actor=operator, answers={"complaint_reason": "Брак"})
    second = _task("information", items, subject_type="customer", subject_id=buyer.pk)
    services.task_complete(
        task_id=second.pk, actor=operator, answers={"complaint_reason": "Запізнення"}
    )
    fact = SubjectFact.objects.get(subject_type="customer", subject_id=buyer.pk)
    assert (fact.label, fact.value, fact.task_id) == ("Причина скарги", "Запізнення", second.pk)


def test_completing_twice_or_someone_elses_task_is_refused() -> None:
    operator, other = person(Role.OPERATOR), person(Role.OPERATOR)
    mine = services.task_create(title="Мій", assignee_user_id=operator.pk)
    with pytest.raises(PermissionDenied):
        services.task_complete(task_id=mine.pk, actor=other)
    services.task_complete(task_id=mine.pk, actor=operator)
    with pytest.raises(Conflict, match="already"):
        services.task_complete(task_id=mine.pk, actor=operator)
    assert Event.objects.filter(event_type="task.done", subject_id=mine.pk).count() == 1


def test_taking_from_a_queue_is_first_come() -> None:
    first, second = person(Role.OPERATOR), person(Role.OPERATOR)
    task = services.task_create(title="З черги", assignee_role=Role.OPERATOR)
    services.task_take(task_id=task.pk, actor=first)
    with pytest.raises(Conflict, match="taken"):
        services.task_take(task_id=task.pk, actor=second)
    task.refresh_from_db()
    assert task.assignee_user_id == first.pk


def _run_to_first_task() -> tuple[Run, Task]:
    order()
    engine_drain()
    executor.runs_advance()
    return Run.objects.get(), Task.objects.get(state=TaskState.OPEN)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("answer", "next_step"), [("yes", "pack"), ("change", "change"), ("no_answer", "retry")]
)
def test_a_decision_routes_the_run(answer: str, next_step: str, quiet: None) -> None:
    sop_with_decisions()
    operator = person(Role.OPERATOR)
    run, task = _run_to_first_task()
    services.task_complete(task_id=task.pk, actor=operator, answers={"answer": answer})
    run.refresh_from_db()
    assert run.current_step == next_step
    step = run.steps.get(step_key="confirm")
    assert (step.state, step.outcome) == ("done", answer)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("verdict", "next_step"), [("passed", "ship"), ("failed", "fix")])
def test_a_failed_verification_routes_the_run(verdict: str, next_step: str, quiet: None) -> None:
    sop_with_decisions()
    operator = person(Role.OPERATOR)
    run, task = _run_to_first_task()
    services.task_complete(task_id=task.pk, actor=operator, answers={"answer": "yes"})
    executor.runs_advance()
    pack = Task.objects.get(title="Зібрати")
    assert pack.checklist_kind == "verification"
    with pytest.raises(DomainError, match="passed or failed"):
        services.task_complete(task_id=pack.pk, actor=operator, answers={"complete": "maybe"})
    services.task_complete(task_id=pack.pk, actor=operator, answers={"complete": verdict})
    run.refresh_from_db()
    assert (run.current_step, run.state) == (next_step, RunState.RUNNING)


@pytest.mark.django_db(transaction=True)
def test_the_task_page_saves_an_answer_with_htmx_and_completes(quiet: None) -> None:
    sop_with_decisions()
    operator = person(Role.OPERATOR)
    run, task = _run_to_first_task()
    client = logged_in(operator)
    page = client.get(reverse("work:detail", args=[task.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Що сказав клієнт?" in body and "Every order confirmed fast" in body

    saved = client.post(
        reverse("work:answer", args=[task.pk]),
        {"present": "answer", "item-answer": "change"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and "saved" in saved.content.decode()
    assert _answers(task) == {"answer": "change"}
    refused = client.post(
        reverse("work:answer", args=[task.pk]),
        {"present": "answer", "item-answer": "maybe"},
        headers={"HX-Request": "true"},
    )
    assert "choose one of" in refused.content.decode()
    assert _answers(task) == {"answer": "change"}

    done = client.post(
        reverse("work:complete", args=[task.pk]),
        {"present": "answer", "item-answer": "change", "note": "Інший колір"},
    )
    assert done.status_code == 302
    run.refresh_from_db()
    assert run.current_step == "change"


def test_my_work_sorts_the_day_and_done_leaves_the_page(quiet: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    operator = person(Role.OPERATOR)
    now = timezone.now()
    late = services.task_create(
        title="Прострочене", assignee_user_id=operator.pk, due_at=now - timedelta(hours=2)
    )
    later = services.task_create(
        title="Пізніше", assignee_user_id=operator.pk, due_at=now + timedelta(days=3)
    )
    queued = services.task_create(title="У черзі", assignee_role=Role.OPERATOR)
    client = logged_in(operator)
    page = client.get(reverse("work:mine"))
    day = page.context["day"]
    assert [t.pk for t in day.overdue] == [late.pk]
    assert [t.pk for t in day.upcoming] == [later.pk]
    assert [t.pk for t in day.queue] == [queued.pk]
    assert '<span class="badge">2</span>' in page.content.decode()  # the navigation's count

    done = client.post(reverse("work:complete", args=[late.pk]), headers={"HX-Request": "true"})
    assert done.status_code == 200 and done.content == b""
    taken = client.post(reverse("work:take", args=[queued.pk]), headers={"HX-Request": "true"})
    assert "Done" in taken.content.decode()
    queued.refresh_from_db()
    assert queued.assignee_user_id == operator.pk


def test_a_task_by_hand_checks_its_subject_and_assignee(owner_client: Client) -> None:
    buyer = customer()
    gone = person(Role.OPERATOR)
    user_set_active(user_id=gone.pk, active=False, actor=None)
    refused = owner_client.post(
        reverse("work:create"),
        {"title": "Передзвонити", "assignee": f"user:{gone.pk}", "priority": "normal"},
    )
    assert refused.status_code == 200 and refused.context["form"].errors
    made = owner_client.post(
        reverse("work:create"),
        {
            "title": "Передзвонити",
            "assignee": "role:operator",
            "priority": "high",
            "subject_type": "customer",
            "subject_id": buyer.pk,
            "due_at": "2026-12-01T10:00",
        },
    )
    assert made.status_code == 302
    task = Task.objects.get()
    assert (task.customer_id, task.assignee_role, task.priority) == (buyer.pk, "operator", "high")
