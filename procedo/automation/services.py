"""Starting, resuming and cancelling SOP runs: the engine's writes.

The engine reads the event log as the consumer `automation.engine` through
`consumer_run_batch`, so its writes for a batch and the cursor commit
together. A batch is matched set-wise: triggers are looked up by event type,
conditions run as one query per trigger, runs and their first steps are
inserted with multi-row INSERT … ON CONFLICT DO NOTHING. The unique
(SOP, subject, occurrence) makes a batch read twice (a crash, a replay from
cursor 0, two workers) start nothing twice.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.automation.models import (
    ACTIVE_RUN_STATES,
    Run,
    RunState,
    RunStep,
    StepState,
    TriggerKind,
)
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.events.models import Event
from procedo.events.services import NewEvent, event_record, events_record_many
from procedo.sops import live, matching, subjects
from procedo.sops.definitions import Conditions, Definition
from procedo.sops.models import Sop

logger = logging.getLogger(__name__)

CONSUMER = "automation.engine"
CHUNK = 400
MAX_DEPTH = 5

# (column, SQL constant) pairs: the same in every row, so formatted in, not bound per row.
_RUN_CONSTANTS = (("current_iteration", "0"), ("claimed_by", "''"), ("error", "''"))
_RUN_COLUMNS = (
    "sop_id",
    "revision_id",
    "subject_type",
    "subject_id",
    "occurrence_key",
    "trigger_key",
    "trigger_kind",
    "event_id",
    "state",
    "pilot",
    "current_step",
    "wake_at",
    "started_by_id",
    "parent_run_id",
    "depth",
    "created_at",
    "finished_at",
)
_STEP_CONSTANTS = (
    ("iteration", "0"),
    ("state", f"'{StepState.PENDING.value}'"),
    ("attempts", "0"),
    ("wait_event_type", "''"),
    ("outcome", "''"),
    ("error", "''"),
)
_STEP_COLUMNS = ("run_id", "step_key", "kind", "created_at")


@dataclass(slots=True)
class NewRun:
    sop_id: int
    revision_id: int
    subject_type: str
    subject_id: int
    occurrence_key: str
    trigger_key: str
    trigger_kind: str
    first_step: str
    first_kind: str
    held_out: bool = False
    pilot: bool = False
    event_id: int | None = None
    started_by_id: int | None = None
    parent_run_id: int | None = None
    depth: int = 0

    @property
    def identity(self) -> tuple[int, str, int, str]:
        return (self.sop_id, self.subject_type, self.subject_id, self.occurrence_key)


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _insert_sql(
    table: str,
    columns: Sequence[str],
    constants: Sequence[tuple[str, str]],
    rows: int,
    returning: str = "",
) -> str:
    """A multi-row INSERT … ON CONFLICT DO NOTHING in the driver's own placeholder style."""
    mark = "?" if connection.vendor == "sqlite" else "%s"
    one = "(" + ", ".join([mark] * len(columns) + [sql for _name, sql in constants]) + ")"
    names = ", ".join([*columns, *(name for name, _sql in constants)])
    # Only quoted names, constants of this module and placeholders are formatted in.
    sql = f"INSERT INTO {table} ({names}) VALUES " + ", ".join([one] * rows)  # noqa: S608
    sql += " ON CONFLICT DO NOTHING"
    return sql + (f" RETURNING {returning}" if returning else "")


