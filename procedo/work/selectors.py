"""Reading tasks: the open tasks, a person's first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import DateTimeField, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from procedo.core.paging import Page, keyset_page
from procedo.work.models import OPEN_STATES, Task

# Tasks without a due time sort after every dated one.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)


def _for_user(tasks: QuerySet[Task], user: Any) -> QuerySet[Task]:
    team_ids = list(user.teams.values_list("pk", flat=True))
    return tasks.filter(
        Q(assignee_user=user)
        | Q(assignee_user__isnull=True, assignee_team_id__in=team_ids)
        | Q(assignee_user__isnull=True, assignee_team__isnull=True, assignee_role=user.role)
    )


def tasks_open(
    *, user: Any = None, mine: bool = False, cursor: str | None = None, limit: int = 50
) -> Page[Task]:
    """Open tasks, soonest due first (keyset paging); `mine`: the person's, teams' and role's."""
    tasks = Task.objects.filter(state__in=OPEN_STATES).select_related(
        "assignee_user", "assignee_team"
    )
    if mine and user is not None:
        tasks = _for_user(tasks, user)
    tasks = tasks.annotate(due_sort=Coalesce("due_at", Value(_NEVER, output_field=DateTimeField())))
    return keyset_page(tasks, order=["due_sort", "id"], cursor=cursor, limit=limit)


def task_get(*, task_id: int) -> Task | None:
    return Task.objects.select_related("assignee_user", "assignee_team").filter(pk=task_id).first()
