"""Reading SOPs: the list, an SOP's card, a diff of two revisions, a trigger's preview,
feedback per step, who read which revision, and who did SOP work on time."""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db.models import Case, Count, F, Max, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.accounts.models import Team, User
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.sops import matching, subjects
from procedo.sops.definitions import definition_parse
from procedo.sops.describe import definition_lines
from procedo.sops.kpis import KPIS
from procedo.sops.models import (
    Acknowledgement,
    FeedbackKind,
    FeedbackState,
    Proposal,
    ProposalState,
    Revision,
    RevisionState,
    RevisionTransition,
    Sop,
    StepFeedback,
)
from procedo.sops.registry import run_facts
from procedo.work.models import Task, TaskState

PREVIEW_COUNT_LIMIT = 1000


@dataclass
class SopRow:
    sop: Sop
    kpi_label: str
    published: int | None = None
    pilot: int | None = None
    drafts: int = 0
    in_review: int = 0
    in_flight: int = 0

    @property
    def state(self) -> str:
        if self.published and self.pilot:
            return _("published r%(p)s, pilot r%(t)s") % {"p": self.published, "t": self.pilot}
        if self.published:
            return _("published r%(n)s") % {"n": self.published}
        if self.pilot:
            return _("pilot r%(n)s") % {"n": self.pilot}
        if self.in_review:
            return _("in review")
        return _("draft")


def sop_list() -> list[SopRow]:
    """Every SOP with its state, KPI, runs in flight and last change: three queries."""
    sops = list(Sop.objects.select_related("owner").order_by("-updated_at", "-id"))
    rows = {sop.pk: SopRow(sop=sop, kpi_label=str(KPIS[sop.kpi].label)) for sop in sops}
    for sop_id, number, state in Revision.objects.exclude(state=RevisionState.RETIRED).values_list(
        "sop_id", "number", "state"
    ):
        row = rows.get(sop_id)
        if row is None:
            continue
        if state == RevisionState.PUBLISHED:
            row.published = number
        elif state == RevisionState.PILOT:
            row.pilot = number
        elif state == RevisionState.DRAFT:
            row.drafts += 1
        else:
            row.in_review += 1
    for sop_id, count in run_facts().in_flight_by_sop().items():
        if sop_id in rows:
            rows[sop_id].in_flight = count
    return list(rows.values())


@dataclass
class SopCard:
    sop: Sop
    kpi_label: str
    revisions: list[Revision]
    current: Revision
    current_lines: list[str]
    in_flight: int
    runs_by_state: dict[str, int] = field(default_factory=dict)


def sop_card(*, sop_id: int) -> SopCard:
    sop = Sop.objects.select_related("owner").filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    revisions = list(
        Revision.objects.filter(sop=sop)
        .select_related("author", "pilot_team")
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=RevisionTransition.objects.select_related("actor").order_by("id"),
            )
        )
        .order_by("-number")
    )
    current = next((r for r in revisions if r.state == RevisionState.PUBLISHED), revisions[0])
    facts = run_facts()
    by_state = facts.count_by_state(sop.pk)
    return SopCard(
        sop=sop,
        kpi_label=str(KPIS[sop.kpi].label),
        revisions=revisions,
        current=current,
        current_lines=definition_lines(current.definition, subject_type=sop.subject_type),
        in_flight=sum(by_state.get(state, 0) for state in facts.active_states),
        runs_by_state=by_state,
    )


def sop_get(*, sop_id: int) -> Sop:
    sop = Sop.objects.filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    return sop


def revision_get(*, revision_id: int) -> Revision:
    revision = Revision.objects.select_related("sop", "author", "pilot_team").filter(pk=revision_id)
    found = revision.first()
    if found is None:
        raise NotFound(field="revision_id", message=_("No revision %(id)s.") % {"id": revision_id})
    return found


@dataclass(frozen=True)
class DiffLine:
    op: str  # "+", "-" or " "
    text: str