def _execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run a statement from `_insert_sql` straight on the driver's cursor.

    Django's SQLite wrapper rewrites "%s" to "?" with a regular expression over
    the whole statement: for 400-row INSERTs that was a tenth of the engine's
    time (make bench, B2). The SQL is already in the driver's style.
    """
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if connection.vendor == "sqlite":
            sqlite3.Cursor.execute(raw, sql, params)
        else:
            raw.execute(sql, params)
        return list(raw.fetchall()) if raw.description else []


def runs_insert(new_runs: Sequence[NewRun], *, now: datetime) -> list[tuple[int, NewRun]]:
    """Insert runs that do not exist yet, and the first step of each that is not held out.

    Returns (id, run) for the runs inserted now; a run whose occurrence exists
    already (a batch read twice, a twin worker) is skipped by the constraint.
    """
    if not new_runs:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(now)
    by_identity = {run.identity: run for run in new_runs}
    inserted: list[tuple[int, NewRun]] = []
    runs = list(by_identity.values())
    for start in range(0, len(runs), CHUNK):
        chunk = runs[start : start + CHUNK]
        params: list[Any] = []
        for run in chunk:
            held = run.held_out or not run.first_step
            params.extend(
                (
                    run.sop_id,
                    run.revision_id,
                    run.subject_type,
                    run.subject_id,
                    run.occurrence_key,
                    run.trigger_key,
                    run.trigger_kind,
                    run.event_id,
                    RunState.HELD_OUT.value
                    if run.held_out
                    else (
                        RunState.COMPLETED.value if not run.first_step else RunState.RUNNING.value
                    ),
                    run.pilot,
                    "" if held else run.first_step,
                    None if held else at,
                    run.started_by_id,
                    run.parent_run_id,
                    run.depth,
                    at,
                    at if held else None,
                )
            )
        sql = _insert_sql(
            _table(Run),
            _RUN_COLUMNS,
            _RUN_CONSTANTS,
            len(chunk),
            returning="id, sop_id, subject_type, subject_id, occurrence_key",
        )
        returned = _execute(sql, params)
        for run_id, sop_id, subject_type, subject_id, occurrence_key in returned:
            inserted.append(
                (int(run_id), by_identity[(sop_id, subject_type, int(subject_id), occurrence_key)])
            )
    steps = [(run_id, run) for run_id, run in inserted if not run.held_out and run.first_step]
    for start in range(0, len(steps), CHUNK):
        chunk_steps = steps[start : start + CHUNK]
        params = []
        for run_id, run in chunk_steps:
            params.extend((run_id, run.first_step, run.first_kind, at))
        _execute(
            _insert_sql(_table(RunStep), _STEP_COLUMNS, _STEP_CONSTANTS, len(chunk_steps)), params
        )
    return inserted


def new_run_for(
    sop: live.LiveSop,
    revision: live.LiveRevision,
    *,
    subject_id: int,
    occurrence_key: str,
    trigger_key: str,
    trigger_kind: str,
    event_id: int | None = None,
    started_by_id: int | None = None,
    parent_run_id: int | None = None,
    depth: int = 0,
    holdout: bool = True,
) -> NewRun:
    first, first_kind = revision.first_step
    return NewRun(
        sop_id=sop.id,
        revision_id=revision.id,
        subject_type=sop.subject_type,
        subject_id=subject_id,
        occurrence_key=occurrence_key,
        trigger_key=trigger_key,
        trigger_kind=trigger_kind,
        first_step=first,
        first_kind=first_kind,
        held_out=holdout and sop.held_out(subject_id),
        pilot=revision.state == "pilot",
        event_id=event_id,
        started_by_id=started_by_id,
        parent_run_id=parent_run_id,
        depth=depth,
    )


# ---------------------------------------------------------------- the consumer


@dataclass
class _Candidates:
    """The events one trigger of one revision may start runs for, with payload verdicts."""

    sop: live.LiveSop
    revision: live.LiveRevision
    trigger: Any
    verdicts: list[tuple[Event, matching.Verdict]]


def _candidates(sop: live.LiveSop, by_type: dict[str, list[Event]]) -> list[_Candidates]:
    found: list[_Candidates] = []
    subject = subjects.SUBJECTS[sop.subject_type]
    since = sop.live_since
    for event_type in sop.event_types & by_type.keys():
        # What happened before the SOP went live is history, even when read late.
        events = [
            e
            for e in by_type[event_type]
            if e.subject_type == sop.subject_type and (since is None or e.occurred_at >= since)
        ]
        groups: dict[int, tuple[live.LiveRevision, list[Event]]] = {}
        if sop.pilot is None and sop.published is not None:
            groups[sop.published.id] = (sop.published, events)  # no pilot: one group
        else:
            for event in events:
                revision = sop.revision_for(int(event.subject_id or 0), event.actor_id)
                if revision is not None:
                    groups.setdefault(revision.id, (revision, []))[1].append(event)
        for revision, group in groups.values():
            found.extend(
                _Candidates(
                    sop,
                    revision,
                    trigger,
                    matching.payload_verdicts(subject, trigger.conditions, group),
                )
                for trigger in revision.definition.triggers
                if trigger.kind == "event" and trigger.event_type == event_type
            )
    return found


def _subject_sets(
    subject_type: str, items: list[_Candidates], *, now: datetime
) -> dict[int, set[int]]:
    """Subject rules of every candidate trigger on one subject type: one query for the batch.

    If that query fails (a condition the database refuses), each SOP is asked on
    its own in a savepoint, so only the broken SOP misses the batch, and says so.
    """
    subject = subjects.SUBJECTS[subject_type]
    asked = {n: item for n, item in enumerate(items) if any(v is None for _e, v in item.verdicts)}
    ids = {int(e.subject_id or 0) for item in asked.values() for e, v in item.verdicts if v is None}
    try:
        with transaction.atomic():
            return matching.subjects_matching_many(
                subject, {n: item.trigger.conditions for n, item in asked.items()}, ids, now=now
            )
    except Exception:
        logger.exception(
            "matching %s conditions together failed; asking each SOP alone", subject_type
        )
    sets: dict[int, set[int]] = {}
    for n, item in asked.items():
        mine = {int(e.subject_id or 0) for e, v in item.verdicts if v is None}
        try:
            with transaction.atomic():
                sets.update(
                    matching.subjects_matching_many(
                        subject, {n: item.trigger.conditions}, mine, now=now
                    )
                )
        except Exception as exc:
            logger.exception("SOP %s: its conditions failed on a batch", item.sop.id)
            sets[n] = set()
            event_record(
                event_type="sop.trigger_failed",
                subject_type="sop",
                subject_id=item.sop.id,
                payload={
                    "trigger": item.trigger.key,
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                },
            )
    return sets


def _match_starts(
    events: Sequence[Event], sops: Sequence[live.LiveSop], *, now: datetime
) -> list[NewRun]:
    """Runs to start for a batch: payload rules in memory, subject rules in one query per type."""
    by_type: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.subject_id is not None:
            by_type[event.event_type].append(event)
    per_subject_type: dict[str, list[_Candidates]] = defaultdict(list)
    for sop in sops:
        if sop.subject_type in subjects.SUBJECTS:
            per_subject_type[sop.subject_type].extend(_candidates(sop, by_type))
    starts: list[NewRun] = []
    for subject_type, items in per_subject_type.items():
        sets = _subject_sets(subject_type, items, now=now)
        # One run per SOP per event, whichever of its triggers matched first.
        started: set[tuple[int, int]] = set()
        for n, item in enumerate(items):
            in_sql = sets.get(n, set())
            sop, revision, trigger = item.sop, item.revision, item.trigger
            first, first_kind = revision.first_step
            pilot = revision.state == "pilot"
            for event, verdict in item.verdicts:
                if not (verdict or (verdict is None and event.subject_id in in_sql)):
                    continue
                if (sop.id, event.id) in started:
                    continue
                started.add((sop.id, event.id))
                subject_id = int(event.subject_id or 0)
                starts.append(
                    NewRun(
                        sop.id,
                        revision.id,
                        subject_type,
                        subject_id,
                        f"e{event.id}",
                        trigger.key,
                        TriggerKind.EVENT,
                        first,
                        first_kind,
                        sop.held_out(subject_id),
                        pilot,
                        event.id,
                    )
                )
    return starts


def _rules_heard(
    definitions: Iterable[Definition],
) -> tuple[dict[str, list[Conditions]], dict[str, list[Conditions]]]:
    """Per event type, the conditions of every cancel rule and of every wait for an event."""
    cancels: dict[str, dict[str, Conditions]] = defaultdict(dict)
    waits: dict[str, dict[str, Conditions]] = defaultdict(dict)
    for definition in definitions:
        for rule in definition.cancel_on:
            cancels[rule.event_type][rule.conditions.model_dump_json()] = rule.conditions
        for step in definition.steps:
            if step.kind == "wait" and step.event_type:
                waits[step.event_type][step.conditions.model_dump_json()] = step.conditions
    return (
        {kind: list(found.values()) for kind, found in cancels.items()},
        {kind: list(found.values()) for kind, found in waits.items()},
    )


def _may_matter(events: Sequence[Event], rules: dict[str, list[Conditions]]) -> list[Event]:
    """The events some rule may match: most events (an order confirmed) cancel nothing, and
    ruling them out on their payload saves looking up the runs on their subjects."""
    by_type: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.event_type in rules and event.subject_type in subjects.SUBJECTS:
            by_type[event.event_type].append(event)
    kept: list[Event] = []
    for event_type, group in by_type.items():
        subject = subjects.SUBJECTS[group[0].subject_type]
        ids: set[int] = set()
        for conditions in rules[event_type]:
            ids.update(e.id for e in matching.payload_may_match(subject, conditions, group))
        kept.extend(e for e in group if e.id in ids)
    return kept


def _subject_events(events: Sequence[Event], types: set[str]) -> dict[tuple[str, int], list[Event]]:
    grouped: dict[tuple[str, int], list[Event]] = defaultdict(list)
    for event in events:
        if event.event_type in types and event.subject_id is not None:
            grouped[(event.subject_type, int(event.subject_id))].append(event)
    return grouped


def _active_runs_on(
    grouped: dict[tuple[str, int], list[Event]],
) -> list[dict[str, Any]]:
    per_type: dict[str, set[int]] = defaultdict(set)
    for subject_type, subject_id in grouped:
        per_type[subject_type].add(subject_id)
    rows: list[dict[str, Any]] = []
    for subject_type, ids in per_type.items():
        rows.extend(
            dict(row)
            for row in Run.objects.filter(
                state__in=ACTIVE_RUN_STATES, subject_type=subject_type, subject_id__in=sorted(ids)
            ).values("id", "revision_id", "subject_type", "subject_id", "event_id", "current_step")
        )
    return rows


def _cancel_by_events(
    events: Sequence[Event],
    rules: dict[str, list[Conditions]],
    definitions: dict[int, Definition],
    *,
    now: datetime,
) -> int:
    grouped = _subject_events(_may_matter(events, rules), set(rules))
    if not grouped:
        return 0
    to_cancel: dict[int, int] = {}
    for run in _active_runs_on(grouped):
        definition = definitions.get(run["revision_id"]) or live.definition_of(run["revision_id"])
        subject = subjects.SUBJECTS[run["subject_type"]]
        heard = grouped[(run["subject_type"], run["subject_id"])]
        # Only what happened after the run began can cancel it.
        later = [e for e in heard if run["event_id"] is None or e.id > run["event_id"]]
        for rule in definition.cancel_on:
            candidates = [e for e in later if e.event_type == rule.event_type]
            matched = matching.events_matching(subject, rule.conditions, candidates, now=now)
            if matched:
                to_cancel[run["id"]] = matched[0].id
                break
    for run_id, event_id in to_cancel.items():
        runs_cancel(
            run_ids=[run_id],
            reason=_("Cancelled by event %(id)s.") % {"id": event_id},
            actor=None,
            now=now,
        )
    return len(to_cancel)


def _resume_waits(
    events: Sequence[Event],
    rules: dict[str, list[Conditions]],
    definitions: dict[int, Definition],
    *,
    now: datetime,
) -> int:
    wait_types = set(rules)
    grouped = _subject_events(_may_matter(events, rules), wait_types)
    if not grouped:
        return 0
    resumed = 0
    per_type: dict[str, set[int]] = defaultdict(set)
    for subject_type, subject_id in grouped:
        per_type[subject_type].add(subject_id)
    for subject_type, ids in per_type.items():
        waiting = RunStep.objects.filter(
            state=StepState.WAITING,
            wait_event_type__in=sorted(wait_types),
            outcome="",
            run__subject_type=subject_type,
            run__subject_id__in=sorted(ids),
        ).values(
            "id", "step_key", "run_id", "run__revision_id", "run__subject_id", "wait_event_type"
        )
        for step in waiting:
            revision_id = step["run__revision_id"]
            definition = definitions.get(revision_id) or live.definition_of(revision_id)
            spec = definition.step(step["step_key"])
            if spec is None:
                continue
            heard = [
                e
                for e in grouped[(subject_type, step["run__subject_id"])]
                if e.event_type == step["wait_event_type"]
            ]
            matched = matching.events_matching(
                subjects.SUBJECTS[subject_type], spec.conditions, heard, now=now
            )
            if matched and RunStep.objects.filter(
                pk=step["id"], state=StepState.WAITING, outcome=""
            ).update(outcome="event", event_id=matched[0].id):
                Run.objects.filter(pk=step["run_id"], state__in=ACTIVE_RUN_STATES).update(
                    wake_at=now
                )
                resumed += 1
    return resumed


def engine_consume(events: Sequence[Event]) -> None:
    """The consumer: start runs for matching triggers, resume waits, cancel by events."""
    now = timezone.now()
    sops = live.live_sops()
    starts = _match_starts(events, sops, now=now) if sops else []
    inserted = runs_insert(starts, now=now)
    definitions = live.definitions_that_may_run()
    cancels, waits = _rules_heard(definitions.values())
    cancelled = _cancel_by_events(events, cancels, definitions, now=now) if cancels else 0
    resumed = _resume_waits(events, waits, definitions, now=now) if waits else 0
    if inserted or resumed or cancelled:
        wake_on_commit()


# ---------------------------------------------------------------- waking the executor


def wake_on_commit() -> None:
    """After this transaction commits, ask a worker to advance due runs."""
    pending = connection.run_on_commit
    if any(item[1] is _wake for item in pending):
        return
    transaction.on_commit(_wake, robust=True)


def _wake() -> None:
    from procedo.automation.tasks import automation_wake

    automation_wake()


# ---------------------------------------------------------------- people's actions


def _live_sop(sop_id: int) -> live.LiveSop:
    for sop in live.live_sops():
        if sop.id == sop_id:
            return sop
    if not Sop.objects.filter(pk=sop_id).exists():
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    raise Conflict(field="sop_id", message=_("This SOP has no published revision."))


@transaction.atomic
def run_start_manual(
    *, sop_id: int, subject_type: str, subject_id: int, actor: Any, idempotency_key: str
) -> Run:
    """A person starts an SOP on a subject; the form's token makes a double click one run."""
    sop = _live_sop(sop_id)
    if subject_type != sop.subject_type:
        raise DomainError(
            field="subject_type",
            message=_("This SOP runs on a %(kind)s.") % {"kind": sop.subject_type},
        )
    actor_id = getattr(actor, "pk", None)
    revision = sop.revision_for(subject_id, actor_id)
    trigger = next(
        (t for t in (revision.definition.triggers if revision else []) if t.kind == "manual"), None
    )
    if revision is None or trigger is None:
        raise Conflict(field="sop_id", message=_("This SOP cannot be started by hand."))
    subject = subjects.SUBJECTS[sop.subject_type]
    if not matching.subject_matches(subject, trigger.conditions, subject_id, now=timezone.now()):
        raise DomainError(
            field="subject_id",
            message=_("This SOP's conditions do not fit this %(kind)s.") % {"kind": subject.label},
        )
    occurrence = f"manual:{idempotency_key}"[:120]
    # A person asked for this run: no holdout.
    new = new_run_for(
        sop,
        revision,
        subject_id=subject_id,
        occurrence_key=occurrence,
        trigger_key=trigger.key,
        trigger_kind=TriggerKind.MANUAL,
        started_by_id=actor_id,
        holdout=False,
    )
    inserted = runs_insert([new], now=timezone.now())
    run = Run.objects.get(
        sop_id=sop.id, subject_type=subject_type, subject_id=subject_id, occurrence_key=occurrence
    )
    if inserted:
        event_record(
            event_type="sop_run.started",
            subject_type="sop_run",
            subject_id=run.pk,
            customer_id=subject_customer_id(subject_type, subject_id),
            actor=actor,
            payload={
                "sop_id": sop.id,
                "sop": sop.name,
                "subject_type": subject_type,
                "subject_id": subject_id,
            },
        )
        wake_on_commit()
    return run


