"""Reading tasks: the open tasks, a person's day, one task with its checklist."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.accounts.models import Team, User
from procedo.accounts.roles import ROLE_PERMISSIONS, Role
from procedo.business.selectors import business_get
from procedo.core.errors import NotFound
from procedo.core.exports import Column
from procedo.core.paging import Page, keyset_all, keyset_page
from procedo.work.models import OPEN_STATES, ChecklistItem, SubjectFact, Task

# Subjects a task can be on, by app label and model: read here, never imported.
SUBJECT_MODELS = {
    "customer": ("customers", "Customer"),
    "order": ("orders", "Order"),
    "deal": ("sales", "Deal"),
}
# Tasks without a due time sort after every dated one.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)
DAY_LIST_LIMIT = 100


def _queue_filter(user: Any) -> Q:
    """Tasks waiting in a queue the person may take from: their teams' and their role's."""
    team_ids = list(user.teams.values_list("pk", flat=True))
    return Q(assignee_user__isnull=True, assignee_team_id__in=team_ids) | Q(
        assignee_user__isnull=True, assignee_team__isnull=True, assignee_role=user.role
    )


def _for_user(tasks: QuerySet[Task], user: Any) -> QuerySet[Task]:
    return tasks.filter(Q(assignee_user=user) | _queue_filter(user))


def _open() -> QuerySet[Task]:
    return Task.objects.filter(state__in=OPEN_STATES).select_related(
        "assignee_user", "assignee_team"
    )


def _tasks_filtered(
    *,
    user: Any = None,
    mine: bool = False,
    assignee_id: int | None = None,
    team_id: int | None = None,
    role: str = "",
    overdue: bool = False,
    escalated: bool = False,
    now: datetime | None = None,
) -> QuerySet[Task]:
    tasks = _open().prefetch_related("items")
    if mine and user is not None:
        tasks = _for_user(tasks, user)
    if assignee_id is not None:
        tasks = tasks.filter(assignee_user_id=assignee_id)
    if team_id is not None:
        tasks = tasks.filter(assignee_user__isnull=True, assignee_team_id=team_id)
    if role:
        tasks = tasks.filter(
            assignee_user__isnull=True, assignee_team__isnull=True, assignee_role=role
        )
    if overdue:
        tasks = tasks.filter(due_at__lt=now or timezone.now())
    if escalated:
        tasks = tasks.filter(escalated_at__isnull=False)
    return tasks.annotate(due_sort=Coalesce("due_at", Value(_NEVER, output_field=DateTimeField())))


TASK_ORDER = ("due_sort", "id")


def tasks_open(
    *,
    user: Any = None,
    mine: bool = False,
    cursor: str | None = None,
    limit: int = 50,
    assignee_id: int | None = None,
    team_id: int | None = None,
    role: str = "",
    overdue: bool = False,
    escalated: bool = False,
    now: datetime | None = None,
) -> Page[Task]:
    """Open tasks, soonest due first (keyset paging); `mine`: the person's, teams' and role's.

    Filters of the manager's view: `assignee_id` a person's own tasks, `team_id`
    a team's queue and `role` a role's queue (tasks nobody has taken yet),
    `overdue` past due, `escalated` escalated already.
    """
    tasks = _tasks_filtered(
        user=user,
        mine=mine,
        assignee_id=assignee_id,
        team_id=team_id,
        role=role,
        overdue=overdue,
        escalated=escalated,
        now=now,
    )
    return keyset_page(tasks, order=TASK_ORDER, cursor=cursor, limit=limit)


def _holder(task: Task) -> str:
    return str(task.assignee_user or task.assignee_team or task.get_assignee_role_display())


# The open tasks as a file (procedo/core/exports.py).
TASK_COLUMNS = (
    Column(gettext_lazy("ID"), lambda t: t.pk),
    Column(gettext_lazy("Title"), lambda t: t.title),
    Column(gettext_lazy("State"), lambda t: t.get_state_display()),
    Column(gettext_lazy("Priority"), lambda t: t.get_priority_display()),
    Column(gettext_lazy("Assignee"), _holder),
    Column(gettext_lazy("Due"), lambda t: t.due_at),
    Column(gettext_lazy("About"), lambda t: getattr(t, "subject_label", "")),
    Column(gettext_lazy("Subject type"), lambda t: t.subject_type),
    Column(gettext_lazy("Subject ID"), lambda t: t.subject_id),
    Column(gettext_lazy("SOP run"), lambda t: t.run_id),
    Column(gettext_lazy("Escalated"), lambda t: t.escalated_at),
    Column(gettext_lazy("Created"), lambda t: t.created_at),
)


def task_export_rows(**filters: Any) -> Iterator[Task]:
    """Every open task the list shows with these filters (`tasks_open`'s), read in batches."""
    tasks = _tasks_filtered(**filters).prefetch_related(None)  # a file shows no items
    return keyset_all(tasks, order=TASK_ORDER, each_batch=subject_labels_attach)


def task_get(*, task_id: int) -> Task | None:
    return (
        Task.objects.select_related("assignee_user", "assignee_team", "completed_by")
        .prefetch_related(Prefetch("items", queryset=ChecklistItem.objects.order_by("position")))
        .filter(pk=task_id)
        .first()
    )


def task_require(*, task_id: int) -> Task:
    task = task_get(task_id=task_id)
    if task is None:
        raise NotFound(field="task_id", message=_("No task %(id)s.") % {"id": task_id})
    return task


@dataclass(frozen=True)
class Day:
    """A person's work: their own open tasks by when they are due, and the queues they serve."""

    overdue: list[Task]
    today: list[Task]
    upcoming: list[Task]
    queue: list[Task]

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.upcoming)


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Start of today and of tomorrow on the business's wall clock, in UTC."""
    zone = business_get().zone
    local_day = now.astimezone(zone).date()
    start = datetime.combine(local_day, time.min, tzinfo=zone)
    end = datetime.combine(local_day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def my_day(*, user: Any, now: datetime | None = None) -> Day:
    """Overdue, due today, upcoming (undated last), and the team and role queues to take from."""
    now = now or timezone.now()
    _start, tomorrow = day_bounds(now)
    mine = _open().filter(assignee_user=user)
    order = ["due_at", "id"]
    queue = (
        _open()
        .filter(_queue_filter(user))
        .annotate(due_sort=Coalesce("due_at", Value(_NEVER, output_field=DateTimeField())))
        .order_by("due_sort", "id")
    )
    day = Day(
        overdue=list(mine.filter(due_at__lt=now).order_by(*order)[:DAY_LIST_LIMIT]),
        today=list(
            mine.filter(due_at__gte=now, due_at__lt=tomorrow).order_by(*order)[:DAY_LIST_LIMIT]
        ),
        upcoming=list(
            mine.filter(Q(due_at__gte=tomorrow) | Q(due_at__isnull=True))
            .annotate(due_sort=Coalesce("due_at", Value(_NEVER, output_field=DateTimeField())))
            .order_by("due_sort", "id")[:DAY_LIST_LIMIT]
        ),
        queue=list(queue[:DAY_LIST_LIMIT]),
    )
    subject_labels_attach([*day.overdue, *day.today, *day.upcoming, *day.queue])
    return day


def my_open_count(user: Any) -> int:
    """The navigation's badge: open tasks assigned to the person (one indexed COUNT)."""
    return Task.objects.filter(assignee_user=user, state__in=OPEN_STATES).count()


def facts_of(*, subject_type: str, subject_id: int) -> list[SubjectFact]:
    return list(
        SubjectFact.objects.filter(subject_type=subject_type, subject_id=subject_id)
        .select_related("recorded_by")
        .order_by("label")
    )


# The manager's view and the "nothing is forgotten" report (issue 6, items 3 and 5).


@dataclass(frozen=True)
class Load:
    """Open, overdue and escalated work of a person or a queue."""

    label: str
    open: int
    overdue: int
    escalated: int
    user_id: int | None = None
    team_id: int | None = None
    role: str = ""
    active: bool = True


def _working_roles() -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if "tasks.work" in perms]


