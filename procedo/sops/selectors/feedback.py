"""Feedback on an SOP's steps, and recognition: who did SOP work well, per period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.accounts.models import User
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.sops.models import (
    FeedbackKind,
    FeedbackState,
    Proposal,
    ProposalState,
    Revision,
    RevisionState,
    Sop,
    StepFeedback,
)
from procedo.work.models import Task, TaskState


@dataclass
class StepBoard:
    key: str
    title: str
    current: bool  # a step of the revision shown (else: gone from it)
    counts: list[tuple[str, int]]  # (kind label, open feedback of that kind)
    feedback: list[StepFeedback] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)

    @property
    def open(self) -> int:
        return sum(n for _label, n in self.counts)


@dataclass
class FeedbackBoard:
    steps: list[StepBoard]
    general: list[Proposal]  # proposals about the SOP as a whole
    draft: Revision | None  # a draft already open: accepting a proposal must say so
    open_feedback: int
    open_proposals: int


FEEDBACK_SHOWN = 300


def sop_feedback(*, sop: Sop, revision: Revision) -> FeedbackBoard:
    """Feedback and proposals per step of `revision` (then steps it no longer has): 4 queries."""
    labels = dict(FeedbackKind.choices)
    counts: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for step_key, kind, n in (
        StepFeedback.objects.filter(sop=sop, state=FeedbackState.OPEN)
        .values("step_key", "kind")
        .annotate(n=Count("id"))
        .values_list("step_key", "kind", "n")
        .order_by("step_key", "kind")
    ):
        counts[step_key].append((str(labels.get(kind, kind)), n))
    boards: dict[str, StepBoard] = {}
    for step in (revision.definition or {}).get("steps", []):
        key = str(step.get("key"))
        boards[key] = StepBoard(key, str(step.get("title") or key), True, counts.get(key, []))

    def board(key: str) -> StepBoard:
        if key not in boards:
            boards[key] = StepBoard(key, key, False, counts.get(key, []))
        return boards[key]

    # Open first, then the newest resolved.
    for item in (
        StepFeedback.objects.filter(sop=sop)
        .select_related("author", "resolved_by", "revision")
        .order_by(
            Case(When(state=FeedbackState.OPEN, then=Value(0)), default=Value(1)), "-created_at"
        )[:FEEDBACK_SHOWN]
    ):
        board(item.step_key).feedback.append(item)
    general = []
    open_proposals = 0
    for proposal in (
        Proposal.objects.filter(sop=sop)
        .select_related("author", "decided_by", "draft", "based_on")
        .order_by(
            Case(When(state=ProposalState.OPEN, then=Value(0)), default=Value(1)), "-created_at"
        )[:FEEDBACK_SHOWN]
    ):
        open_proposals += proposal.state == ProposalState.OPEN
        if proposal.step_key:
            board(proposal.step_key).proposals.append(proposal)
        else:
            general.append(proposal)
    draft = Revision.objects.filter(sop=sop, state=RevisionState.DRAFT).order_by("-number").first()
    return FeedbackBoard(
        steps=list(boards.values()),
        general=general,
        draft=draft,
        open_feedback=sum(sum(n for _label, n in rows) for rows in counts.values()),
        open_proposals=open_proposals,
    )


def feedback_of_step(*, sop_id: int, step_key: str, limit: int = 20) -> list[StepFeedback]:
    return list(
        StepFeedback.objects.filter(sop_id=sop_id, step_key=step_key)
        .select_related("author", "revision")
        .order_by("-created_at")[:limit]
    )


# ---------------------------------------------------------------- recognition


PERIODS: dict[str, Any] = {
    "week": gettext_lazy("This week"),
    "month": gettext_lazy("This month"),
    "last_month": gettext_lazy("Last month"),
    "quarter": gettext_lazy("This quarter"),
}


def period_bounds(period: str, *, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """[since, until) of a period in the business's time zone, as aware datetimes."""
    if period not in PERIODS:
        raise DomainError(
            field="period",
            message=_("Choose one of: %(periods)s") % {"periods": ", ".join(PERIODS)},
        )
    today = now.astimezone(zone).date()

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=zone)

    def month_start(year: int, month: int) -> date:
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        return date(year, month, 1)

    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return midnight(monday), midnight(monday + timedelta(days=7))
    if period == "month":
        return (
            midnight(month_start(today.year, today.month)),
            midnight(month_start(today.year, today.month + 1)),
        )
    if period == "last_month":
        return (
            midnight(month_start(today.year, today.month - 1)),
            midnight(month_start(today.year, today.month)),
        )
    first = (today.month - 1) // 3 * 3 + 1
    return (
        midnight(month_start(today.year, first)),
        midnight(month_start(today.year, first + 3)),
    )


@dataclass(frozen=True)
class RecognitionRow:
    user: User
    done: int  # SOP tasks they completed in the period
    on_time: int  # of which by the due time (a task with no due time is on time)
    credited: int  # their proposals whose draft was published in the period

    @property
    def late(self) -> int:
        return self.done - self.on_time

    @property
    def on_time_rate(self) -> int | None:
        return round(100 * self.on_time / self.done) if self.done else None


@dataclass(frozen=True)
class Recognition:
    period: str
    since: datetime
    until: datetime
    rows: list[RecognitionRow]


def recognition(*, period: str, now: datetime | None = None) -> Recognition:
    """Per person: SOP work completed and on time, and proposals published. Three queries."""
    zone = business_get().zone
    since, until = period_bounds(period, now=now or timezone.now(), zone=zone)
    work = {
        row["completed_by"]: row
        for row in Task.objects.filter(
            run_id__isnull=False,
            state=TaskState.DONE,
            completed_by__isnull=False,
            completed_at__gte=since,
            completed_at__lt=until,
        )
        .values("completed_by")
        .annotate(
            done=Count("id"),
            on_time=Count("id", filter=Q(due_at__isnull=True) | Q(completed_at__lte=F("due_at"))),
        )
        .order_by()
    }
    credited = dict(
        Proposal.objects.filter(
            state=ProposalState.ACCEPTED,
            author__isnull=False,
            draft__transitions__to_state=RevisionState.PUBLISHED,
            draft__transitions__created_at__gte=since,
            draft__transitions__created_at__lt=until,
        )
        .values("author")
        .annotate(n=Count("id", distinct=True))
        .values_list("author", "n")
        .order_by()
    )
    people = User.objects.in_bulk(set(work) | set(credited))
    rows = [
        RecognitionRow(
            user=person,
            done=work.get(pk, {}).get("done", 0),
            on_time=work.get(pk, {}).get("on_time", 0),
            credited=credited.get(pk, 0),
        )
        for pk, person in people.items()
    ]
    rows.sort(
        key=lambda row: (-row.on_time, -(row.on_time_rate or 0), -row.credited, str(row.user))
    )
    return Recognition(period=period, since=since, until=until, rows=rows)