def subject_customer_id(subject_type: str, subject_id: int) -> int | None:
    subject = subjects.SUBJECTS.get(subject_type)
    if subject is None or subject.customer_lookup is None:
        return None
    if subject.customer_lookup == "pk":
        return subject_id
    found = list(
        subject.model._default_manager.filter(pk=subject_id).values_list(
            subject.customer_lookup, flat=True
        )
    )
    return found[0] if found else None


def runs_cancel(
    *, run_ids: Sequence[int], reason: str, actor: Any, now: datetime | None = None
) -> int:
    """Cancel runs in flight, their open steps and tasks; records one event per run."""
    from procedo.work import services as work_services

    now = now or timezone.now()
    active = list(
        Run.objects.filter(pk__in=list(run_ids), state__in=ACTIVE_RUN_STATES).values_list(
            "id", "sop_id", "subject_type", "subject_id"
        )
    )
    if not active:
        return 0
    ids = [row[0] for row in active]
    changed = Run.objects.filter(pk__in=ids, state__in=ACTIVE_RUN_STATES).update(
        state=RunState.CANCELLED,
        finished_at=now,
        wake_at=None,
        error=reason,
        claimed_by="",
        claimed_until=None,
    )
    open_steps = list(
        RunStep.objects.filter(
            run_id__in=ids, state__in=(StepState.PENDING, StepState.RUNNING, StepState.WAITING)
        ).values_list("id", flat=True)
    )
    RunStep.objects.filter(pk__in=open_steps).update(
        state=StepState.CANCELLED, finished_at=now, error=reason
    )
    work_services.tasks_cancel_for_run_steps(run_step_ids=open_steps, reason=reason)
    actor_id = getattr(actor, "pk", None)
    events_record_many(
        NewEvent(
            event_type="sop_run.cancelled",
            subject_type="sop_run",
            subject_id=run_id,
            actor_id=actor_id,
            payload={
                "sop_id": sop_id,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "reason": reason,
            },
        )
        for run_id, sop_id, subject_type, subject_id in active
    )
    return changed


