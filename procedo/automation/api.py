"""Runs in the REST API: a run with each step's state and timing, a subject's runs, cancelling."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.analytics.impact import BINARY, Effect, Group
from procedo.analytics.periods import period_clean
from procedo.automation import impact as impact_selectors
from procedo.automation import review, selectors
from procedo.automation.services import engine, pacing, runs
from procedo.business.selectors import business_get
from procedo.core.bounds import Cursor, Day, Id, LongText, PageLimit, PathId, ShortText
from procedo.core.exports import filters_known
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import EXPORT_RESPONSE, ExportFormat, Schema
from procedo.events.exports import export_stream

router = Router(tags=["runs"])
# Runs of one SOP, under /api/sops/{id}/: the engine owns runs, the SOP is their address.
sop_runs_router = Router(tags=["runs"])


class RunOut(Schema):
    id: int
    sop_id: int
    revision_id: int
    subject_type: str
    subject_id: int
    occurrence_key: str
    trigger_key: str
    trigger_kind: str
    event_id: int | None
    state: str
    pilot: bool
    current_step: str
    started_by_id: int | None
    parent_run_id: int | None
    error: str
    created_at: datetime
    finished_at: datetime | None


class RunPageOut(Schema):
    items: list[RunOut]
    next_cursor: str | None


class StepOut(Schema):
    key: str
    title: str
    kind: str
    reached: bool
    iteration: int | None = None
    state: str | None = None
    outcome: str | None = None
    attempts: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    due_at: datetime | None = None
    task_id: int | None = None
    message_id: int | None = None
    error: str | None = None


class RunDetailOut(RunOut):
    steps: list[StepOut]


class SubjectQuery(Schema):
    subject_type: ShortText
    subject_id: Id
    limit: PageLimit = 20


class CancelIn(Schema):
    reason: LongText = ""


class StartIn(Schema):
    subject_type: ShortText
    subject_id: Id


class RunQuery(Schema):
    state: ShortText = ""
    cursor: Cursor | None = None
    limit: PageLimit = 25


class RunExportQuery(Schema):
    state: ShortText = ""
    format: ExportFormat = "csv"


def _run_detail(run_id: int) -> dict[str, Any]:
    card = selectors.run_card(run_id=run_id)
    out = RunOut.from_orm(card.run).dict()
    steps = []
    for view in card.steps:
        row = view.row
        item: dict[str, Any] = {
            "key": view.key,
            "title": view.title,
            "kind": view.kind,
            "reached": row is not None,
        }
        if row is not None:
            item.update(
                iteration=row.iteration,
                state=row.state,
                outcome=row.outcome,
                attempts=row.attempts,
                started_at=row.started_at,
                finished_at=row.finished_at,
                due_at=row.due_at,
                task_id=row.task_id,
                message_id=row.message_id,
                error=row.error,
            )
        steps.append(item)
    return {**out, "steps": steps}


@router.get("", response=list[RunOut], auth=requires_api("sops.view"))
def runs_of_subject(request: ApiRequest, filters: Query[SubjectQuery]) -> list[Any]:
    """The SOP runs of one customer, order or other subject, newest first."""
    return selectors.runs_of_subject(
        subject_type=filters.subject_type, subject_id=filters.subject_id, limit=filters.limit
    )


@router.get("/{int:run_id}", response=RunDetailOut, auth=requires_api("sops.view"))
def run_detail(request: ApiRequest, run_id: PathId) -> dict[str, Any]:
    return _run_detail(run_id)


@router.post("/{int:run_id}/cancel", response=RunDetailOut, auth=requires_api("sops.run"))
def run_cancel(request: ApiRequest, run_id: PathId, payload: CancelIn) -> dict[str, Any]:
    runs.run_cancel(run_id=run_id, actor=request.auth, reason=payload.reason)
    return _run_detail(run_id)


@sop_runs_router.get("/{int:sop_id}/runs", response=RunPageOut, auth=requires_api("sops.view"))
def runs_of_sop(request: ApiRequest, sop_id: PathId, filters: Query[RunQuery]) -> dict[str, Any]:
    page = selectors.runs_of_sop(
        sop_id=sop_id, state=filters.state, cursor=filters.cursor, limit=filters.limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@sop_runs_router.get(
    "/{int:sop_id}/runs/export", auth=requires_api("sops.view"), openapi_extra=EXPORT_RESPONSE
)
def run_export(
    request: ApiRequest, sop_id: PathId, filters: Query[RunExportQuery]
) -> StreamingHttpResponse:
    """The SOP's runs as a CSV (UTF-8 with a BOM) or XLSX file, streamed and recorded."""
    return export_stream(
        request=request,
        actor=request.auth,
        list_name="runs",
        fmt=filters.format,
        filters={"sop": sop_id, **filters_known(request.GET, RunExportQuery.model_fields)},
        columns=selectors.RUN_COLUMNS,
        rows=selectors.run_export_rows(sop_id=sop_id, state=filters.state),
    )


@sop_runs_router.post("/{int:sop_id}/start", response={201: RunOut}, auth=requires_api("sops.run"))
def run_start_manual(
    request: ApiRequest,
    sop_id: PathId,
    payload: StartIn,
    idempotency_key: str = idempotency_header(required=True),
) -> Status[Any]:
    """Start the SOP by hand on a subject; the same Idempotency-Key returns the same run."""
    run = engine.run_start_manual(
        sop_id=sop_id,
        subject_type=payload.subject_type,
        subject_id=payload.subject_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, run)


class GroupOut(Schema):
    subjects: int
    value: float | None = Field(
        description="Percent who did it (a rate KPI) or spend per subject (a money KPI)."
    )


