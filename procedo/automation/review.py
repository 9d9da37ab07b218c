"""The SOP review report: what the monthly or quarterly review meeting reads of one revision.

Per step, over the runs of the revision started in the period: how many runs reached it,
how long it took (median and 90th percentile, from start to finish), how often it finished
after its due time, how often it was skipped and why (the task's note, else the engine's
outcome), how many runs that reached the step before never reached it, and the feedback
and proposals people left on it. The steps that need the meeting's attention (slowest,
most skipped) come first; the KPI's measured effect stands above them.

The counts are one grouped query; the times are read as pairs of moments (only finished
steps of the period) and their percentiles taken here, the same way on both backends.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.analytics.periods import Period
from procedo.automation import impact as sop_impact_module
from procedo.automation.models import ACTIVE_RUN_STATES, RunStep, StepState
from procedo.core.errors import DomainError, NotFound
from procedo.sops import live
from procedo.sops.models import Revision, RevisionState, Sop
from procedo.sops.selectors.feedback import sop_feedback
from procedo.work.models import Task, TaskState

ATTENTION = 3  # the slowest and the most skipped steps listed first
REASONS = 3  # skip reasons shown per step


@dataclass
class StepReview:
    key: str
    title: str
    kind: str
    reached: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    with_due: int = 0
    overdue: int = 0
    minutes: list[float] = field(default_factory=list, repr=False)
    reasons: list[tuple[str, int]] = field(default_factory=list)
    lost: int = 0  # runs that reached the step before and never this one
    open_feedback: int = 0
    proposals: int = 0

    @property
    def median_minutes(self) -> float | None:
        return statistics.median(self.minutes) if self.minutes else None

    @property
    def p90_minutes(self) -> float | None:
        if len(self.minutes) < 2:
            return self.minutes[0] if self.minutes else None
        return statistics.quantiles(self.minutes, n=10, method="inclusive")[8]

    @property
    def skip_rate(self) -> float | None:
        return self.skipped * 100 / self.reached if self.reached else None

    @property
    def overdue_rate(self) -> float | None:
        return self.overdue * 100 / self.with_due if self.with_due else None


@dataclass
class RevisionReview:
    sop: Sop
    revision: Revision
    period: Period
    steps: list[StepReview]
    runs: int
    impact: Any = None  # procedo.automation.impact.Impact, or None for a KPI not per subject

    @property
    def slowest(self) -> list[StepReview]:
        # Automatic steps take seconds: the meeting looks at what people take long over.
        timed = [step for step in self.steps if (step.p90_minutes or 0) >= 1]
        return sorted(timed, key=lambda step: -(step.p90_minutes or 0))[:ATTENTION]

    @property
    def most_skipped(self) -> list[StepReview]:
        skipped = [step for step in self.steps if step.skipped]
        return sorted(skipped, key=lambda step: -(step.skip_rate or 0))[:ATTENTION]


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def revision_review(*, sop: Sop, revision: Revision, period: Period) -> RevisionReview:
    """The report of one revision over the runs started in the period."""
    now = timezone.now()
    rows = RunStep.objects.filter(
        run__sop_id=sop.pk,
        run__revision_id=revision.pk,
        run__created_at__gte=period.start,
        run__created_at__lt=period.end,
    )
    late = Q(due_at__isnull=False) & (
        Q(finished_at__gt=F("due_at")) | Q(finished_at__isnull=True, due_at__lt=now)
    )
    counts = {
        row["step_key"]: row
        for row in rows.values("step_key")
        .annotate(
            reached=Count("run_id", distinct=True),
            done=Count("id", filter=Q(state=StepState.DONE)),
            skipped=Count("id", filter=Q(state=StepState.SKIPPED)),
            failed=Count("id", filter=Q(state=StepState.FAILED)),
            with_due=Count("id", filter=Q(due_at__isnull=False)),
            overdue=Count("id", filter=late),
        )
        .order_by()
    }
    definition = live.definition_of(revision.pk)
    steps = [
        StepReview(key=step.key, title=str(step.title), kind=step.kind) for step in definition.steps
    ]
    by_key = {step.key: step for step in steps}
    for key, row in counts.items():
        step = by_key.get(key)
        if step is not None:
            for name in ("reached", "done", "skipped", "failed", "with_due", "overdue"):
                setattr(step, name, row[name])

    finished = rows.filter(
        state=StepState.DONE, started_at__isnull=False, finished_at__isnull=False
    ).values_list("step_key", "started_at", "finished_at")
    for key, started, ended in finished.iterator(chunk_size=5000):
        if key in by_key and started is not None and ended is not None:
            by_key[key].minutes.append(_minutes(started, ended))

    _reasons_attach(rows, by_key)
    _lost_attach(rows, steps)
    board = sop_feedback(sop=sop, revision=revision)
    for block in board.steps:
        if block.key in by_key:
            by_key[block.key].open_feedback = block.open
            by_key[block.key].proposals = len(block.proposals)

    runs = rows.values("run_id").distinct().count()
    impact = None
    if sop_impact_module.outcome_of(sop.kpi, sop.subject_type) is not None:
        impact = sop_impact_module.sop_impact(sop=sop)
    return RevisionReview(
        sop=sop, revision=revision, period=period, steps=steps, runs=runs, impact=impact
    )


def _reasons_attach(rows: Any, by_key: dict[str, StepReview]) -> None:
    """Why steps were skipped: the note the person wrote when skipping the task, else the
    engine's outcome in words."""
    skipped = list(rows.filter(state=StepState.SKIPPED).values_list("step_key", "outcome", "id"))
    notes = dict(
        Task.objects.filter(
            run_step_id__in=[pk for _key, _outcome, pk in skipped], state=TaskState.SKIPPED
        ).values_list("run_step_id", "outcome_note")
    )
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for key, outcome, pk in skipped:
        reasons[key][(notes.get(pk) or "").strip() or _outcome_words(outcome)] += 1
    for key, counter in reasons.items():
        if key in by_key:
            by_key[key].reasons = counter.most_common(REASONS)