@transaction.atomic
def run_cancel(*, run_id: int, actor: Any, reason: str = "") -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(field="run_id", message=_("No run %(id)s.") % {"id": run_id})
    if run.state not in ACTIVE_RUN_STATES:
        raise Conflict(
            field="state",
            message=_("This run is %(state)s already.") % {"state": run.get_state_display()},
        )
    runs_cancel(run_ids=[run.pk], reason=reason.strip() or _("Cancelled by a person."), actor=actor)
    run.refresh_from_db()
    return run


def checklist_route(spec: Any, answers: Mapping[str, Any]) -> tuple[str, str | None]:
    """The outcome of a checklist step from its answers, and the step it sends the run to.

    A decision goes where the first answered question's option points; a
    verification with any failed criterion goes to `on_fail`. None: the
    step's usual next.
    """
    if spec.kind != "checklist":
        return "done", None
    if spec.checklist_kind == "decision":
        chosen = [
            option
            for item in spec.items
            for option in item.options
            if answers.get(item.key) == option.value
        ]
        routed = next((option for option in chosen if option.goto), None)
        if routed is not None:
            return routed.value, routed.goto
        return (chosen[0].value if chosen else "done"), None
    if spec.checklist_kind == "verification":
        if any(answers.get(item.key) == "failed" for item in spec.items):
            return "failed", spec.on_fail or None
        return "passed", None
    return "done", None


