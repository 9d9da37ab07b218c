"""The overdue sweep: tell people once that a task is late; escalate it once after the stated time.

Set-based: each sweep claims a batch of tasks with one compare-and-set UPDATE
(`overdue_notified_at` / `escalated_at` from NULL to this sweep's time), reads
back what it claimed, records the events with one multi-row INSERT and sends
one notification per audience (a person, a team's queue, a role's queue, the
managers), never one query per task. Two sweeps at once (two workers, a retry)
claim disjoint rows: the UPDATE re-checks the NULL under the row lock, so
nobody hears of a task twice; the notification keys are unique as well.

Escalation goes to the task's team lead, else the lead of a team of the
assignee, else the owner of the SOP whose run made the task, else the
managers (the owners when there are none); never to the assignee themself.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import (
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Subquery,
)
from django.db.models.functions import Coalesce, NullIf
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.models import Team, User
from procedo.accounts.roles import Role
from procedo.collab.services import notify
from procedo.core.texts import LaterText, later_plural
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.work.models import OPEN_STATES, Task

# Tasks one sweep claims per kind; the next tick (a minute later) takes the rest.
BATCH = 1000
# Titles listed in the text of a notification about several tasks.
LISTED = 10


class Minutes(Func):
    """An integer column as a duration of that many minutes, on PostgreSQL and SQLite."""

    template = "(%(expressions)s * interval '1 minute')"
    output_field = DurationField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django keeps a duration on SQLite as microseconds.
        return self.as_sql(compiler, connection, template="(%(expressions)s * 60000000)", **extra)


def escalation_due() -> ExpressionWrapper:
    """When a task escalates: its due time plus its `escalate_after_minutes`."""
    return ExpressionWrapper(
        F("due_at") + Minutes("escalate_after_minutes"), output_field=DateTimeField()
    )


@dataclass(frozen=True)
class SweepResult:
    overdue: int
    escalated: int
    notifications: int


@dataclass(frozen=True)
class _Row:
    pk: int
    title: str
    customer_id: int | None
    assignee_user_id: int | None
    assignee_team_id: int | None
    assignee_role: str
    due_at: datetime | None
    escalated_to_id: int | None = None
    escalate_after_minutes: int | None = None


_ROW_FIELDS = (
    "pk",
    "title",
    "customer_id",
    "assignee_user_id",
    "assignee_team_id",
    "assignee_role",
    "due_at",
)


def managers_ids() -> list[int]:
    """Who hears of what has nobody else: the active managers, or the owners when there are none."""
    for role in (Role.MANAGER, Role.OWNER):
        people = User.objects.filter(is_active=True, role=role).order_by("pk")
        ids = list(people.values_list("pk", flat=True))
        if ids:
            return ids
    return []


def _audiences(rows: Sequence[_Row]) -> dict[tuple[str, Any], list[_Row]]:
    """Tasks by who is to hear of them: their person, their team's queue or their role's queue.

    A task nobody can hear of (no assignee, an inactive person, a queue with
    nobody active in it) goes to the managers: nothing is forgotten.
    """
    people = {row.assignee_user_id for row in rows if row.assignee_user_id is not None}
    teams = {row.assignee_team_id for row in rows if row.assignee_team_id is not None}
    roles = {row.assignee_role for row in rows if row.assignee_role}
    active = set(User.objects.filter(pk__in=people, is_active=True).values_list("pk", flat=True))
    staffed_teams = set(
        Team.members.through.objects.filter(team_id__in=teams, user__is_active=True)
        .values_list("team_id", flat=True)
        .distinct()
    )
    staffed_roles = set(
        User.objects.filter(role__in=roles, is_active=True)
        .values_list("role", flat=True)
        .distinct()
    )
    nobody: tuple[str, Any] = ("managers", 0)
    groups: dict[tuple[str, Any], list[_Row]] = defaultdict(list)
    for row in rows:
        key = nobody
        if row.assignee_user_id is not None:
            if row.assignee_user_id in active:
                key = ("user", row.assignee_user_id)
        elif row.assignee_team_id is not None:
            if row.assignee_team_id in staffed_teams:
                key = ("team", row.assignee_team_id)
        elif row.assignee_role in staffed_roles:
            key = ("role", row.assignee_role)
        groups[key].append(row)
    return groups


def _recipients(audiences: Iterable[tuple[str, Any]]) -> dict[tuple[str, Any], list[int]]:
    """The people of each audience, with one query for all teams and one for all roles."""
    wanted = list(audiences)
    team_ids = [value for kind, value in wanted if kind == "team"]
    roles = [value for kind, value in wanted if kind == "role"]
    found: dict[tuple[str, Any], list[int]] = defaultdict(list)
    for team_id, user_id in Team.members.through.objects.filter(
        team_id__in=team_ids, user__is_active=True
    ).values_list("team_id", "user_id"):
        found[("team", team_id)].append(user_id)
    for role, user_id in User.objects.filter(role__in=roles, is_active=True).values_list(
        "role", "pk"
    ):
        found[("role", role)].append(user_id)
    for kind, value in wanted:
        if kind == "user":
            found[(kind, value)] = [value]
        elif kind == "managers":
            found[(kind, value)] = managers_ids()
    return found


def _digest(rows: Sequence[_Row]) -> str:
    """The same tasks give the same key: a retry of the same claim notifies nobody again."""
    ids = sorted(row.pk for row in rows)
    if len(ids) == 1:
        return str(ids[0])
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:24]


def _listing(rows: Sequence[_Row]) -> str:
    lines = [f"• {row.title}" for row in rows[:LISTED]]
    if len(rows) > LISTED:
        lines.append(_("…and %(count)s more") % {"count": len(rows) - LISTED})
    return "\n".join(lines)


def _notify(
    *,
    recipient_ids: Sequence[int],
    rows: Sequence[_Row],
    kind: str,
    key: str,
    one_title: str,
    many_title: LaterText,
    many_url: str,
) -> int:
    if not recipient_ids:
        return 0
    if len(rows) == 1:
        task = rows[0]
        return notify(
            recipient_ids=recipient_ids,
            kind=kind,
            title=LaterText(one_title, {"title": task.title}),
            url=reverse("work:detail", args=[task.pk]),
            subject_type="task",
            subject_id=task.pk,
            key=key,
        )
    return notify(
        recipient_ids=recipient_ids,
        kind=kind,
        title=many_title,
        url=many_url,
        key=key,
        body=_listing(rows),
    )


def _claim(candidates: list[int], *, column: str, now: datetime, **also: Any) -> list[int]:
    """Compare-and-set `column` from NULL to `now` on the candidates; the ids this sweep won."""
    if not candidates:
        return []
    Task.objects.filter(
        pk__in=candidates, state__in=OPEN_STATES, **{f"{column}__isnull": True}
    ).update(**{column: now}, **also)
    # A sweep's `now` is its own: rows stamped with it are the ones it claimed.
    return list(
        Task.objects.filter(pk__in=candidates, **{column: now}).values_list("pk", flat=True)
    )


def _rows(ids: list[int], *extra: str) -> list[_Row]:
    if not ids:
        return []
    values = Task.objects.filter(pk__in=ids).order_by("due_at", "pk").values(*_ROW_FIELDS, *extra)
    return [_Row(**row) for row in values]


@transaction.atomic
def overdue_sweep(*, now: datetime | None = None, batch: int = BATCH) -> tuple[int, int]:
    """Mark open tasks past due (once) and tell their people; returns (tasks, notifications)."""
    now = now or timezone.now()
    candidates = list(
        Task.objects.filter(state__in=OPEN_STATES, due_at__lt=now, overdue_notified_at__isnull=True)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )
    rows = _rows(_claim(candidates, column="overdue_notified_at", now=now))
    if not rows:
        return 0, 0
    groups = _audiences(rows)
    people = _recipients(groups)
    notified: dict[int, list[int]] = defaultdict(list)
    sent = 0
    for (kind, value), tasks in groups.items():
        recipients = people.get((kind, value), [])
        for task in tasks:
            notified[task.pk] = recipients
        if kind == "user":
            many_title = LaterText(
                gettext_noop("%(count)s of your tasks are overdue"), {"count": len(tasks)}
            )
            many_url = reverse("work:mine")
        elif kind == "managers":
            many_title = LaterText(
                gettext_noop("%(count)s overdue tasks have nobody to do them"),
                {"count": len(tasks)},
            )
            many_url = reverse("work:unattended")
        else:
            many_title = later_plural(
                "%(count)s task in your queue is overdue",
                "%(count)s tasks in your queue are overdue",
                params={"count": len(tasks)},
            )
            many_url = reverse("work:mine")
        sent += _notify(
            recipient_ids=recipients,
            rows=tasks,
            kind="overdue",
            key=f"task-overdue:{kind}:{value}:{_digest(tasks)}",
            one_title=(
                gettext_noop("Nobody is on an overdue task: %(title)s")
                if kind == "managers"
                else gettext_noop("Overdue: %(title)s")
            ),
            many_title=many_title,
            many_url=many_url,
        )
    events_record_many(
        NewEvent(
            event_type="task.overdue",
            subject_type="task",
            subject_id=row.pk,
            customer_id=row.customer_id,
            payload={
                "title": row.title,
                "due_at": row.due_at.isoformat() if row.due_at else None,
                "notified": sorted(notified[row.pk]),
            },
            occurred_at=now,
        )
        for row in rows
    )
    return len(rows), sent


def _escalation_target() -> Coalesce:
    """The first active person above the task who is not its assignee, as one SQL expression."""
    assignee = F("assignee_user_id")
    task_team_lead = Team.objects.filter(
        pk=OuterRef("assignee_team_id"), lead__is_active=True
    ).values("lead_id")[:1]
    assignee_team_lead = (
        Team.objects.filter(members=OuterRef("assignee_user_id"), lead__is_active=True)
        .exclude(lead_id=OuterRef("assignee_user_id"))
        .order_by("pk")
        .values("lead_id")[:1]
    )
    candidates: list[Any] = [
        NullIf(Subquery(task_team_lead), assignee),
        Subquery(assignee_team_lead),
    ]
    if apps.is_installed("procedo.automation"):
        # The SOP's owner, read through the run by a join: this app imports no engine code.
        run_model = apps.get_model("automation", "Run")
        sop_owner = run_model.objects.filter(
            pk=OuterRef("run_id"), sop__owner__is_active=True
        ).values("sop__owner_id")[:1]
        candidates.append(NullIf(Subquery(sop_owner), assignee))
    return Coalesce(*candidates)


@transaction.atomic
def escalation_sweep(*, now: datetime | None = None, batch: int = BATCH) -> tuple[int, int]:
    """Escalate (once) open tasks still open `escalate_after_minutes` after their due time."""
    now = now or timezone.now()
    candidates = list(
        Task.objects.filter(
            state__in=OPEN_STATES,
            due_at__isnull=False,
            escalate_after_minutes__isnull=False,
            escalated_at__isnull=True,
        )
        .alias(escalate_at=escalation_due())
        .filter(escalate_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:batch]
    )
    claimed = _claim(candidates, column="escalated_at", now=now, escalated_to=_escalation_target())
    rows = _rows(claimed, "escalated_to_id", "escalate_after_minutes")
    if not rows:
        return 0, 0
    by_target: dict[int | None, list[_Row]] = defaultdict(list)
    for row in rows:
        by_target[row.escalated_to_id].append(row)
    managers = managers_ids() if None in by_target else []
    sent = 0
    for target, tasks in by_target.items():
        recipients = [target] if target is not None else managers
        sent += _notify(
            recipient_ids=recipients,
            rows=tasks,
            kind="escalated",
            key=f"task-escalated:{target or 'managers'}:{_digest(tasks)}",
            one_title=gettext_noop("Escalated to you, still not done: %(title)s"),
            many_title=LaterText(
                gettext_noop("%(count)s overdue tasks are escalated to you"), {"count": len(tasks)}
            ),
            many_url=reverse("work:team_tasks") + "?escalated=1",
        )
    events_record_many(
        NewEvent(
            event_type="task.escalated",
            subject_type="task",
            subject_id=row.pk,
            customer_id=row.customer_id,
            payload={
                "title": row.title,
                "due_at": row.due_at.isoformat() if row.due_at else None,
                "after_minutes": row.escalate_after_minutes,
                "to_user_id": row.escalated_to_id,
                "notified": sorted([row.escalated_to_id] if row.escalated_to_id else managers),
            },
            occurred_at=now,
        )
        for row in rows
    )
    return len(rows), sent


def tasks_sweep(*, now: datetime | None = None) -> SweepResult:
    """Both sweeps, each in its own transaction: a failing escalation keeps the overdue marks."""
    now = now or timezone.now()
    overdue, told = overdue_sweep(now=now)
    escalated, escalated_told = escalation_sweep(now=now)
    return SweepResult(overdue=overdue, escalated=escalated, notifications=told + escalated_told)
