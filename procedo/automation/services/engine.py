"""Starting, resuming and cancelling SOP runs: the engine's writes.

The engine reads the event log as the consumer `automation.engine` through
`consumer_run_batch`, so its writes for a batch and the cursor commit
together. A batch is matched set-wise: triggers are looked up by event type,
conditions run as one query per trigger, runs and their first steps are
inserted with multi-row INSERT … ON CONFLICT DO NOTHING. The unique
(SOP, subject, occurrence) makes a batch read twice (a crash, a replay from
cursor 0, two workers) start nothing twice.

The engine's entry points: events read from the log, a task closed, a run started by
hand. Each wakes the worker after its transaction commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.automation.models import (
    ACTIVE_RUN_STATES,
    Run,
    RunStep,
    StepState,
    TriggerKind,
)
from procedo.automation.services.runs import (
    NewRun,
    new_run_for,
    runs_cancel,
    runs_insert,
    subject_customer_id,
)
from procedo.automation.services.steps import checklist_route, run_move_after
from procedo.automation.tasks import automation_wake
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.texts import LaterText
from procedo.events import wakeups
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.sops import live, matching, subjects
from procedo.sops.definitions import Conditions, Definition
from procedo.sops.models import Sop

logger = logging.getLogger(__name__)


CONSUMER = "automation.engine"


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
            reason=LaterText(gettext_noop("Cancelled by event %(id)s."), {"id": event_id}),
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


def wake_on_commit() -> None:
    """After this transaction commits, ask a worker to advance due runs."""
    pending = connection.run_on_commit
    if any(item[1] is _wake for item in pending):
        return
    transaction.on_commit(_wake, robust=True)


def _wake() -> None:
    # In a worker's drain (the engine's batch) the runs are advanced in that thread at once;
    # elsewhere (a page, the API) the wake-up is enqueued.
    wakeups.wake(automation_wake, here=True)


def _live_sop(sop_id: int) -> live.LiveSop:
    for sop in live.live_sops():
        if sop.id == sop_id:
            return sop
    if not Sop.objects.filter(pk=sop_id).exists():
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    raise Conflict(field="sop_id", message=_("This SOP has no published revision."))


@idempotent("sop_run.start_manual", replay=lambda pk: Run.objects.get(pk=pk))
@transaction.atomic
def run_start_manual(
    *, sop_id: int, subject_type: str, subject_id: int, actor: Actor, idempotency_key: str
) -> Run:
    """A person starts an SOP on a subject; the form's token makes a double click one run."""
    sop = _live_sop(sop_id)
    if subject_type != sop.subject_type:
        raise DomainError(
            field="subject_type",
            message=_("This SOP runs on a %(kind)s.") % {"kind": sop.subject_type},
        )
    actor_id = actor_id_of(actor)
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


def run_step_task_closed(task: Any, actor: Actor) -> None:
    """Task listener: the task of a step was closed, so the step is done and the run moves on.

    Runs in the task's transaction. Compare-and-set on the step and the run: a
    run cancelled meanwhile stays cancelled. A checklist's answers choose
    where a decision or a failed verification sends the run.
    """

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