def workload_people(*, now: datetime | None = None) -> list[Load]:
    """Per person, in one aggregate query: everyone active who may work tasks, and anyone
    (an inactive person too) who still holds open tasks; the most overdue first."""
    now = now or timezone.now()
    holds = Task.objects.filter(assignee_user=OuterRef("pk"), state__in=OPEN_STATES)
    people = (
        User.objects.filter(Q(is_active=True, role__in=_working_roles()) | Exists(holds))
        .alias(open_tasks=FilteredRelation("tasks", condition=Q(tasks__state__in=OPEN_STATES)))
        .annotate(
            n_open=Count("open_tasks"),
            n_overdue=Count("open_tasks", filter=Q(open_tasks__due_at__lt=now)),
            n_escalated=Count("open_tasks", filter=Q(open_tasks__escalated_at__isnull=False)),
        )
        .order_by("-n_overdue", "-n_open", "username")
    )
    return [
        Load(
            label=str(person),
            open=person.n_open,
            overdue=person.n_overdue,
            escalated=person.n_escalated,
            user_id=person.pk,
            active=person.is_active,
        )
        for person in people
    ]


def workload_queues(*, now: datetime | None = None) -> list[Load]:
    """Per team and role queue (tasks nobody has taken yet), in one aggregate query.

    Tasks with no person, team or role at all come as one row without either.
    """
    now = now or timezone.now()
    rows = (
        Task.objects.filter(state__in=OPEN_STATES, assignee_user__isnull=True)
        .annotate(
            queue_role=Case(
                When(assignee_team__isnull=True, then=F("assignee_role")),
                default=Value(""),
                output_field=CharField(),
            )
        )
        .values("assignee_team_id", "assignee_team__name", "queue_role")
        .annotate(
            n_open=Count("pk"),
            n_overdue=Count("pk", filter=Q(due_at__lt=now)),
            n_escalated=Count("pk", filter=Q(escalated_at__isnull=False)),
        )
        .order_by("-n_overdue", "-n_open", "assignee_team__name", "queue_role")
    )
    roles = dict(Role.choices)
    loads = []
    for row in rows:
        team_id, role = row["assignee_team_id"], row["queue_role"]
        if team_id is not None:
            label = _("Team: %(name)s") % {"name": row["assignee_team__name"]}
        elif role:
            label = _("Role: %(role)s") % {"role": roles.get(role, role)}
        else:
            label = _("Nobody (no person, team or role)")
        loads.append(
            Load(
                label=label,
                open=row["n_open"],
                overdue=row["n_overdue"],
                escalated=row["n_escalated"],
                team_id=team_id,
                role=role,
            )
        )
    return loads