def _outcome_words(outcome: str) -> str:
    words = {
        "no_recipient": _("no address to write to"),
        "skipped": _("skipped without a note"),
        "": _("skipped without a note"),
    }
    return str(words.get(outcome, outcome))


def _lost_attach(rows: Any, steps: list[StepReview]) -> None:
    """Drop-off in the written order: runs that ended having reached a step and never the
    next one (a branch that passes a step by counts as a loss there; the meeting reads it
    as such). A run still on its way is not lost yet."""
    reached: dict[str, set[int]] = defaultdict(set)
    ended: set[int] = set()
    pairs = rows.values_list("step_key", "run_id", "run__state")
    for key, run_id, state in pairs.iterator(chunk_size=5000):
        reached[key].add(run_id)
        if state not in ACTIVE_RUN_STATES:
            ended.add(run_id)
    for before, step in itertools.pairwise(steps):
        step.lost = len((reached[before.key] & ended) - reached[step.key])


def sop_review_of(*, sop_id: int, revision_id: int | None, period: Period) -> RevisionReview:
    """The report of an SOP's revision (the published one, else the newest, when none is
    named); 404 naming `sop_id`, 422 naming `revision_id` for a revision of another SOP."""
    sop = Sop.objects.filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    revisions = Revision.objects.filter(sop=sop)
    if revision_id is not None:
        revision = revisions.filter(pk=revision_id).first()
        if revision is None:
            raise DomainError(
                field="revision_id",
                message=_("Revision %(id)s is not a revision of this SOP.") % {"id": revision_id},
            )
    else:
        revision = (
            revisions.filter(state=RevisionState.PUBLISHED).first()
            or revisions.order_by("-number").first()
        )
    assert revision is not None  # an SOP is created with its first draft
    return revision_review(sop=sop, revision=revision, period=period)
