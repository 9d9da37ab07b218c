"""Tasks in the REST API: open tasks, and closing one (which moves its SOP run on)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from procedo.accounts.permissions import permission_require
from procedo.work import selectors, services
from procedo.work.models import Task

router = Router(tags=["tasks"])


class TaskOut(Schema):
    id: int
    title: str
    instructions: str
    checklist: list[dict[str, Any]]
    subject_type: str
    subject_id: int | None
    customer_id: int | None
    run_id: int | None
    run_step_id: int | None
    assignee_user_id: int | None
    assignee_team_id: int | None
    assignee_role: str
    due_at: datetime | None
    priority: str
    state: str
    created_at: datetime
    completed_by_id: int | None
    completed_at: datetime | None
    outcome_note: str


class TaskPageOut(Schema):
    items: list[TaskOut]
    next_cursor: str | None


class TaskQuery(Schema):
    mine: bool = Field(default=True, description="Only the caller's, their teams' and role's.")
    cursor: str | None = None
    limit: int = Field(default=50, ge=1, le=500)


class CompleteIn(Schema):
    note: str = ""
    checked: list[int] | None = Field(default=None, description="Checklist items ticked, by index.")


class SkipIn(Schema):
    note: str = Field(min_length=1)


def _auth(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


@router.get("", response=TaskPageOut)
def task_list(request: HttpRequest, filters: Query[TaskQuery]) -> dict[str, Any]:
    """Open tasks, soonest due first."""
    permission_require(_auth(request), "tasks.view")
    page = selectors.tasks_open(
        user=_auth(request), mine=filters.mine, cursor=filters.cursor, limit=filters.limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/{task_id}/complete", response=TaskOut)
def task_complete(request: HttpRequest, task_id: int, payload: CompleteIn) -> Task:
    permission_require(_auth(request), "tasks.work")
    return services.task_complete(
        task_id=task_id, actor=_auth(request), note=payload.note, checked=payload.checked
    )


@router.post("/{task_id}/skip", response=TaskOut)
def task_skip(request: HttpRequest, task_id: int, payload: SkipIn) -> Task:
    permission_require(_auth(request), "tasks.work")
    return services.task_skip(task_id=task_id, actor=_auth(request), note=payload.note)
