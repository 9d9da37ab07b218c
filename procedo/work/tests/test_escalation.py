"""The overdue sweep: people hear of a late task once, escalation after the stated time only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from procedo.accounts.models import Team, User
from procedo.accounts.roles import Role
from procedo.accounts.services import user_set_active
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import engine_drain, event_trigger, order, sop_live, task_step
from procedo.collab.models import Notification
from procedo.events.models import Event
from procedo.work.models import Task
from procedo.work.services import escalation
from procedo.work.services import lifecycle as services

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _task(title: str = "Передзвонити", *, due_minutes_ago: int = 10, **extra: Any) -> Task:
    due_at = NOW - timedelta(minutes=due_minutes_ago)
    return services.task_create(title=title, due_at=due_at, **extra)


def _notes(user: User, kind: str = "overdue") -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind=kind).order_by("pk"))


def _team(name: str, *members: User, lead: User | None = None) -> Team:
    team = Team.objects.create(name=name, lead=lead)
    team.members.add(*members)
    return team


def test_an_overdue_task_is_marked_and_its_person_told_once(
    make_user: Callable[..., User],
) -> None:
    olena = make_user(Role.OPERATOR, email="olena@example.com")
    late = _task(assignee_user_id=olena.pk)
    _task("Пізніше", due_minutes_ago=-30, assignee_user_id=olena.pk)
    done = _task("Зроблено", assignee_user_id=olena.pk)
    services.task_complete(task_id=done.pk, actor=olena)

    first = escalation.tasks_sweep(now=NOW)
    second = escalation.tasks_sweep(now=NOW + timedelta(seconds=20))

    assert (first.overdue, first.notifications) == (1, 1)
    assert (second.overdue, second.notifications) == (0, 0)
    late.refresh_from_db()
    assert late.overdue_notified_at == NOW
    assert [(n.title, n.url, n.subject_id) for n in _notes(olena)] == [
        ("Overdue: Передзвонити", f"/tasks/{late.pk}/", late.pk)
    ]
    events = Event.objects.filter(event_type="task.overdue")
    assert [(e.subject_id, e.payload["notified"]) for e in events] == [(late.pk, [olena.pk])]
    assert not Task.objects.exclude(pk=late.pk).filter(overdue_notified_at__isnull=False).exists()


def test_queue_tasks_tell_the_team_or_the_role_and_orphans_tell_the_managers(
    make_user: Callable[..., User],
) -> None:
    olena, taras, gone = (make_user(Role.OPERATOR) for _ in range(3))
    support = make_user(Role.SUPPORT)
    manager = make_user(Role.MANAGER)
    warehouse = _team("Склад", olena, taras, gone)
    user_set_active(user_id=gone.pk, active=False, actor=None)
    team_task = _task("Зібрати", assignee_team_id=warehouse.pk)
    role_task = _task("Відповісти", assignee_role=Role.SUPPORT)
    orphan = _task("Нічия", assignee_user_id=gone.pk)

    result = escalation.tasks_sweep(now=NOW)

    assert result.overdue == 3
    assert [n.subject_id for n in _notes(olena)] == [team_task.pk]
    assert [n.subject_id for n in _notes(taras)] == [team_task.pk]
    assert [n.subject_id for n in _notes(support)] == [role_task.pk]
    assert [(n.subject_id, n.title) for n in _notes(manager)] == [
        (orphan.pk, "Nobody is on an overdue task: Нічия")
    ]
    assert not Notification.objects.filter(recipient=gone).exists()


def test_several_overdue_tasks_make_one_digest_per_person(
    make_user: Callable[..., User],
) -> None:
    olena = make_user(Role.OPERATOR)
    for n in range(3):
        _task(f"Задача {n}", assignee_user_id=olena.pk)
    escalation.tasks_sweep(now=NOW)
    [note] = _notes(olena)
    assert note.title == "3 of your tasks are overdue"
    assert note.url == "/tasks/"
    assert note.body.splitlines() == ["• Задача 0", "• Задача 1", "• Задача 2"]


def test_escalation_waits_for_the_stated_time_and_goes_to_the_team_lead_once(
    make_user: Callable[..., User],
) -> None:
    olena, lead = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    team = _team("Склад", olena, lead=lead)
    task = _task(assignee_user_id=olena.pk, assignee_team_id=team.pk, escalate_after_minutes=30)

    early = escalation.tasks_sweep(now=NOW)  # 10 minutes late: overdue, not escalated yet
    just_before = escalation.tasks_sweep(now=NOW + timedelta(minutes=19, seconds=59))
    on_time = escalation.tasks_sweep(now=NOW + timedelta(minutes=20))
    again = escalation.tasks_sweep(now=NOW + timedelta(minutes=21))

    assert (early.overdue, early.escalated) == (1, 0)
    assert (just_before.overdue, just_before.escalated) == (0, 0)
    assert (on_time.escalated, on_time.notifications) == (1, 1)
    assert (again.escalated, again.notifications) == (0, 0)
    task.refresh_from_db()
    assert task.escalated_to_id == lead.pk
    assert task.escalated_at == NOW + timedelta(minutes=20)
    assert [n.title for n in _notes(lead, "escalated")] == [
        "Escalated to you, still not done: Передзвонити"
    ]
    [event] = Event.objects.filter(event_type="task.escalated")
    assert event.payload["to_user_id"] == lead.pk and event.payload["after_minutes"] == 30


def test_a_task_without_a_rule_or_closed_in_time_is_never_escalated(
    make_user: Callable[..., User],
) -> None:
    olena = make_user(Role.OPERATOR)
    _task(assignee_user_id=olena.pk)
    closed = _task("Вчасно", assignee_user_id=olena.pk, escalate_after_minutes=5)
    services.task_complete(task_id=closed.pk, actor=olena)
    result = escalation.tasks_sweep(now=NOW + timedelta(days=3))
    assert result.escalated == 0
    assert not Task.objects.filter(escalated_at__isnull=False).exists()


def test_escalation_skips_the_assignee_and_falls_back_to_the_managers(
    make_user: Callable[..., User],
) -> None:
    """The lead doing the task is not told of it; with no one above, the managers hear."""
    lead, other_lead = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    manager, second_manager = make_user(Role.MANAGER), make_user(Role.MANAGER)
    _team("Склад", lead, lead=lead)
    own = _task("Своя", assignee_user_id=lead.pk, escalate_after_minutes=0)
    member = make_user(Role.OPERATOR)
    _team("Доставка", member, lead=other_lead)
    via_membership = _task("Через команду", assignee_user_id=member.pk, escalate_after_minutes=0)

    escalation.tasks_sweep(now=NOW)

    own.refresh_from_db()
    via_membership.refresh_from_db()
    assert own.escalated_at == NOW and own.escalated_to_id is None
    assert via_membership.escalated_to_id == other_lead.pk
    for person in (manager, second_manager):
        assert [n.subject_id for n in _notes(person, "escalated")] == [own.pk]
    assert not _notes(lead, "escalated")


# On PostgreSQL the engine reads only committed transactions: this test commits.
@pytest.mark.django_db(transaction=True)
def test_a_run_task_escalates_to_the_sops_owner(
    make_user: Callable[..., User], quiet: None
) -> None:
    sop_owner = make_user(Role.OWNER)
    make_user(Role.MANAGER)
    sop_live(
        owner=sop_owner,
        definition={
            "triggers": [event_trigger()],
            "steps": [task_step("confirm", escalate_after_minutes=60)],
        },
    )
    order()
    engine_drain()
    executor.runs_advance()
    task = Task.objects.get()
    assert task.run_id is not None and task.escalate_after_minutes == 60
    assert task.due_at is not None

    escalation.tasks_sweep(now=task.due_at + timedelta(minutes=60))

    task.refresh_from_db()
    assert task.escalated_to_id == sop_owner.pk
    assert [n.subject_id for n in _notes(sop_owner, "escalated")] == [task.pk]


def _queries_for(make_user: Callable[..., User], n: int, when: datetime) -> int:
    olena, taras = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    lead = make_user(Role.OPERATOR)
    team = _team(f"Команда {n}", olena, taras, lead=lead)
    for i in range(n):
        _task(f"Особиста {i}", assignee_user_id=olena.pk, escalate_after_minutes=0)
        _task(f"З черги {i}", assignee_team_id=team.pk, escalate_after_minutes=0)
    with CaptureQueriesContext(connection) as captured:
        result = escalation.tasks_sweep(now=when)
    assert result.overdue == 2 * n and result.escalated == 2 * n
    return len(captured.captured_queries)


def test_the_sweep_is_set_based_whatever_the_number_of_tasks(
    make_user: Callable[..., User],
) -> None:
    few = _queries_for(make_user, 2, NOW)
    Task.objects.all().delete()
    many = _queries_for(make_user, 40, NOW + timedelta(minutes=1))
    assert few == many
    # Each run: one digest for Olena's own tasks, one for the team's queue to both.
    assert Notification.objects.filter(kind="overdue").count() == 2 * 3


def test_the_minute_tick_runs_the_sweep(make_user: Callable[..., User]) -> None:
    from huey.api import PeriodicTask

    from procedo.work.tasks import work_tick

    olena = make_user(Role.OPERATOR)
    task = services.task_create(
        title="Давно", assignee_user_id=olena.pk, due_at=timezone.now() - timedelta(hours=1)
    )
    assert isinstance(work_tick.task_class(), PeriodicTask)
    work_tick.call_local()
    task.refresh_from_db()
    assert task.overdue_notified_at is not None
    assert len(_notes(olena)) == 1


def test_a_twin_sweep_that_read_the_same_candidates_claims_nothing(
    make_user: Callable[..., User],
) -> None:
    """Two workers ticking at once read the same candidates; the compare-and-set splits them."""
    olena = make_user(Role.OPERATOR)
    task = _task(assignee_user_id=olena.pk, escalate_after_minutes=0)
    for column in ("overdue_notified_at", "escalated_at"):
        first = escalation._claim([task.pk], column=column, now=NOW)
        twin = escalation._claim([task.pk], column=column, now=NOW + timedelta(seconds=1))
        assert (first, twin) == ([task.pk], [])
    task.refresh_from_db()
    assert task.overdue_notified_at == NOW and task.escalated_at == NOW
