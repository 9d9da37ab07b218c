"""Tasks in the REST API: open tasks, a task by hand, answering its checklist, closing it.

Closing a task an SOP run made moves that run on (a decision's answer picks the branch).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import (
    PAGE_LIMIT_DEFAULT,
    Cursor,
    Id,
    LongText,
    Moment,
    PageLimit,
    PathId,
    ShortText,
)
from procedo.core.exports import filters_known
from procedo.core.idempotency import idempotency_header
from procedo.core.schemas import EXPORT_RESPONSE, ExportFormat, Schema
from procedo.events.exports import export_stream
from procedo.work import selectors
from procedo.work.models import Task
from procedo.work.services import handover
from procedo.work.services import lifecycle as services

router = Router(tags=["tasks"])


class ChecklistItemOut(Schema):
    key: str
    text: str
    help: str
    required: bool
    field_type: str
    options: list[dict[str, Any]]
    answer: Any
    answered_at: datetime | None


class TaskOut(Schema):
    id: int
    title: str
    instructions: str
    checklist_kind: str
    items: list[ChecklistItemOut]
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


class TaskFilterQuery(Schema):
    """The open tasks page's filter, by the page's name."""

    all: bool = Field(default=False, description="Every open task, not only the caller's.")
    mine: bool | None = Field(
        default=None,
        description="The former, opposite, name of `all`.",
        json_schema_extra={"deprecated": True},
    )

    def selection(self) -> dict[str, Any]:
        return {"mine": self.mine if self.mine is not None else not self.all}


class TaskQuery(TaskFilterQuery):
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class TaskExportQuery(TaskFilterQuery):
    format: ExportFormat = "csv"


class TeamTaskQuery(Schema):
    """The manager's view's filters, by its page's names (all open tasks without them)."""

    assignee: Id | None = Field(default=None, description="A person's own tasks.")
    team: Id | None = Field(default=None, description="A team's queue (nobody has taken them).")
    role: ShortText = Field(default="", description="A role's queue (no person, no team).")
    overdue: bool = False
    escalated: bool = False
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class TaskIn(Schema):
    title: str = Field(min_length=1, max_length=200)
    instructions: LongText = ""
    subject_type: ShortText = ""
    subject_id: Id | None = None
    assignee_user_id: Id | None = None
    assignee_team_id: Id | None = None
    assignee_role: ShortText = ""
    due_at: Moment | None = None
    priority: ShortText = "normal"


class AnswersIn(Schema):
    answers: dict[str, Any] = Field(
        description="Item key → answer: true for a ticked item, an option's value for a "
        "decision, passed/failed for a criterion, the value of a field."
    )


class CompleteIn(Schema):
    note: LongText = ""
    answers: dict[str, Any] | None = Field(
        default=None, description="Answers to store before completing (see /answers)."
    )


class SkipIn(Schema):
    note: LongText = Field(min_length=1)