def revision_diff(*, revision_id: int, other_id: int) -> list[DiffLine]:
    """What changed from `other` to this revision, line by line in words."""
    revision = revision_get(revision_id=revision_id)
    other = revision_get(revision_id=other_id)
    if other.sop_id != revision.sop_id:
        raise DomainError(field="other_id", message=_("Compare revisions of the same SOP."))
    return _diff(other, revision)


def _diff(before: Revision, after: Revision) -> list[DiffLine]:
    subject_type = after.sop.subject_type
    lines = []
    for line in difflib.ndiff(
        definition_lines(before.definition, subject_type=subject_type),
        definition_lines(after.definition, subject_type=subject_type),
    ):
        if line.startswith("? "):
            continue
        lines.append(DiffLine(op=line[0], text=line[2:]))
    return lines


@dataclass(frozen=True)
class Preview:
    count: int
    more: bool  # the count stopped at PREVIEW_COUNT_LIMIT
    sample: list[tuple[int, str]]
    note: str


def trigger_preview(
    *, revision_id: int, trigger_key: str, limit: int = 10, now: datetime | None = None
) -> Preview:
    """Which subjects this trigger would match now (events: who matches the subject rules)."""
    revision = revision_get(revision_id=revision_id)
    definition = definition_parse(revision.definition)
    trigger: Any = definition.trigger(trigger_key)
    if trigger is None:
        raise NotFound(field="trigger_key", message=_("No trigger %(k)s.") % {"k": trigger_key})
    subject = subjects.SUBJECTS[revision.sop.subject_type]
    if subject.name == "business":
        return Preview(count=1, more=False, sample=[(1, str(business_get()))], note="")
    now = now or timezone.now()
    queryset = subject.queryset()
    note = ""
    if trigger.kind == "date":
        spec = subject.fields[trigger.field]
        after, until = matching.date_window(
            now=now,
            zone=business_get().zone,
            offset_days=trigger.offset_days,
            catch_up_days=trigger.catch_up_days,
        )
        queryset = queryset.filter(**{f"{spec.lookup}__gt": after, f"{spec.lookup}__lte": until})
        note = _("Due now: the next sweep starts a run for each not started yet.")
    elif trigger.kind == "event":
        note = _(
            "Subjects that match the conditions on the subject now; event fields are not tested."
        )
    condition = matching.conditions_q(subject, trigger.conditions, now=now)
    if condition is not None:
        queryset = queryset.filter(condition)
    queryset = queryset.order_by("-pk")
    # No exact COUNT over a million rows per request: count up to a limit.
    counted = queryset.values("pk")[: PREVIEW_COUNT_LIMIT + 1].count()
    sample = [(item.pk, str(item)) for item in queryset[:limit]]
    return Preview(
        count=min(counted, PREVIEW_COUNT_LIMIT),
        more=counted > PREVIEW_COUNT_LIMIT,
        sample=sample,
        note=note,
    )


def transitions_of(*, sop_id: int) -> dict[int, list[RevisionTransition]]:
    grouped: dict[int, list[RevisionTransition]] = defaultdict(list)
    for move in RevisionTransition.objects.filter(revision__sop_id=sop_id).select_related("actor"):
        grouped[move.revision_id].append(move)
    return grouped


