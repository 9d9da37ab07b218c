"""Every write to tasks: one transaction each, with its event.

`task_create` takes an idempotency key: an SOP step executed twice (a retry,
a second worker after a lease ran out) finds the task the first one made.
Closing a task (done, skipped, cancelled) tells the registered listeners in
the same transaction; the automation engine moves the task's run on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person, actor_person_required
from procedo.accounts.models import Team, User
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.core.texts import LaterText, text_for_storing
from procedo.events.services.recording import NewEvent, event_record, events_record_many
from procedo.work import checklists
from procedo.work.models import (
    OPEN_STATES,
    ChecklistItem,
    ChecklistKind,
    Priority,
    SubjectFact,
    Task,
    TaskState,
)
from procedo.work.registry import task_closed_listeners
from procedo.work.selectors import SUBJECT_MODELS

TITLE_MAX = 200


def _record(event_type: str, task: Task, *, actor: Actor, payload: dict[str, Any]) -> None:
    event_record(
        event_type=event_type,
        subject=task,
        customer_id=task.customer_id,
        actor=actor,
        payload={"title": task.title, **payload},
    )


def _task_build(
    *,
    title: str,
    actor: Actor = None,
    instructions: str = "",
    checklist_kind: str = "",
    checklist: Sequence[Mapping[str, Any]] = (),
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
    escalate_after_minutes: int | None = None,
) -> tuple[Task, list[dict[str, Any]]]:
    """The unsaved task and its checklist items' fields, once every field is checked."""
    clean_title = " ".join(title.split())[:TITLE_MAX]
    if not clean_title:
        raise DomainError(field="title", message=_("A task needs a title."))
    if assignee_user_id is None and assignee_team_id is None and not assignee_role:
        raise DomainError(field="assignee", message=_("A task needs a person, a team or a role."))
    if assignee_role and assignee_role not in Role.values:
        raise DomainError(field="assignee_role", message=_("No such role."))
    if priority not in Priority.values:
        raise DomainError(field="priority", message=_("No such priority."))
    if checklist and checklist_kind not in ChecklistKind.values:
        raise DomainError(field="checklist_kind", message=_("No such kind of checklist."))
    task = Task(
        title=clean_title,
        instructions=instructions,
        checklist_kind=checklist_kind if checklist else "",
        escalate_after_minutes=escalate_after_minutes,
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
        created_by=actor_person(actor),
        idempotency_key=idempotency_key,
    )
    items = checklists.items_from_spec(checklist, kind=checklist_kind) if checklist else []
    return task, items


def _created_payload(task: Task) -> dict[str, Any]:
    return {
        "assignee_user_id": task.assignee_user_id,
        "assignee_team_id": task.assignee_team_id,
        "assignee_role": task.assignee_role,
        "due_at": task.due_at,
        "run_id": task.run_id,
    }


@transaction.atomic
def task_create(
    *,
    title: str,
    actor: Actor = None,
    instructions: str = "",
    checklist_kind: str = "",
    checklist: Sequence[Mapping[str, Any]] = (),
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
    escalate_after_minutes: int | None = None,
) -> Task:
    """A task for a person, a team or a role (at least one). A known key returns its task.

    `checklist` are items as an SOP step defines them (key, text, help,
    required, field_type, choices, options); `checklist_kind` one of the five.
    """
    if idempotency_key:
        existing = Task.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    task, items = _task_build(
        title=title,
        actor=actor,
        instructions=instructions,
        checklist_kind=checklist_kind,
        checklist=checklist,
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
        idempotency_key=idempotency_key,
        escalate_after_minutes=escalate_after_minutes,
    )
    try:
        with transaction.atomic():
            task.save(force_insert=True)
    except IntegrityError:
        if idempotency_key:  # a twin committed the same key first
            return Task.objects.get(idempotency_key=idempotency_key)
        raise
    if items:
        ChecklistItem.objects.bulk_create(ChecklistItem(task=task, **row) for row in items)
    _record("task.created", task, actor=actor, payload=_created_payload(task))
    return task


@transaction.atomic
def tasks_create_many(items: Sequence[Mapping[str, Any]]) -> dict[str, Task]:
    """Many keyed tasks at once, each as `task_create` would make it (no actor): one query
    for the keys made already, one multi-row INSERT for the tasks, one for their checklist
    items, one for their events. Returns every key's task, the new and those found.

    For the SOP executor, which starts the first steps of hundreds of runs at a time
    (make bench, B2b). A key a twin inserts meanwhile fails the whole call (UNIQUE): the
    caller makes them one by one with `task_create`, which answers a twin's key with its task.
    """
    keys = [str(item["idempotency_key"]) for item in items]
    found = {
        task.idempotency_key or "": task for task in Task.objects.filter(idempotency_key__in=keys)
    }
    built = [_task_build(**item) for item in items if item["idempotency_key"] not in found]
    if built:
        tasks = Task.objects.bulk_create([task for task, _items in built])
        ChecklistItem.objects.bulk_create(
            ChecklistItem(task=task, **row) for task, rows in built for row in rows
        )
        events_record_many(
            NewEvent(
                event_type="task.created",
                subject_type="task",
                subject_id=task.pk,
                customer_id=task.customer_id,
                payload={"title": task.title, **_created_payload(task)},
            )
            for task in tasks
        )
        found.update((task.idempotency_key or "", task) for task in tasks)
    return found


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


