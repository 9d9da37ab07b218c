"""Every write to tasks: one transaction each, with its event.

`task_create` takes an idempotency key: an SOP step executed twice (a retry,
a second worker after a lease ran out) finds the task the first one made.
Closing a task (done, skipped, cancelled) tells the registered listeners in
the same transaction; the automation engine moves the task's run on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.events.services import event_record
from procedo.work.models import OPEN_STATES, Priority, Task, TaskState
from procedo.work.registry import task_closed_listeners

TITLE_MAX = 200


def _record(event_type: str, task: Task, *, actor: Any, payload: dict[str, Any]) -> None:
    event_record(
        event_type=event_type,
        subject=task,
        customer_id=task.customer_id,
        actor=actor,
        payload={"title": task.title, **payload},
    )


@transaction.atomic
def task_create(
    *,
    title: str,
    actor: Any = None,
    instructions: str = "",
    checklist: Sequence[str] = (),
    subject_type: str = "",
    subject_id: int | None = None,
    customer_id: int | None = None,
    run_id: int | None = None,
    run_step_id: int | None = None,
    assignee_user_id: int | None = None,
    assignee_team_id: int | None = None,
    assignee_role: str = "",
    due_at: datetime | None = None,
    priority: str = Priority.NORMAL,
    idempotency_key: str | None = None,
) -> Task:
    """A task for a person, a team or a role (at least one). A known key returns its task."""
    if idempotency_key:
        existing = Task.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    clean_title = " ".join(title.split())[:TITLE_MAX]
    if not clean_title:
        raise DomainError(field="title", message=_("A task needs a title."))
    if assignee_user_id is None and assignee_team_id is None and not assignee_role:
        raise DomainError(field="assignee", message=_("A task needs a person, a team or a role."))
    if assignee_role and assignee_role not in Role.values:
        raise DomainError(field="assignee_role", message=_("No such role."))
    if priority not in Priority.values:
        raise DomainError(field="priority", message=_("No such priority."))
    task = Task(
        title=clean_title,
        instructions=instructions,
        checklist=[{"text": item, "done": False} for item in checklist],
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        run_id=run_id,
        run_step_id=run_step_id,
        assignee_user_id=assignee_user_id,
        assignee_team_id=assignee_team_id,
        assignee_role=assignee_role,
        due_at=due_at,
        priority=priority,
        created_by=actor if getattr(actor, "pk", None) else None,
        idempotency_key=idempotency_key,
    )
    try:
        with transaction.atomic():
            task.save(force_insert=True)
    except IntegrityError:
        if idempotency_key:  # a twin committed the same key first
            return Task.objects.get(idempotency_key=idempotency_key)
        raise
    _record(
        "task.created",
        task,
        actor=actor,
        payload={
            "assignee_user_id": assignee_user_id,
            "assignee_team_id": assignee_team_id,
            "assignee_role": assignee_role,
            "due_at": due_at,
            "run_id": run_id,
        },
    )
    return task


def task_can_work(*, task: Task, user: Any) -> bool:
    """The assignee, a member of the team, a holder of the role, or a manager."""
    if user_can(user, "tasks.manage"):
        return True
    if not user_can(user, "tasks.work"):
        return False
    if task.assignee_user_id is not None:
        return bool(task.assignee_user_id == user.pk)
    if task.assignee_team_id is not None:
        return bool(user.teams.filter(pk=task.assignee_team_id).exists())
    return bool(task.assignee_role == user.role)


def _task_for_work(task_id: int, actor: Any) -> Task:
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise NotFound(field="task_id", message=_("No task %(id)s.") % {"id": task_id})
    if actor is not None and not task_can_work(task=task, user=actor):
        raise PermissionDenied(field="task_id", message=_("This task is not yours to work on."))
    return task


def _close(task: Task, *, state: str, actor: Any, note: str) -> Task:
    now = timezone.now()
    # Compare-and-set: two people closing at once, one wins, the other hears why.
    changed = Task.objects.filter(pk=task.pk, state__in=OPEN_STATES).update(
        state=state,
        completed_by=actor if getattr(actor, "pk", None) else None,
        completed_at=now,
        outcome_note=note,
    )
    if changed != 1:
        raise Conflict(
            field="state",
            message=_("This task is %(state)s already.") % {"state": task.get_state_display()},
        )
    task.refresh_from_db()
    _record(f"task.{state}", task, actor=actor, payload={"note": note} if note else {})
    for listener in task_closed_listeners():
        listener(task, actor)
    return task


@transaction.atomic
def task_complete(
    *, task_id: int, actor: Any, note: str = "", checked: Iterable[int] | None = None
) -> Task:
    """Done. `checked` are the checklist items ticked (by index); a checklist must be all ticked."""
    task = _task_for_work(task_id, actor)
    if task.checklist:
        ticked = set(checked) if checked is not None else set(range(len(task.checklist)))
        missing = [item["text"] for i, item in enumerate(task.checklist) if i not in ticked]
        if missing:
            raise DomainError(
                field="checklist",
                message=_("Tick every item first: %(item)s") % {"item": missing[0]},
            )
        Task.objects.filter(pk=task.pk).update(
            checklist=[{**item, "done": True} for item in task.checklist]
        )
    return _close(task, state=TaskState.DONE, actor=actor, note=note.strip())


@transaction.atomic
def task_skip(*, task_id: int, actor: Any, note: str) -> Task:
    """Not needed this time; the reason is kept. An SOP's run goes on as if it were done."""
    if not note.strip():
        raise DomainError(field="note", message=_("Say why the task is skipped."))
    task = _task_for_work(task_id, actor)
    return _close(task, state=TaskState.SKIPPED, actor=actor, note=note.strip())


@transaction.atomic
def task_start(*, task_id: int, actor: Any) -> Task:
    task = _task_for_work(task_id, actor)
    changed = Task.objects.filter(pk=task.pk, state=TaskState.OPEN).update(
        state=TaskState.IN_PROGRESS
    )
    if changed:
        task.refresh_from_db()
        _record("task.started", task, actor=actor, payload={})
    return task


@transaction.atomic
def tasks_cancel_for_run_steps(*, run_step_ids: Sequence[int], reason: str) -> int:
    """Cancel the open tasks of these run steps (their run was cancelled or failed)."""
    cancelled = 0
    for task in Task.objects.filter(run_step_id__in=list(run_step_ids), state__in=OPEN_STATES):
        changed = Task.objects.filter(pk=task.pk, state__in=OPEN_STATES).update(
            state=TaskState.CANCELLED, completed_at=timezone.now(), outcome_note=reason
        )
        if changed:
            cancelled += 1
            task.state = TaskState.CANCELLED
            _record("task.cancelled", task, actor=None, payload={"note": reason})
    return cancelled


def tasks_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's tasks become the survivor's."""
    moved = Task.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    Task.objects.filter(subject_type="customer", subject_id=duplicate_id).update(
        subject_id=survivor_id
    )
    return moved