def run_step_task_closed(task: Any, actor: Any) -> None:
    """Task listener: the task of a step was closed, so the step is done and the run moves on.

    Runs in the task's transaction. Compare-and-set on the step and the run: a
    run cancelled meanwhile stays cancelled. A checklist's answers choose
    where a decision or a failed verification sends the run.
    """
    from procedo.automation.executor import run_move_after

    if task.run_step_id is None:
        return
    step = RunStep.objects.select_related("run").filter(pk=task.run_step_id).first()
    if step is None or step.state != StepState.WAITING:
        return
    target: str | None = None
    if task.state == "done":
        spec = live.definition_of(step.run.revision_id).step(step.step_key)
        answers = dict(task.items.values_list("key", "answer")) if task.checklist_kind else {}
        outcome, target = checklist_route(spec, answers) if spec is not None else ("done", None)
    else:
        outcome = "skipped"
    now = timezone.now()
    if not RunStep.objects.filter(pk=step.pk, state=StepState.WAITING).update(
        state=StepState.SKIPPED if outcome == "skipped" else StepState.DONE,
        outcome=outcome,
        finished_at=now,
    ):
        return
    run_move_after(step.run, step, outcome=outcome, now=now, target=target)
    wake_on_commit()


def runs_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's runs become the survivor's.

    A run whose occurrence the survivor has too (both got the same schedule
    slot) stays on the duplicate: one run per (SOP, subject, occurrence).
    """
    twin = Run.objects.filter(
        sop_id=OuterRef("sop_id"),
        subject_type="customer",
        subject_id=survivor_id,
        occurrence_key=OuterRef("occurrence_key"),
    )
    return (
        Run.objects.filter(subject_type="customer", subject_id=duplicate_id)
        .exclude(Exists(twin))
        .update(subject_id=survivor_id)
    )
