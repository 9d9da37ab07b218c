"""Hand-over: the open work of a person who leaves or goes on leave, to another person or a queue.

A preview lists exactly what moves and carries a fingerprint of it (`token`);
confirming with that token moves those tasks and no others in one UPDATE, or
refuses when the person's work changed meanwhile. One transaction records an
event per task, one `work.handover` event with the counts, and notifies the
new owner (the person, or the team's members) and the person handed over.
The report of forgotten tasks hands over chosen tasks (`task_ids`) the same way.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import CharField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.accounts.models import Team, User
from procedo.accounts.permissions import permission_require, user_can
from procedo.collab.services import notify
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.texts import LaterText, later_plural
from procedo.events.models import Event
from procedo.events.services.recording import NewEvent, event_record, events_record_many
from procedo.work.models import OPEN_STATES, Task, TaskState

LISTED = 10


@dataclass(frozen=True)
class HandoverPreview:
    """What a hand-over moves: `tasks` (each with `sop_name`), counts by SOP, a fingerprint."""

    person: User | None
    to_user: User | None
    to_team: Team | None
    tasks: list[Task]
    by_sop: list[tuple[str, int]]
    overdue: int
    token: str

    @property
    def count(self) -> int:
        return len(self.tasks)

    @property
    def target_label(self) -> str:
        if self.to_team is not None:
            return _("the %(team)s queue") % {"team": self.to_team.name}
        return str(self.to_user)


@dataclass(frozen=True)
class HandoverResult:
    moved: int
    by_sop: list[tuple[str, int]]
    notified: int
    repeated: bool = False  # the same idempotency key again: nothing moved this time


def _token(ids: Sequence[int], to_user_id: int | None, to_team_id: int | None) -> str:
    raw = f"{to_user_id}|{to_team_id}|" + ",".join(map(str, sorted(ids)))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _with_sop(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Each task's SOP name read through its run by a join: this app imports no engine code."""
    if not apps.is_installed("procedo.automation"):
        return tasks.annotate(sop_name=Value("", output_field=CharField()))
    run_model = apps.get_model("automation", "Run")
    name = run_model.objects.filter(pk=OuterRef("run_id")).values("sop__name")[:1]
    return tasks.annotate(sop_name=Coalesce(Subquery(name), Value(""), output_field=CharField()))


def _person(user_id: int | None) -> User | None:
    if user_id is None:
        return None
    person = User.objects.filter(pk=user_id).first()
    if person is None:
        raise NotFound(field="from_user_id", message=_("No person %(id)s.") % {"id": user_id})
    return person


def _target(
    *, to_user_id: int | None, to_team_id: int | None, person: User | None
) -> tuple[User | None, Team | None]:
    """An active person who may work on tasks, or a team with somebody active in it."""
    if (to_user_id is None) == (to_team_id is None):
        raise DomainError(
            field="to_user_id", message=_("Choose one person or one team to hand the work to.")
        )
    if to_user_id is not None:
        target = User.objects.filter(pk=to_user_id).first()
        if target is None:
            raise NotFound(field="to_user_id", message=_("No person %(id)s.") % {"id": to_user_id})
        if not target.is_active:
            raise DomainError(
                field="to_user_id",
                message=_("%(person)s is deactivated: hand the work to an active person or a team.")
                % {"person": target},
            )
        if person is not None and target.pk == person.pk:
            raise DomainError(
                field="to_user_id", message=_("Hand the work to someone else than its holder.")
            )
        if not user_can(target, "tasks.work"):
            raise DomainError(
                field="to_user_id",
                message=_("%(person)s's role (%(role)s) cannot work on tasks.")
                % {"person": target, "role": target.get_role_display()},
            )
        return target, None
    assert to_team_id is not None
    team = Team.objects.filter(pk=to_team_id).first()
    if team is None:
        raise NotFound(field="to_team_id", message=_("No team %(id)s.") % {"id": to_team_id})
    if not team.members.filter(is_active=True).exists():
        raise DomainError(
            field="to_team_id",
            message=_("Nobody active is in the team %(team)s: its queue would be forgotten.")
            % {"team": team.name},
        )
    return None, team


def _selection(person: User | None, task_ids: Sequence[int] | None) -> QuerySet[Task]:
    if person is None and not task_ids:
        raise DomainError(
            field="from_user_id", message=_("Choose the person whose work is handed over.")
        )
    tasks = Task.objects.filter(state__in=OPEN_STATES)
    if person is not None:
        tasks = tasks.filter(assignee_user=person)
    if task_ids:
        tasks = tasks.filter(pk__in=list(task_ids))
    return tasks


def handover_preview(
    *,
    actor: Actor,
    from_user_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    to_user_id: int | None = None,
    to_team_id: int | None = None,
) -> HandoverPreview:
    """Exactly the tasks a hand-over would move (a person's open tasks, or the chosen ones)."""
    if actor is not None:
        permission_require(actor, "tasks.manage")
    person = _person(from_user_id)
    to_user, to_team = _target(to_user_id=to_user_id, to_team_id=to_team_id, person=person)
    tasks = list(
        _with_sop(_selection(person, task_ids))
        .select_related("assignee_user", "assignee_team")
        .order_by("due_at", "pk")
    )
    counts = Counter(task.sop_name for task in tasks)  # type: ignore[attr-defined]
    by_sop = sorted(counts.items(), key=lambda item: (-item[1], item[0] == "", item[0]))
    now = timezone.now()
    return HandoverPreview(
        person=person,
        to_user=to_user,
        to_team=to_team,
        tasks=tasks,
        by_sop=by_sop,
        overdue=sum(1 for task in tasks if task.due_at is not None and task.due_at < now),
        token=_token([task.pk for task in tasks], to_user_id, to_team_id),
    )