def source_revision(
    sop: Sop,
    *,
    step_key: str,
    revision_id: int | None,
    task_id: int | None,
    run_id: int | None,
) -> Revision:
    """The revision the person worked with: their run's, else the one given, else the live one.

    A task and a run must belong to this SOP (and to each other), and a task's
    step must be the step named: feedback never lands on the wrong step.
    """
    if task_id is not None:
        task = Task.objects.filter(pk=task_id).values("run_id", "run_step_id").first()
        if task is None:
            raise NotFound(field="task_id", message=_("No task %(id)s.") % {"id": task_id})
        if task["run_id"] is None:
            raise DomainError(field="task_id", message=_("This task did not come from an SOP."))
        if run_id is not None and run_id != task["run_id"]:
            raise DomainError(field="run_id", message=_("The task belongs to another run."))
        run_id = task["run_id"]
        task_step = run_facts().step_key_get(task["run_step_id"] or 0)
        if step_key and task_step and task_step != step_key:
            raise DomainError(
                field="step_key",
                message=_("The task is step “%(task)s”, not “%(step)s”.")
                % {"task": task_step, "step": step_key},
            )
    if run_id is not None:
        run = run_facts().run_get(run_id)
        if run is None:
            raise NotFound(field="run_id", message=_("No run %(id)s.") % {"id": run_id})
        if run.sop_id != sop.pk:
            raise DomainError(field="run_id", message=_("This run is of another SOP."))
        if revision_id is not None and revision_id != run.revision_id:
            raise DomainError(field="revision_id", message=_("The run used another revision."))
        revision_id = run.revision_id
    revisions = Revision.objects.filter(sop=sop)
    if revision_id is not None:
        revision = revisions.filter(pk=revision_id).first()
        if revision is None:
            raise NotFound(field="revision_id", message=_("No such revision of this SOP."))
        return revision
    revision = (
        revisions.filter(state=RevisionState.PUBLISHED).first()
        or revisions.filter(state=RevisionState.PILOT).first()
        or revisions.order_by("-number").first()
    )
    if revision is None:  # every SOP is made with a first draft; a broken row is not
        raise NotFound(field="sop_id", message=_("This SOP has no revision."))
    return revision


# ---------------------------------------------------------------- who runs a revision


@dataclass(frozen=True)
class Audience:
    """The roles, teams and people a revision's steps hand work to."""

    roles: frozenset[str]
    team_ids: frozenset[int]
    user_ids: frozenset[int]

    def includes(self, *, role: str, team_ids: set[int], user_id: int) -> bool:
        return role in self.roles or bool(self.team_ids & team_ids) or user_id in self.user_ids


def audience_of(revision: Revision) -> Audience:
    """Read from the steps' assignees: a role, a team, a person, or the SOP's owner.

    The people asked to read a revision are those who may be handed one of its
    steps: everyone with a role a step names, every member of a team a step
    names, every person a step names, and the SOP's owner only when a step goes
    to "the SOP's owner" (owners who merely wrote it are not asked).
    """
    roles: set[str] = set()
    teams: set[int] = set()
    users: set[int] = set()
    for step in (revision.definition or {}).get("steps", []):
        assignee = step.get("assignee") if isinstance(step, dict) else None
        if not isinstance(assignee, dict):
            continue
        kind = assignee.get("kind")
        if kind == "role" and assignee.get("role"):
            roles.add(str(assignee["role"]))
        elif kind == "team" and assignee.get("team_id"):
            teams.add(int(assignee["team_id"]))
        elif kind == "user" and assignee.get("user_id"):
            users.add(int(assignee["user_id"]))
        elif kind == "sop_owner":
            users.add(revision.sop.owner_id)
    return Audience(frozenset(roles), frozenset(teams), frozenset(users))


def revision_audience(*, revision: Revision) -> QuerySet[User]:
    """Active people who run this revision (see audience_of): one query, no duplicates."""
    audience = audience_of(revision)
    members = Team.members.through.objects.filter(team_id__in=audience.team_ids).values("user_id")
    return User.objects.filter(is_active=True).filter(
        Q(role__in=audience.roles) | Q(pk__in=audience.user_ids) | Q(pk__in=members)
    )


def acknowledgement_pending(*, revision: Revision) -> QuerySet[User]:
    """Who runs this revision and has not confirmed it yet."""
    confirmed = Acknowledgement.objects.filter(revision=revision).values("user_id")
    return revision_audience(revision=revision).exclude(pk__in=confirmed)


@dataclass(frozen=True)
class AckRow:
    user: User
    last_number: int | None  # the latest revision of this SOP they confirmed
    confirmed_at: datetime | None