class EffectOut(Schema):
    kind: str = Field(description="binary: a rate, in percentage points; spend: money per subject")
    treated: GroupOut
    compared_with: GroupOut
    difference: Decimal | None
    low: Decimal | None = Field(description="The 95 % confidence interval's low end.")
    high: Decimal | None
    measured: bool = Field(description="The interval leaves zero out.")
    more_needed: int | None = Field(description="Subjects still needed to tell the difference.")
    verdict: str


class ImpactOut(Schema):
    sop_id: int
    kpi: str
    window_days: int
    holdout: EffectOut | None = Field(description="Treated against held out.")
    pilot: EffectOut | None = Field(description="The pilot revision against the published one.")
    summary: str


def _effect_out(effect: Effect | None, text: str) -> dict[str, Any] | None:
    if effect is None:
        return None
    scale = 100 if effect.kind == BINARY else 0.01

    def group(g: Group) -> dict[str, Any]:
        return {"subjects": g.subjects, "value": g.mean * scale if g.subjects else None}

    return {
        "kind": effect.kind,
        "treated": group(effect.treated),
        "compared_with": group(effect.held_out),
        "difference": effect.difference,
        "low": effect.low,
        "high": effect.high,
        "measured": effect.measured,
        "more_needed": effect.more_needed,
        "verdict": text,
    }


class QueuedOut(Schema):
    subject_type: str
    subject_id: int
    trigger_key: str
    mark_at: datetime
    queued_at: datetime


class QueueOut(Schema):
    waiting: int
    pace: int | None = Field(description="Starts per period; null: no pace")
    period: str
    free_now: int | None
    drained_by: datetime | None = Field(description="When the last one will have started, about")
    first: list[QueuedOut] = Field(description="The next to start, oldest mark first")


@sop_runs_router.get("/{int:sop_id}/queue", response=QueueOut, auth=requires_api("sops.view"))
def sop_queue(request: ApiRequest, sop_id: PathId) -> Any:
    """Subjects waiting for the SOP's pace, in the order they will start."""
    return pacing.queue_state(pacing.live_sop(sop_id), sop_id=sop_id, now=timezone.now(), limit=50)


@sop_runs_router.get("/{int:sop_id}/impact", response=ImpactOut, auth=requires_api("sops.view"))
def sop_impact(request: ApiRequest, sop_id: PathId) -> dict[str, Any]:
    """Whether the SOP moved its KPI: its treated subjects against those it held out (and a
    pilot revision against the published one), with a 95 % interval and a verdict in words."""
    impact = impact_selectors.sop_impact_of(sop_id=sop_id)
    return {
        "sop_id": impact.sop.pk,
        "kpi": impact.sop.kpi,
        "window_days": impact.window_days,
        "holdout": _effect_out(impact.holdout, impact.holdout_verdict),
        "pilot": _effect_out(impact.pilot, impact.pilot_verdict),
        "summary": impact.holdout_verdict or impact.pilot_verdict,
    }


class ReviewQuery(Schema):
    revision_id: Id | None = Field(
        default=None, description="A revision of this SOP; default the published one."
    )
    first: Day | None = Field(default=None, description="Runs started from this day.")
    last: Day | None = Field(default=None, description="Up to this day, included; default today.")


class StepReviewOut(Schema):
    key: str
    title: str
    reached: int = Field(description="Runs of the period that reached the step.")
    done: int
    skipped: int
    failed: int
    median_minutes: float | None = Field(description="From start to finish, done steps.")
    p90_minutes: float | None
    skip_rate: float | None = Field(description="Percent of the runs that reached it.")
    overdue_rate: float | None = Field(description="Percent of those with a due time.")
    skip_reasons: list[tuple[str, int]]
    lost: int = Field(description="Ended runs that reached the step before and not this one.")
    open_feedback: int
    proposals: int


class ReviewOut(Schema):
    sop_id: int
    revision: int = Field(description="The revision's number.")
    first: date
    last: date
    runs: int
    impact: str = Field(description="The KPI's measured effect in words; empty if not measured.")
    steps: list[StepReviewOut]
    slowest: list[str] = Field(description="Keys of the slowest steps (90th percentile).")
    most_skipped: list[str]


@sop_runs_router.get("/{int:sop_id}/review", response=ReviewOut, auth=requires_api("sops.view"))
def sop_review(request: ApiRequest, sop_id: PathId, query: Query[ReviewQuery]) -> dict[str, Any]:
    """The review meeting's report of one revision over the runs started in a period
    (default: the last 90 days): per step, reach, times, overdue and skip rates with
    reasons, drop-off, feedback; the slowest and most skipped steps; the KPI's effect."""
    zone = business_get().zone
    last = query.last or timezone.localdate()
    period = period_clean(first=query.first or last - timedelta(days=89), last=last, zone=zone)
    report = review.sop_review_of(sop_id=sop_id, revision_id=query.revision_id, period=period)
    impact = report.impact
    return {
        "sop_id": report.sop.pk,
        "revision": report.revision.number,
        "first": period.first,
        "last": period.last,
        "runs": report.runs,
        "impact": (impact.holdout_verdict or impact.pilot_verdict) if impact else "",
        "steps": [
            {
                "key": step.key,
                "title": step.title,
                "reached": step.reached,
                "done": step.done,
                "skipped": step.skipped,
                "failed": step.failed,
                "median_minutes": step.median_minutes,
                "p90_minutes": step.p90_minutes,
                "skip_rate": step.skip_rate,
                "overdue_rate": step.overdue_rate,
                "skip_reasons": step.reasons,
                "lost": step.lost,
                "open_feedback": step.open_feedback,
                "proposals": step.proposals,
            }
            for step in report.steps
        ],
        "slowest": [step.key for step in report.slowest],
        "most_skipped": [step.key for step in report.most_skipped],
    }