def _sop_counts(by_sop: Sequence[tuple[str, int]]) -> dict[str, int]:
    return {name or _("By hand"): count for name, count in by_sop}


@transaction.atomic
def handover_do(
    *,
    actor: Actor,
    from_user_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    to_user_id: int | None = None,
    to_team_id: int | None = None,
    token: str | None = None,
    idempotency_key: str | None = None,
) -> HandoverResult:
    """Move what the preview listed in one UPDATE; `token` (the preview's) refuses a changed set.

    A known `idempotency_key` (a double click, a retry) moves nothing again.
    """
    if idempotency_key and Event.objects.filter(idempotency_key=idempotency_key).exists():
        return HandoverResult(moved=0, by_sop=[], notified=0, repeated=True)
    preview = handover_preview(
        actor=actor,
        from_user_id=from_user_id,
        task_ids=task_ids,
        to_user_id=to_user_id,
        to_team_id=to_team_id,
    )
    if token is not None and token != preview.token:
        raise Conflict(
            field="token",
            message=_("The work to hand over changed since the preview; look at it again."),
        )
    if not preview.tasks:
        raise DomainError(
            field="from_user_id" if preview.person is not None else "task_ids",
            message=_("There are no open tasks to hand over."),
        )
    ids = [task.pk for task in preview.tasks]
    to_user, to_team = preview.to_user, preview.to_team
    changes: dict[str, Any] = {"state": TaskState.OPEN}
    if to_team is not None:
        changes.update(assignee_user=None, assignee_team=to_team)
    else:
        changes["assignee_user"] = to_user
    still = Q(pk__in=ids, state__in=OPEN_STATES)
    if preview.person is not None:
        still &= Q(assignee_user=preview.person)
    moved = Task.objects.filter(still).update(**changes)
    if moved != len(ids):  # some were closed or taken meanwhile: all or nothing
        raise Conflict(
            field="token",
            message=_("Some of these tasks changed meanwhile; look at the preview again."),
        )
    actor_id = actor_id_of(actor)
    target = {
        "to_user_id": to_user.pk if to_user else None,
        "to_team_id": to_team.pk if to_team else None,
    }
    events_record_many(
        NewEvent(
            event_type="task.handed_over",
            subject_type="task",
            subject_id=task.pk,
            customer_id=task.customer_id,
            actor_id=actor_id,
            payload={
                "title": task.title,
                "from_user_id": task.assignee_user_id,
                "from_team_id": task.assignee_team_id,
                **target,
            },
        )
        for task in preview.tasks
    )
    counts = _sop_counts(preview.by_sop)
    person = preview.person
    event_record(
        event_type="work.handover",
        subject=person,  # None when chosen tasks of several holders move
        actor=actor,
        payload={
            "from_user_id": person.pk if person else None,
            **target,
            "count": moved,
            "overdue": preview.overdue,
            "by_sop": counts,
            "task_ids": ids,
        },
        idempotency_key=idempotency_key,
    )
    # Without a caller's key the hand-over is still made once (this transaction); its
    # notifications are keyed by what moved and when.
    stamp = int(timezone.now().timestamp() * 1_000_000)
    notified = _handover_notify(preview, key=idempotency_key or f"{preview.token}:{stamp}")
    return HandoverResult(moved=moved, by_sop=preview.by_sop, notified=notified)


def _listing(tasks: Sequence[Task]) -> str:
    lines = [f"• {task.title}" for task in tasks[:LISTED]]
    if len(tasks) > LISTED:
        lines.append(_("…and %(count)s more") % {"count": len(tasks) - LISTED})
    return "\n".join(lines)


def _handover_notify(preview: HandoverPreview, *, key: str) -> int:
    count, person = preview.count, preview.person
    holder: str | LaterText = (
        str(person) if person is not None else LaterText(gettext_noop("nobody"))
    )
    body = _listing(preview.tasks)
    if preview.overdue:
        body = _("Overdue: %(count)s.") % {"count": preview.overdue} + "\n" + body
    if preview.to_team is not None:
        recipients = list(
            preview.to_team.members.filter(is_active=True).values_list("pk", flat=True)
        )
        title = later_plural(
            "%(count)s task of %(person)s is in the %(team)s queue now",
            "%(count)s tasks of %(person)s are in the %(team)s queue now",
            params={"count": count, "person": holder, "team": preview.to_team.name},
        )
    else:
        assert preview.to_user is not None
        recipients = [preview.to_user.pk]
        title = later_plural(
            "%(count)s open task of %(person)s is yours now",
            "%(count)s open tasks of %(person)s are yours now",
            params={"count": count, "person": holder},
        )
    sent = notify(
        recipient_ids=recipients,
        kind="handover",
        title=title,
        url=reverse("work:mine"),
        key=f"handover:{key}:to",
        body=body,
    )
    if person is not None and person.is_active and person.pk not in recipients:
        sent += notify(
            recipient_ids=[person.pk],
            kind="handover",
            title=later_plural(
                "Your open task went to %(target)s",
                "Your %(count)s open tasks went to %(target)s",
                params={"count": count, "target": str(preview.target_label)},
            ),
            url=reverse("work:mine"),
            key=f"handover:{key}:from",
            body=body,
        )
    return sent