class Unattended:
    """Why an open task may be forgotten (the report's `reason` values)."""

    NOBODY = "nobody"
    INACTIVE = "inactive"
    EMPTY_TEAM = "empty_team"
    EMPTY_ROLE = "empty_role"


@dataclass(frozen=True)
class UnattendedReport:
    items: list[Task]  # each with `reason`, one of Unattended's values
    total: int


def tasks_unattended(*, limit: int = 500) -> UnattendedReport:
    """Every open task nobody will do: no person, team or role; an inactive person; a team
    or a role with nobody active in it. Soonest due first; two queries."""
    staffed_team = Exists(
        Team.members.through.objects.filter(
            team_id=OuterRef("assignee_team_id"), user__is_active=True
        )
    )
    staffed_role = Exists(User.objects.filter(role=OuterRef("assignee_role"), is_active=True))
    nobody = Q(assignee_user__isnull=True, assignee_team__isnull=True, assignee_role="")
    inactive = Q(assignee_user__is_active=False)
    empty_team = Q(assignee_user__isnull=True, assignee_team__isnull=False, team_staffed=False)
    role_only = Q(assignee_user__isnull=True, assignee_team__isnull=True) & ~Q(assignee_role="")
    empty_role = role_only & Q(role_staffed=False)
    tasks = (
        _open()
        .annotate(team_staffed=staffed_team, role_staffed=staffed_role)
        .filter(nobody | inactive | empty_team | empty_role)
    )
    total = tasks.count()
    items: list[Task] = list(
        tasks.annotate(
            reason=Case(
                When(nobody, then=Value(Unattended.NOBODY)),
                When(inactive, then=Value(Unattended.INACTIVE)),
                When(empty_team, then=Value(Unattended.EMPTY_TEAM)),
                default=Value(Unattended.EMPTY_ROLE),
                output_field=CharField(),
            ),
            due_sort=Coalesce("due_at", Value(_NEVER, output_field=DateTimeField())),
        ).order_by("due_sort", "id")[:limit]
    )
    return UnattendedReport(items=items, total=total)


def subject_labels_attach(tasks: Iterable[Task]) -> None:
    """Give each task `subject_label` ("№ 10023 · Олена Коваль"): one query per subject type.

    An SOP's tasks share their step's title, so the subject is what tells them apart.
    """
    from django.apps import apps

    tasks = list(tasks)
    wanted: dict[str, set[int]] = {}
    for task in tasks:
        task.subject_label = ""  # type: ignore[attr-defined]
        if task.subject_type in SUBJECT_MODELS and task.subject_id is not None:
            wanted.setdefault(task.subject_type, set()).add(task.subject_id)
    labels: dict[tuple[str, int], str] = {}
    for subject_type, ids in wanted.items():
        model = apps.get_model(*SUBJECT_MODELS[subject_type])
        if subject_type == "order":
            for order in model.objects.filter(pk__in=ids).select_related("customer"):
                buyer = f" · {order.customer}" if order.customer_id else ""
                labels[(subject_type, order.pk)] = f"№ {order.number}{buyer}"
        else:
            for row in model.objects.filter(pk__in=ids):
                labels[(subject_type, row.pk)] = str(row)
    for task in tasks:
        if task.subject_id is not None:
            task.subject_label = labels.get((task.subject_type, task.subject_id), "")  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CustomerTasks:
    open: list[Task]
    done: list[Task]  # closed ones, latest first


CUSTOMER_TASKS_LIMIT = 20


def tasks_of_customer(*, customer_id: int, limit: int = CUSTOMER_TASKS_LIMIT) -> CustomerTasks:
    """The tasks about a customer and about their orders, open and closed (two queries on
    the subject index, plus one for their labels)."""
    from django.apps import apps

    order_model = apps.get_model(*SUBJECT_MODELS["order"])
    about = Q(subject_type="customer", subject_id=customer_id) | Q(
        subject_type="order",
        subject_id__in=order_model.objects.filter(customer_id=customer_id).values("pk"),
    )
    tasks = Task.objects.filter(about).select_related("assignee_user", "assignee_team")
    open_tasks: list[Task] = list(
        tasks.filter(state__in=OPEN_STATES)
        .annotate(due_sort=Coalesce("due_at", Value(_NEVER, output_field=DateTimeField())))
        .order_by("due_sort", "id")[:limit]
    )
    done = list(
        tasks.exclude(state__in=OPEN_STATES)
        .select_related("completed_by")
        .order_by(F("completed_at").desc(nulls_last=True), "-id")[:limit]
    )
    subject_labels_attach([*open_tasks, *done])
    return CustomerTasks(open=open_tasks, done=done)