@router.get("", response=TaskPageOut, auth=requires_api("tasks.view"))
def task_list(request: ApiRequest, filters: Query[TaskQuery]) -> dict[str, Any]:
    """Open tasks, soonest due first."""
    page = selectors.tasks_open(
        user=request.auth, **filters.selection(), cursor=filters.cursor, limit=filters.limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/export", auth=requires_api("tasks.view"), openapi_extra=EXPORT_RESPONSE)
def task_export(request: ApiRequest, filters: Query[TaskExportQuery]) -> StreamingHttpResponse:
    """The open tasks as a CSV (UTF-8 with a BOM) or XLSX file, streamed and recorded."""
    return export_stream(
        request=request,
        actor=request.auth,
        list_name="tasks",
        fmt=filters.format,
        filters=filters_known(request.GET, TaskExportQuery.model_fields),
        columns=selectors.TASK_COLUMNS,
        rows=selectors.task_export_rows(user=request.auth, **filters.selection()),
    )


@router.get("/manage/tasks", response=TaskPageOut, auth=requires_api("tasks.manage"))
def team_task_list(request: ApiRequest, filters: Query[TeamTaskQuery]) -> dict[str, Any]:
    """The open tasks behind a number of the manager's view, soonest due first."""
    page = selectors.tasks_open(
        assignee_id=filters.assignee,
        team_id=filters.team,
        role=filters.role,
        overdue=filters.overdue,
        escalated=filters.escalated,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("", response={201: TaskOut}, auth=requires_api("tasks.work"))
def task_create(request: ApiRequest, payload: TaskIn) -> Status:
    """A task by hand, for a person, a team or a role."""
    return Status(201, services.task_create_by_hand(actor=request.auth, **payload.dict()))


@router.get("/{int:task_id}", response=TaskOut, auth=requires_api("tasks.view"))
def task_detail(request: ApiRequest, task_id: PathId) -> Task:
    return selectors.task_require(task_id=task_id)


@router.post("/{int:task_id}/take", response=TaskOut, auth=requires_api("tasks.work"))
def task_take(request: ApiRequest, task_id: PathId) -> Task:
    """Take a task from a team's or a role's queue: it becomes the caller's.

    409 naming `assignee_user_id` when someone else has it; taking your own again is a no-op.
    """
    return services.task_take(task_id=task_id, actor=request.auth)


@router.post("/{int:task_id}/release", response=TaskOut, auth=requires_api("tasks.work"))
def task_release(request: ApiRequest, task_id: PathId) -> Task:
    """Give a task you took back to its team's or role's queue (409 if it has none)."""
    return services.task_release(task_id=task_id, actor=request.auth)


@router.post("/{int:task_id}/answers", response=TaskOut, auth=requires_api("tasks.work"))
def task_answer(request: ApiRequest, task_id: PathId, payload: AnswersIn) -> Task:
    """Store answers of the checklist without completing the task."""
    services.checklist_answer(task_id=task_id, actor=request.auth, answers=payload.answers)
    return selectors.task_require(task_id=task_id)


@router.post("/{int:task_id}/complete", response=TaskOut, auth=requires_api("tasks.work"))
def task_complete(request: ApiRequest, task_id: PathId, payload: CompleteIn) -> Task:
    services.task_complete(
        task_id=task_id, actor=request.auth, note=payload.note, answers=payload.answers
    )
    return selectors.task_require(task_id=task_id)


@router.post("/{int:task_id}/skip", response=TaskOut, auth=requires_api("tasks.work"))
def task_skip(request: ApiRequest, task_id: PathId, payload: SkipIn) -> Task:
    services.task_skip(task_id=task_id, actor=request.auth, note=payload.note)
    return selectors.task_require(task_id=task_id)


# The manager's view, the report of forgotten tasks and hand-over (procedo/work/handover.py),
# under /manage/: a single segment after /tasks/ would be taken for a task id.


class LoadOut(Schema):
    label: str
    open: int
    overdue: int
    escalated: int
    user_id: int | None
    team_id: int | None
    role: str
    active: bool


class TeamWorkOut(Schema):
    people: list[LoadOut]
    queues: list[LoadOut]


class UnattendedTaskOut(Schema):
    id: int
    title: str
    reason: str = Field(description="nobody, inactive, empty_team or empty_role")
    assignee_user_id: int | None
    assignee_team_id: int | None
    assignee_role: str
    due_at: datetime | None
    run_id: int | None
    state: str


class UnattendedOut(Schema):
    items: list[UnattendedTaskOut]
    total: int


class HandoverIn(Schema):
    from_user_id: Id | None = Field(default=None, description="Whose open tasks move.")
    task_ids: list[Id] | None = Field(
        default=None, max_length=500, description="Or these open tasks."
    )
    to_user_id: Id | None = Field(default=None, description="An active person…")
    to_team_id: Id | None = Field(default=None, description="…or a team's queue.")


class HandoverDoIn(HandoverIn):
    token: ShortText | None = Field(
        default=None, description="The preview's token: refuse if what moves has changed."
    )


class SopCountOut(Schema):
    sop: str
    count: int


class HandoverTaskOut(Schema):
    id: int
    title: str
    sop_name: str
    assignee_user_id: int | None
    due_at: datetime | None
    state: str


class HandoverPreviewOut(Schema):
    count: int
    overdue: int
    by_sop: list[SopCountOut]
    token: str
    tasks: list[HandoverTaskOut]


class HandoverOut(Schema):
    moved: int
    by_sop: list[SopCountOut]
    notified: int
    repeated: bool


def _sop_counts(by_sop: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"sop": name, "count": count} for name, count in by_sop]


@router.get("/manage/team", response=TeamWorkOut, auth=requires_api("tasks.manage"))
def team_work(request: ApiRequest) -> dict[str, Any]:
    """Open, overdue and escalated tasks per person and per team or role queue."""
    return {"people": selectors.workload_people(), "queues": selectors.workload_queues()}


@router.get("/manage/unattended", response=UnattendedOut, auth=requires_api("tasks.manage"))
def tasks_unattended(request: ApiRequest) -> dict[str, Any]:
    """Open tasks nobody will do: no assignee, a deactivated person, an empty team or role."""
    report = selectors.tasks_unattended()
    return {"items": report.items, "total": report.total}


@router.post(
    "/manage/handover/preview", response=HandoverPreviewOut, auth=requires_api("tasks.manage")
)
def handover_preview(request: ApiRequest, payload: HandoverIn) -> dict[str, Any]:
    """Exactly what a hand-over would move; pass its token to /handover."""
    preview = handover.handover_preview(actor=request.auth, **payload.dict())
    return {
        "count": preview.count,
        "overdue": preview.overdue,
        "by_sop": _sop_counts(preview.by_sop),
        "token": preview.token,
        "tasks": preview.tasks,
    }


@router.post("/manage/handover", response=HandoverOut, auth=requires_api("tasks.manage"))
def handover_do(
    request: ApiRequest,
    payload: HandoverDoIn,
    idempotency_key: str | None = idempotency_header(),
) -> dict[str, Any]:
    """Move the open tasks to an active person or a team's queue, in one step."""
    result = handover.handover_do(
        actor=request.auth,
        idempotency_key=f"api:handover:{idempotency_key}" if idempotency_key else None,
        **payload.dict(),
    )
    return {
        "moved": result.moved,
        "by_sop": _sop_counts(result.by_sop),
        "notified": result.notified,
        "repeated": result.repeated,
    }