def _task_for_work(task_id: int, actor: Actor) -> Task:
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise NotFound(field="task_id", message=_("No task %(id)s.") % {"id": task_id})
    if actor is not None and not task_can_work(task=task, user=actor):
        raise PermissionDenied(field="task_id", message=_("This task is not yours to work on."))
    return task


def _close(task: Task, *, state: str, actor: Actor, note: str) -> Task:
    now = timezone.now()
    # Compare-and-set: two people closing at once, one wins, the other hears why.
    changed = Task.objects.filter(pk=task.pk, state__in=OPEN_STATES).update(
        state=state,
        completed_by=actor_person(actor),
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


def _locked_open_task(task_id: int, actor: Actor) -> Task:
    """The task, locked for this transaction, if the actor may work on it and it is open."""
    task = _task_for_work(task_id, actor)
    task = Task.objects.select_for_update().get(pk=task.pk)
    if not task.is_open:
        raise Conflict(
            field="state",
            message=_("This task is %(state)s already.") % {"state": task.get_state_display()},
        )
    return task


def _answers_store(
    task: Task, answers: Mapping[str, Any], *, actor: Actor, now: Any
) -> list[ChecklistItem]:
    """Check every answer first, then store them: one bad answer changes nothing."""
    items = {item.key: item for item in task.items.all()}
    unknown = [key for key in answers if key not in items]
    if unknown:
        raise DomainError(
            field=f"items.{unknown[0]}",
            message=_("The checklist has no item “%(key)s”.") % {"key": unknown[0]},
        )
    changed = []
    for key, raw in answers.items():
        item = items[key]
        value = checklists.answer_clean(item, kind=task.checklist_kind, value=raw)
        if value != item.answer:
            item.answer = value
            item.answered_by = actor_person(actor)
            item.answered_at = now if value is not None else None
            changed.append(item)
    ChecklistItem.objects.bulk_update(changed, ["answer", "answered_by", "answered_at"])
    if changed:
        _record(
            "task.answered",
            task,
            actor=actor,
            payload={"answers": {item.key: item.answer for item in changed}},
        )
    return sorted(items.values(), key=lambda item: item.position)


@transaction.atomic
def checklist_answer(
    *, task_id: int, actor: Actor, answers: Mapping[str, Any]
) -> list[ChecklistItem]:
    """Store some answers of an open task's checklist (ticking as one goes); returns all items."""
    task = _locked_open_task(task_id, actor)
    return _answers_store(task, answers, actor=actor, now=timezone.now())


def _facts_keep(task: Task, items: Sequence[ChecklistItem], actor: Actor) -> None:
    """An information checklist's answers become the subject's current facts."""
    if task.checklist_kind != "information" or not task.subject_type or task.subject_id is None:
        return
    now = timezone.now()
    facts = [
        SubjectFact(
            subject_type=task.subject_type,
            subject_id=task.subject_id,
            key=item.key,
            label=item.text,
            value=item.answer,
            task=task,
            recorded_by=actor_person(actor),
            recorded_at=now,
        )
        for item in items
        if item.answer is not None
    ]
    SubjectFact.objects.bulk_create(
        facts,
        update_conflicts=True,
        unique_fields=["subject_type", "subject_id", "key"],
        update_fields=["label", "value", "task", "recorded_by", "recorded_at"],
    )


@transaction.atomic
def task_complete(
    *, task_id: int, actor: Actor, note: str = "", answers: Mapping[str, Any] | None = None
) -> Task:
    """Done. `answers` (item key → answer) are stored first; required items must be answered."""
    task = _locked_open_task(task_id, actor)
    if task.checklist_kind:
        items = _answers_store(task, answers or {}, actor=actor, now=timezone.now())
        missing = checklists.first_missing(items)
        if missing is not None:
            raise DomainError(
                field=f"items.{missing.key}",
                message=checklists.missing_message(missing, kind=task.checklist_kind),
            )
        _facts_keep(task, items, actor)
    elif answers:
        raise DomainError(field="answers", message=_("This task has no checklist."))
    return _close(task, state=TaskState.DONE, actor=actor, note=note.strip())


@transaction.atomic
def task_skip(*, task_id: int, actor: Actor, note: str) -> Task:
    """Not needed this time; the reason is kept. An SOP's run goes on as if it were done."""
    if not note.strip():
        raise DomainError(field="note", message=_("Say why the task is skipped."))
    task = _task_for_work(task_id, actor)
    return _close(task, state=TaskState.SKIPPED, actor=actor, note=note.strip())


@transaction.atomic
def task_start(*, task_id: int, actor: Actor) -> Task:
    task = _task_for_work(task_id, actor)
    changed = Task.objects.filter(pk=task.pk, state=TaskState.OPEN).update(
        state=TaskState.IN_PROGRESS
    )
    if changed:
        task.refresh_from_db()
        _record("task.started", task, actor=actor, payload={})
    return task


@transaction.atomic
def tasks_cancel_for_run_steps(*, run_step_ids: Sequence[int], reason: str | LaterText) -> int:
    """Cancel the open tasks of these run steps (their run was cancelled or failed)."""
    cancelled = 0
    note, note_text = text_for_storing(reason)
    for task in Task.objects.filter(run_step_id__in=list(run_step_ids), state__in=OPEN_STATES):
        changed = Task.objects.filter(pk=task.pk, state__in=OPEN_STATES).update(
            state=TaskState.CANCELLED,
            completed_at=timezone.now(),
            outcome_note=note,
            outcome_note_text=note_text,
        )
        if changed:
            cancelled += 1
            task.state = TaskState.CANCELLED
            payload: dict[str, Any] = {"note": note}
            if note_text:
                payload["note_text"] = note_text
            _record("task.cancelled", task, actor=None, payload=payload)
    return cancelled


def tasks_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's tasks become the survivor's."""
    moved = Task.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    Task.objects.filter(subject_type="customer", subject_id=duplicate_id).update(
        subject_id=survivor_id
    )
    return moved


@transaction.atomic
def task_create_by_hand(
    *,
    actor: Actor,
    title: str,
    instructions: str = "",
    subject_type: str = "",
    subject_id: int | None = None,
    assignee_user_id: int | None = None,
    assignee_team_id: int | None = None,
    assignee_role: str = "",
    due_at: datetime | None = None,
    priority: str = Priority.NORMAL,
) -> Task:
    """A task a person writes: for someone active, a team or a role, on a customer or an order."""
    from django.apps import apps

    if not user_can(actor, "tasks.work"):
        raise PermissionDenied(field="actor", message=_("You may not create tasks."))
    customer_id = None
    if subject_type or subject_id is not None:
        if subject_type not in SUBJECT_MODELS:
            raise DomainError(
                field="subject_type", message=_("A task can be on a customer or an order.")
            )
        model = apps.get_model(*SUBJECT_MODELS[subject_type])
        subject = model.objects.filter(pk=subject_id).first()
        if subject is None:
            raise NotFound(
                field="subject_id", message=_("No such %(subject)s.") % {"subject": subject_type}
            )
        customer_id = subject.pk if subject_type == "customer" else subject.customer_id
    if (
        assignee_user_id is not None
        and not User.objects.filter(pk=assignee_user_id, is_active=True).exists()
    ):
        raise DomainError(field="assignee_user_id", message=_("No active person with that id."))
    if assignee_team_id is not None and not Team.objects.filter(pk=assignee_team_id).exists():
        raise DomainError(field="assignee_team_id", message=_("No such team."))
    return task_create(
        title=title,
        actor=actor,
        instructions=instructions,
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        assignee_user_id=assignee_user_id,
        assignee_team_id=assignee_team_id,
        assignee_role=assignee_role,
        due_at=due_at,
        priority=priority,
    )


@transaction.atomic
def task_take(*, task_id: int, actor: Actor) -> Task:
    """Take a task from a team's or a role's queue: it becomes the person's."""
    person = actor_person_required(actor)
    task = Task.objects.filter(pk=task_id).first()
    if task is not None and task.assignee_user_id not in (None, person.pk):
        raise Conflict(field="assignee_user_id", message=_("Someone has taken this task already."))
    task = _task_for_work(task_id, actor)
    if task.assignee_user_id == person.pk:
        return task
    # Compare-and-set: of two people taking the same task, one gets it.
    taken = Task.objects.filter(
        pk=task.pk, assignee_user__isnull=True, state__in=OPEN_STATES
    ).update(assignee_user=person)
    if not taken:
        raise Conflict(field="assignee_user_id", message=_("Someone has taken this task already."))
    task.refresh_from_db()
    _record("task.taken", task, actor=actor, payload={"assignee_user_id": person.pk})
    return task


@transaction.atomic
def task_release(*, task_id: int, actor: Actor) -> Task:
    """Give a taken task back to its team's or role's queue, for someone else to take."""
    person = actor_person_required(actor)
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise NotFound(field="task_id", message=_("No task %(id)s.") % {"id": task_id})
    if task.assignee_user_id != person.pk:
        raise Conflict(
            field="assignee_user_id", message=_("Only the person who has the task gives it back.")
        )
    if task.assignee_team_id is None and not task.assignee_role:
        raise Conflict(
            field="assignee_user_id",
            message=_("This task has no team or role queue to go back to."),
        )
    # Compare-and-set: a task completed or reassigned meanwhile stays as it is.
    released = Task.objects.filter(pk=task.pk, assignee_user=person, state__in=OPEN_STATES).update(
        assignee_user=None
    )
    if not released:
        raise Conflict(field="state", message=_("This task is closed or is no longer yours."))
    task.refresh_from_db()
    _record("task.released", task, actor=actor, payload={})
    return task