@dataclass
class AckBoard:
    revision: Revision | None  # what is to be read: the published revision (else the pilot)
    rows: list[AckRow]
    others: list[Acknowledgement]  # confirmed it without being asked

    @property
    def pending(self) -> list[AckRow]:
        number = self.revision.number if self.revision else None
        return [row for row in self.rows if row.last_number != number]

    @property
    def confirmed(self) -> list[AckRow]:
        number = self.revision.number if self.revision else None
        return [row for row in self.rows if row.last_number == number]


def acknowledgement_board(*, sop: Sop) -> AckBoard:
    """Who has read the live revision, who read an older one, who none: two queries."""
    revision = (
        Revision.objects.select_related("sop")
        .filter(sop=sop, state__in=(RevisionState.PUBLISHED, RevisionState.PILOT))
        .order_by("-number")
        .first()
    )
    if revision is None:
        return AckBoard(revision=None, rows=[], others=[])
    of_sop = Q(sop_acknowledgements__revision__sop_id=sop.pk)
    people = (
        User.objects.filter(pk__in=revision_audience(revision=revision).values("pk"))
        .annotate(
            last_number=Max("sop_acknowledgements__revision__number", filter=of_sop),
            confirmed_at=Max("sop_acknowledgements__confirmed_at", filter=of_sop),
        )
        .order_by("first_name", "last_name", "username")
    )
    rows = [AckRow(user, user.last_number, user.confirmed_at) for user in people]
    asked = {row.user.pk for row in rows}
    others = [
        ack
        for ack in Acknowledgement.objects.filter(revision=revision)
        .select_related("user")
        .order_by("confirmed_at")
        if ack.user_id not in asked
    ]
    return AckBoard(revision=revision, rows=rows, others=others)


@dataclass
class OnboardingItem:
    sop: Sop
    revision: Revision  # the published revision, to read and confirm
    confirmed_number: int | None  # the latest revision of it they confirmed
    confirmed_at: datetime | None
    lines: list[str]  # the SOP in words
    changes: list[DiffLine]  # what changed since the revision they confirmed

    @property
    def confirmed(self) -> bool:
        return self.confirmed_number == self.revision.number


def onboarding_list(*, user: User) -> list[OnboardingItem]:
    """The published SOPs whose steps go to this person's role, teams or to them.

    Not yet confirmed first. For one they confirmed an older revision of, the
    diff since that revision (in words, as the revision page shows it).
    """
    team_ids = set(user.teams.values_list("pk", flat=True))
    published = Revision.objects.filter(state=RevisionState.PUBLISHED).select_related(
        "sop", "sop__owner"
    )
    mine = [
        revision
        for revision in published
        if audience_of(revision).includes(role=user.role, team_ids=team_ids, user_id=user.pk)
    ]
    latest: dict[int, tuple[int | None, datetime | None, int | None]] = {}
    for sop_id, seen_number, seen_at, seen_id in Acknowledgement.objects.filter(
        user=user, revision__sop_id__in=[revision.sop_id for revision in mine]
    ).values_list("revision__sop_id", "revision__number", "confirmed_at", "revision_id"):
        if sop_id not in latest or seen_number > (latest[sop_id][0] or 0):
            latest[sop_id] = (seen_number, seen_at, seen_id)
    before = {
        revision.pk: revision
        for revision in Revision.objects.filter(
            pk__in=[item[2] for item in latest.values()]
        ).select_related("sop")
    }
    items = []
    for revision in mine:
        number, confirmed_at, confirmed_id = latest.get(revision.sop_id, (None, None, None))
        changes: list[DiffLine] = []
        if confirmed_id is not None and confirmed_id != revision.pk:
            changes = [line for line in _diff(before[confirmed_id], revision) if line.op != " "]
        items.append(
            OnboardingItem(
                sop=revision.sop,
                revision=revision,
                confirmed_number=number,
                confirmed_at=confirmed_at,
                lines=definition_lines(revision.definition, subject_type=revision.sop.subject_type),
                changes=changes,
            )
        )
    items.sort(key=lambda item: (item.confirmed, item.sop.name.lower()))
    return items


# ---------------------------------------------------------------- feedback on an SOP's steps


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
