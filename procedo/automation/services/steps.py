"""Advancing runs: claim the due ones by lease, execute their steps, retry, and fail loudly.

A worker claims due runs with one UPDATE (SKIP LOCKED on PostgreSQL) that
sets `claimed_by` to its token and `claimed_until` to a lease. Every
transaction that moves a run first re-proves the claim with a compare-and-set
on that token, so a worker whose lease ran out (it stalled, another took over)
rolls back instead of executing a step twice. Each side effect carries the key
"run:<id>:step:<key>:<iteration>" (task, message, status change), the last
guard. A webhook is called outside any transaction and is at-least-once: a
worker killed mid-call calls again with the same Idempotency-Key header.

One module of over 600 lines, on purpose: the run loop executes a step kind, and a step
kind's outcome moves the run (`_finish`, `run_move_after`), so the kinds and the loop call
each other; apart, they would be two modules importing each other's private helpers.
The set-based moves of many runs at once live here for the same reason.

A failed automatic step is retried with backoff; after the last attempt (or at
once when retrying cannot help) the run fails and its SOP's owner gets a task.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.automation.models import (
    ACTIVE_RUN_STATES,
    Run,
    RunState,
    RunStep,
    StepState,
    TriggerKind,
)
from procedo.automation.services import signing
from procedo.automation.services.runs import new_run_for, runs_insert, subject_customer_id
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.core.texts import LaterText, text_for_storing
from procedo.customers.models import Customer
from procedo.customers.services import details as customer_services
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.events.timeline import Names
from procedo.messaging.services.composing import message_compose
from procedo.messaging.services.queueing import message_queue
from procedo.orders.models import Order
from procedo.orders.services import statuses as order_services
from procedo.sops import live, matching, subjects
from procedo.sops.definitions import END, Definition
from procedo.work.services import lifecycle as work_services

logger = logging.getLogger(__name__)


LEASE = timedelta(seconds=60)


BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=8))


MAX_ATTEMPTS = len(BACKOFF) + 1


MAX_ITERATIONS = 10


MAX_STEPS_PER_PASS = 50


CONTINUE = "continue"


# The kinds of step a person does: the run waits for the task's closing.
TASK_KINDS = ("task", "checklist")


class StepError(Exception):
    """A step could not be done. `permanent`: retrying cannot help (a rule said no)."""

    def __init__(self, message: str | LaterText, *, permanent: bool = False) -> None:
        super().__init__(text_for_storing(message)[0])
        # The engine's own words stay an original with parameters, read in the reader's
        # language on the run page; a rule's refusal is kept as it was written.
        self.text = message
        self.permanent = permanent


@dataclass(frozen=True)
class WebhookCall:
    step_id: int
    url: str
    body: bytes
    key: str
    timeout: int


def step_key(run: Run, step: RunStep) -> str:
    return f"run:{run.pk}:step:{step.step_key}:{step.iteration}"


def runs_claim(*, limit: int, now: datetime) -> tuple[str, list[int]]:
    """Lease up to `limit` due runs to a new token; two workers never get the same run."""
    token = uuid.uuid4().hex
    table = connection.ops.quote_name(Run._meta.db_table)
    # PostgreSQL: concurrent claimers skip each other's rows instead of queueing on them.
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        f"UPDATE {table} SET claimed_by = %s, claimed_until = %s WHERE id IN ("  # noqa: S608
        f"SELECT id FROM {table} WHERE state IN (%s, %s) AND wake_at <= %s"
        f" AND (claimed_until IS NULL OR claimed_until < %s) ORDER BY wake_at LIMIT %s{lock})"
        " RETURNING id"
    )
    params = [
        token,
        adapt(now + LEASE),
        RunState.RUNNING,
        RunState.WAITING,
        adapt(now),
        adapt(now),
        limit,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = sorted(int(row[0]) for row in cursor.fetchall())
    return token, ids


def _hold(run_id: int, token: str, now: datetime) -> bool:
    """Re-prove the claim inside the current transaction (and lock the row on PostgreSQL)."""
    return bool(Run.objects.filter(pk=run_id, claimed_by=token).update(claimed_until=now + LEASE))


def _release(run_id: int, token: str) -> None:
    Run.objects.filter(pk=run_id, claimed_by=token).update(claimed_by="", claimed_until=None)


def runs_advance(*, limit: int = 100, now: datetime | None = None) -> int:
    """Claim due runs and move each as far as it goes now; returns how many were claimed."""
    now = now or timezone.now()
    token, ids = runs_claim(limit=limit, now=now)
    settled = _runs_move_many(ids, token, now)
    for run_id in ids:
        if run_id not in settled:
            run_advance(run_id=run_id, token=token, now=now)
    return len(ids)


def _customer_ids(subjects_of: Mapping[int, tuple[str, int]]) -> dict[int, int | None]:
    """The customer of each run's subject (as `subject_customer_id`), one query per type."""
    per_type: dict[str, set[int]] = {}
    for subject_type, subject_id in subjects_of.values():
        per_type.setdefault(subject_type, set()).add(subject_id)
    found: dict[tuple[str, int], int | None] = {}
    for subject_type, ids in per_type.items():
        subject = subjects.SUBJECTS.get(subject_type)
        lookup = subject.customer_lookup if subject else None
        if subject is None or lookup is None:
            continue
        if lookup == "pk":
            found.update(((subject_type, pk), pk) for pk in ids)
        else:
            rows = subject.model._default_manager.filter(pk__in=sorted(ids)).values_list(
                "pk", lookup
            )
            found.update(((subject_type, pk), customer) for pk, customer in rows)
    return {run_id: found.get(subject) for run_id, subject in subjects_of.items()}


def _definitions_of(revision_ids: set[int]) -> dict[int, Definition]:
    """The definitions of these revisions: one query while no SOP changed (`definition_of`
    asks the database once per call, and one run's step called it three times)."""
    found = live.definitions_that_may_run()
    for revision_id in revision_ids - found.keys():
        found[revision_id] = live.definition_of(revision_id)
    return found


class _LeaseLost(Exception):
    """A run of the batch is no longer this worker's: nothing of the batch is kept."""


def _runs_move_many(ids: list[int], token: str, now: datetime) -> set[int]:
    """Move a claimed batch's common cases together: end the waits that are over, then
    begin task steps and waits of a duration.

    Step by step, a task cost about 15 round trips (lease, run, step, key, the
    task, its event, the customer, step, run, release), a wait's beginning 8 and
    its end with the task after it about 30: 8–25 ms a run, so 40 orders a second
    (~90 first tasks) outran a worker, and on a sale day on PostgreSQL the few
    runs that begin with a wait took half of a pass, and ~10 one-minute waits
    ending a second fell behind (make bench, B2b). Here a batch takes about twenty
    statements in one transaction, writing the rows one by one would write.
    Anything else (other kinds, retries, a task made before, a wait for an event)
    and any error go step by step, where each run's failure stays its own.
    Returns the runs it is done with (waiting for a person or for a moment, or
    completed); a run whose wait ended before another kind of step is left due,
    for step by step.
    """
    if not ids:
        return set()
    try:
        with transaction.atomic():
            return _runs_move_set(ids, token, now)
    except _LeaseLost:
        return set()
    except Exception:
        logger.exception("moving %d runs at once failed; one by one instead", len(ids))
        return set()


def _task_fields(
    run: Mapping[str, Any], spec: Any, step: RunStep, customer_id: int | None, due: datetime
) -> dict[str, Any]:
    """`task_create`'s arguments for the task of a run's step, as `_task` passes them."""
    assignee = spec.assignee
    checklist = spec.kind == "checklist"
    return {
        "title": spec.title,
        "instructions": spec.instructions,
        "checklist_kind": spec.checklist_kind if checklist else "",
        "checklist": [item.model_dump() for item in spec.items] if checklist else (),
        "escalate_after_minutes": spec.escalate_after_minutes,
        "subject_type": run["subject_type"],
        "subject_id": run["subject_id"],
        "customer_id": customer_id,
        "run_id": run["id"],
        "run_step_id": step.pk,
        "assignee_user_id": run["sop__owner_id"]
        if assignee.kind == "sop_owner"
        else (assignee.user_id if assignee.kind == "user" else None),
        "assignee_team_id": assignee.team_id if assignee.kind == "team" else None,
        "assignee_role": assignee.role if assignee.kind == "role" else "",
        "due_at": due,
        "priority": spec.priority,
        "idempotency_key": f"run:{run['id']}:step:{step.step_key}:{step.iteration}",
    }


@dataclass(frozen=True)
class _WaitEnd:
    step_id: int
    outcome: str  # "elapsed", or "event": the engine heard what the wait was for
    target: str  # the step after it; "" ends the run
    iteration: int


def _waits_ended(
    runs: Mapping[int, dict[str, Any]], definitions: Mapping[int, Definition], now: datetime
) -> dict[int, _WaitEnd]:
    """The claimed runs whose wait is over, as `_on_wake` and `run_move_after` would end it.

    A wait for an event whose time ran out asks the log first (`_on_wake`), and a
    step come round too often fails the run: both go step by step.
    """
    waits = {
        run_id: spec
        for run_id, run in runs.items()
        if run["state"] == RunState.WAITING
        and (spec := definitions[run["revision_id"]].step(run["current_step"])) is not None
        and spec.kind == "wait"
    }
    if not waits:
        return {}
    over: dict[int, RunStep] = {}
    for step in RunStep.objects.filter(run_id__in=list(waits), state=StepState.WAITING):
        run = runs[step.run_id]
        if (step.step_key, step.iteration) != (run["current_step"], run["current_iteration"]):
            continue
        if step.outcome == "event" or (
            not step.outcome
            and not waits[step.run_id].event_type
            and step.due_at is not None
            and step.due_at <= now
        ):
            over[step.run_id] = step
    targets = {
        run_id: definitions[runs[run_id]["revision_id"]].step_after(step.step_key)
        for run_id, step in over.items()
    }
    passes: dict[int, int] = dict.fromkeys(over, 0)
    for run_id, key in RunStep.objects.filter(
        run_id__in=list(over), step_key__in=set(targets.values())
    ).values_list("run_id", "step_key"):
        if targets[run_id] == key:
            passes[run_id] += 1
    return {
        run_id: _WaitEnd(step.pk, step.outcome or "elapsed", targets[run_id], passes[run_id])
        for run_id, step in over.items()
        if not targets[run_id] or passes[run_id] < MAX_ITERATIONS
    }


def _runs_move_set(ids: list[int], token: str, now: datetime) -> set[int]:
    # Reads first, writes last: on PostgreSQL a transaction holds the event log's horizon
    # back from its first write (its transaction id) to its end, so the consumers wait
    # for the writing part only.
    runs: dict[int, dict[str, Any]] = {
        run["id"]: dict(run)
        for run in Run.objects.filter(
            pk__in=ids, claimed_by=token, state__in=ACTIVE_RUN_STATES
        ).values(
            "id",
            "state",
            "revision_id",
            "subject_type",
            "subject_id",
            "current_step",
            "current_iteration",
            "sop__owner_id",
        )
    }
    definitions = _definitions_of({run["revision_id"] for run in runs.values()})
    ended = _waits_ended(runs, definitions, now)
    for run_id, end in ended.items():
        runs[run_id].update(
            state=RunState.RUNNING, current_step=end.target, current_iteration=end.iteration
        )
    # The steps begun together: a person's (a task), and a wait of a duration (a wait for
    # an event first asks the log whether it happened already: step by step).
    specs: dict[int, Any] = {}
    for run_id, run in runs.items():
        spec = definitions[run["revision_id"]].step(run["current_step"])
        if (
            run["state"] == RunState.RUNNING
            and spec is not None
            and (spec.kind in TASK_KINDS or (spec.kind == "wait" and spec.minutes))
        ):
            specs[run_id] = spec
    current: dict[int, RunStep] = {}
    for step in RunStep.objects.filter(run_id__in=list(specs)) if specs else ():
        run = runs[step.run_id]
        if (step.step_key, step.iteration) == (run["current_step"], run["current_iteration"]):
            current[step.run_id] = step
    # A run whose step row is still to make (after a wait, a swept run) or is fresh; a step
    # tried and failed before goes step by step, which counts its attempts.
    to_start = {
        run_id
        for run_id in specs
        if run_id not in current
        or (
            current[run_id].state == StepState.PENDING
            and not current[run_id].attempts
            and current[run_id].task_id is None
        )
    }
    waits = {run_id for run_id in to_start if specs[run_id].kind == "wait"}
    tasks = to_start - waits
    if not ended and not to_start:
        return set()
    customers = _customer_ids(
        {run_id: (runs[run_id]["subject_type"], runs[run_id]["subject_id"]) for run_id in tasks}
    )
    zone = business_get().zone if tasks else UTC

    # Writes. The lease of the runs whose writes below do not prove it themselves, by
    # compare-and-set (on PostgreSQL it also locks the rows): a run taken over or
    # cancelled since it was read loses the whole batch.
    unproven = set(ended) | waits
    if unproven:
        kept = Run.objects.filter(pk__in=unproven, claimed_by=token).update(
            claimed_until=now + LEASE
        )
        if kept != len(unproven):
            raise _LeaseLost
    completed = _waits_end(ended, token, now)
    steps = _steps_made(runs, specs, current, to_start, now)
    waiting = _waits_start({run_id: steps[run_id] for run_id in waits}, specs, now)
    started = _tasks_start(
        runs, specs, {run_id: steps[run_id] for run_id in tasks}, customers, zone, token, now
    )
    return completed | waiting | started


def _waits_end(ended: Mapping[int, _WaitEnd], token: str, now: datetime) -> set[int]:
    """Finish the waits that are over and point each run at its next step, due now (as
    `_finish` and `run_move_after` do); returns the runs that ended with their wait."""
    if not ended:
        return set()
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(now)
    step_table = connection.ops.quote_name(RunStep._meta.db_table)
    run_table = connection.ops.quote_name(Run._meta.db_table)
    with connection.cursor() as cursor:
        # One statement per row, sent at once (bulk_update's CASE cost 4 ms a row to build).
        cursor.executemany(
            f"UPDATE {step_table} SET state = %s, outcome = %s, finished_at = %s,"  # noqa: S608
            " started_at = COALESCE(started_at, %s), error = '' WHERE id = %s",
            [(StepState.DONE.value, end.outcome, at, at, end.step_id) for end in ended.values()],
        )
        moved = [
            (RunState.RUNNING.value, end.target, end.iteration, at, run_id)
            for run_id, end in ended.items()
            if end.target
        ]
        if moved:
            cursor.executemany(
                f"UPDATE {run_table} SET state = %s, current_step = %s,"  # noqa: S608
                " current_iteration = %s, wake_at = %s WHERE id = %s",
                moved,
            )
    completed = {run_id for run_id, end in ended.items() if not end.target}
    Run.objects.filter(pk__in=completed, claimed_by=token).update(
        state=RunState.COMPLETED,
        current_step="",
        finished_at=now,
        wake_at=None,
        claimed_by="",
        claimed_until=None,
    )
    return completed


def _steps_made(
    runs: Mapping[int, dict[str, Any]],
    specs: Mapping[int, Any],
    current: Mapping[int, RunStep],
    to_start: set[int],
    now: datetime,
) -> dict[int, RunStep]:
    """The current step row of each run of `to_start`, made where it is missing (the
    engine inserts only the first steps of event runs; a wait's end points at a new one)."""
    steps = {run_id: current[run_id] for run_id in to_start if run_id in current}
    missing = [run_id for run_id in to_start if run_id not in current]
    if not missing:
        return steps
    RunStep.objects.bulk_create(
        [
            RunStep(
                run_id=run_id,
                step_key=specs[run_id].key,
                iteration=runs[run_id]["current_iteration"],
                kind=specs[run_id].kind,
                created_at=now,
            )
            for run_id in missing
        ],
        ignore_conflicts=True,
    )
    for step in RunStep.objects.filter(run_id__in=missing):
        run = runs[step.run_id]
        if (step.step_key, step.iteration) == (run["current_step"], run["current_iteration"]):
            steps[step.run_id] = step
    return steps


def _waits_start(steps: Mapping[int, RunStep], specs: Mapping[int, Any], now: datetime) -> set[int]:
    """Begin waits of a duration as `_wait_start` does, and release their runs until then."""
    if not steps:
        return set()
    adapt = connection.ops.adapt_datetimefield_value
    until = {run_id: adapt(now + timedelta(minutes=specs[run_id].minutes)) for run_id in steps}
    step_table = connection.ops.quote_name(RunStep._meta.db_table)
    run_table = connection.ops.quote_name(Run._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {step_table} SET state = %s, due_at = %s, started_at = %s"  # noqa: S608
            " WHERE id = %s",
            [
                (StepState.WAITING.value, until[run_id], adapt(now), step.pk)
                for run_id, step in steps.items()
            ],
        )
        cursor.executemany(
            f"UPDATE {run_table} SET state = %s, wake_at = %s, claimed_by = '',"  # noqa: S608
            " claimed_until = NULL WHERE id = %s",
            [(RunState.WAITING.value, until[run_id], run_id) for run_id in steps],
        )
    return set(steps)


def _tasks_start(
    runs: Mapping[int, dict[str, Any]],
    specs: Mapping[int, Any],
    steps: Mapping[int, RunStep],
    customers: Mapping[int, int | None],
    zone: tzinfo,
    token: str,
    now: datetime,
) -> set[int]:
    """Start these task (or checklist) steps with `work.tasks_create_many`, writing the rows
    `_task` writes; returns the runs now waiting for a person."""
    if not steps:
        return set()
    items = {
        run_id: _task_fields(
            runs[run_id],
            specs[run_id],
            step,
            customers[run_id],
            _local_plus(now, specs[run_id].due_in_minutes, zone),
        )
        for run_id, step in steps.items()
    }
    tasks = work_services.tasks_create_many(list(items.values()))
    started: dict[int, tuple[Any, ...]] = {}
    adapt = connection.ops.adapt_datetimefield_value
    for run_id, step in steps.items():
        task = tasks[items[run_id]["idempotency_key"]]
        if task.is_open:  # made earlier and closed since: step by step moves the run on
            started[run_id] = (
                StepState.WAITING.value,
                task.pk,
                adapt(task.due_at),
                adapt(now),
                step.pk,
            )
    table = connection.ops.quote_name(RunStep._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET state = %s, task_id = %s, due_at = %s, started_at = %s,"  # noqa: S608
            " attempts = attempts + 1, error = '' WHERE id = %s",
            list(started.values()),
        )
    # Waiting for the person, and released: nothing more to do with these runs now. The
    # compare-and-set proves the lease of the batch's task runs.
    moved = Run.objects.filter(
        pk__in=list(started), claimed_by=token, state=RunState.RUNNING
    ).update(state=RunState.WAITING, wake_at=None, claimed_by="", claimed_until=None)
    if moved != len(started):
        raise _LeaseLost
    return set(started)


def runs_advance_all(*, now: datetime | None = None, max_rounds: int = 100) -> int:
    """Advance until nothing is due (or `max_rounds` batches): the wake-up and the tick."""
    total = 0
    for _round in range(max_rounds):
        claimed = runs_advance(now=now)
        total += claimed
        if not claimed:
            break
    return total


def runs_next_wake_at(*, now: datetime) -> datetime | None:
    """The earliest moment after `now` at which a run in flight falls due (a wait ends, a
    step's retry is due): the executor's timer is set for it."""
    found: datetime | None = Run.objects.filter(
        state__in=ACTIVE_RUN_STATES, wake_at__gt=now
    ).aggregate(at=Min("wake_at"))["at"]
    return found


def run_advance(*, run_id: int, token: str, now: datetime) -> None:
    """Execute the run's steps until it waits, ends or fails. One run's error stays its own."""
    try:
        for _step in range(MAX_STEPS_PER_PASS):
            try:
                action = _advance_once(run_id, token, now)
                if isinstance(action, WebhookCall):
                    _webhook_call(action)
                    action = _webhook_done(run_id, token, action, now)
            except StepError as exc:
                _step_failed(run_id, token, exc.text, permanent=exc.permanent, now=now)
                break
            except Exception as exc:
                logger.exception("SOP run %s: step failed", run_id)
                _step_failed(
                    run_id, token, f"{type(exc).__name__}: {exc}", permanent=False, now=now
                )
                break
            if action != CONTINUE:
                break
    finally:
        _release(run_id, token)


def _advance_once(run_id: int, token: str, now: datetime) -> Any:
    with transaction.atomic():
        if not _hold(run_id, token, now):
            return None  # the lease ran out and another worker has the run
        run = Run.objects.select_related("sop").get(pk=run_id)
        if run.state not in ACTIVE_RUN_STATES:
            return None
        if not run.current_step:
            _complete(run, now)
            return None
        definition = live.definition_of(run.revision_id)
        spec = definition.step(run.current_step)
        if spec is None:
            raise StepError(
                LaterText(
                    gettext_noop("Step %(key)s is not in revision %(rev)s."),
                    {"key": run.current_step, "rev": run.revision_id},
                ),
                permanent=True,
            )
        step, _created = RunStep.objects.get_or_create(
            run=run,
            step_key=spec.key,
            iteration=run.current_iteration,
            defaults={"kind": spec.kind, "created_at": now},
        )
        if step.state in (StepState.DONE, StepState.SKIPPED):
            run_move_after(run, step, outcome=step.outcome, now=now)
            return CONTINUE
        if step.state in (StepState.FAILED, StepState.CANCELLED):
            return None
        if step.state == StepState.WAITING:
            return _on_wake(run, step, spec, now)
        if step.next_attempt_at and step.next_attempt_at > now:
            Run.objects.filter(pk=run.pk).update(wake_at=step.next_attempt_at)
            return None
        return _execute(run, step, spec, definition, now)


def _finish(
    step: RunStep,
    now: datetime,
    *,
    outcome: str = "done",
    state: str = StepState.DONE,
    **extra: Any,
) -> None:
    RunStep.objects.filter(pk=step.pk).update(
        state=state,
        outcome=outcome,
        finished_at=now,
        started_at=step.started_at or now,
        error="",
        **extra,
    )
    step.state, step.outcome = state, outcome


def _complete(run: Run, now: datetime) -> None:
    Run.objects.filter(pk=run.pk, state__in=ACTIVE_RUN_STATES).update(
        state=RunState.COMPLETED, current_step="", finished_at=now, wake_at=None
    )


def run_move_after(
    run: Run, step: RunStep, *, outcome: str, now: datetime, target: str | None = None
) -> None:
    """Point the run at the step after `step` (or complete it); wake it now."""
    definition = live.definition_of(run.revision_id)
    if target is None:
        spec = definition.step(step.step_key)
        if spec is not None and spec.kind == "branch":
            target = spec.then_step if outcome == "then" else spec.else_step
        elif spec is not None and spec.kind == "wait" and outcome == "timeout" and spec.on_timeout:
            target = spec.on_timeout
        else:
            target = definition.step_after(step.step_key)
    if not target or target == END:
        _complete(run, now)
        return
    iteration = RunStep.objects.filter(run_id=run.pk, step_key=target).count()
    if iteration >= MAX_ITERATIONS:
        run_fail(
            run,
            LaterText(
                gettext_noop("Step %(key)s came round %(n)s times; the SOP loops."),
                {"key": target, "n": MAX_ITERATIONS},
            ),
            now=now,
        )
        return
    Run.objects.filter(pk=run.pk, state__in=ACTIVE_RUN_STATES).update(
        state=RunState.RUNNING, current_step=target, current_iteration=iteration, wake_at=now
    )


def _local_plus(now: datetime, minutes: int, zone: tzinfo | None = None) -> datetime:
    """`minutes` later on the business's wall clock, in UTC (a day is a day across DST)."""
    zone = zone or business_get().zone
    return (now.astimezone(zone) + timedelta(minutes=minutes)).astimezone(UTC)


def _execute(run: Run, step: RunStep, spec: Any, definition: Definition, now: datetime) -> Any:
    kind = spec.kind
    if kind in TASK_KINDS:
        return _task(run, step, spec, now)
    if kind in ("email", "sms"):
        return _message(run, step, spec, now)
    if kind == "set_status":
        return _set_status(run, step, spec, now)
    if kind in ("add_tag", "remove_tag"):
        return _tag(run, step, spec, now)
    if kind == "webhook":
        return _webhook_start(run, step, spec, now)
    if kind == "wait":
        return _wait_start(run, step, spec, now)
    if kind == "branch":
        subject = subjects.SUBJECTS[run.subject_type]
        taken = matching.subject_matches(subject, spec.conditions, run.subject_id, now=now)
        _finish(step, now, outcome="then" if taken else "else")
        run_move_after(run, step, outcome=step.outcome, now=now)
        return CONTINUE
    if kind == "start_sop":
        return _start_sop(run, step, spec, now)
    raise StepError(
        LaterText(gettext_noop("Unknown step kind %(kind)s."), {"kind": kind}), permanent=True
    )


def _task(run: Run, step: RunStep, spec: Any, now: datetime) -> Any:

    assignee = spec.assignee
    due = _local_plus(now, spec.due_in_minutes)
    task = work_services.task_create(
        title=spec.title,
        instructions=spec.instructions,
        checklist_kind=spec.checklist_kind if spec.kind == "checklist" else "",
        checklist=[item.model_dump() for item in spec.items] if spec.kind == "checklist" else (),
        escalate_after_minutes=spec.escalate_after_minutes,
        subject_type=run.subject_type,
        subject_id=run.subject_id,
        customer_id=subject_customer_id(run.subject_type, run.subject_id),
        run_id=run.pk,
        run_step_id=step.pk,
        assignee_user_id=run.sop.owner_id
        if assignee.kind == "sop_owner"
        else (assignee.user_id if assignee.kind == "user" else None),
        assignee_team_id=assignee.team_id if assignee.kind == "team" else None,
        assignee_role=assignee.role if assignee.kind == "role" else "",
        due_at=due,
        priority=spec.priority,
        idempotency_key=step_key(run, step),
    )
    if not task.is_open:  # made earlier and closed since: the step is over
        _finish(step, now, outcome=str(task.state), task_id=task.pk)
        run_move_after(run, step, outcome=step.outcome, now=now)
        return CONTINUE
    RunStep.objects.filter(pk=step.pk).update(
        state=StepState.WAITING,
        task_id=task.pk,
        due_at=due,
        started_at=now,
        attempts=F("attempts") + 1,
        error="",
    )
    Run.objects.filter(pk=run.pk).update(state=RunState.WAITING, wake_at=None)
    return None


def _customer_of(run: Run) -> Any:

    customer_id = subject_customer_id(run.subject_type, run.subject_id)
    if customer_id is None:
        return None
    return Customer.objects.filter(pk=customer_id).prefetch_related("identities").first()


def _message(run: Run, step: RunStep, spec: Any, now: datetime) -> Any:
    """Queue the step's message in the ledger, rendered by the messaging app for this subject."""

    customer = _customer_of(run)
    recipients = (customer.emails if spec.kind == "email" else customer.phones) if customer else []
    if not recipients:
        if spec.if_no_recipient == "fail":
            raise StepError(
                LaterText(
                    gettext_noop("The customer has no %(channel)s to write to."),
                    {"channel": spec.kind},
                ),
                permanent=True,
            )
        _finish(step, now, outcome="no_recipient", state=StepState.SKIPPED)
        run_move_after(run, step, outcome=step.outcome, now=now)
        return CONTINUE
    order_id = run.subject_id if run.subject_type == "order" else None
    extra = {"sop": {"name": run.sop.name}}
    try:
        if spec.template_key:
            text = {"body": "", "subject": "", "body_html": ""}
        else:
            # The same composing as the SOP page's preview of this step (sops.selectors).
            composed = message_compose(
                channel=spec.kind,
                customer_id=customer.pk,
                order_id=order_id,
                recipient=recipients[0],
                subject=spec.subject,
                body=spec.body,
                kind=spec.purpose,
                context=extra,
            )
            text = {"body": composed.body, "subject": composed.subject, "body_html": ""}
        message = message_queue(
            channel=spec.kind,
            recipient=recipients[0],
            customer_id=customer.pk,
            order_id=order_id,
            template_key=spec.template_key,
            kind=spec.purpose,
            context=extra,
            source=f"sop_run:{run.pk}",
            idempotency_key=step_key(run, step),
            **text,
        )
    except DomainError as exc:  # the template or the address: a retry renders the same
        raise StepError(exc.message, permanent=True) from None
    _finish(step, now, message_id=message.pk)
    run_move_after(run, step, outcome="done", now=now)
    return CONTINUE


def _set_status(run: Run, step: RunStep, spec: Any, now: datetime) -> Any:

    current = Order.objects.filter(pk=run.subject_id).values_list("status_id", flat=True).first()
    if current is None:
        raise StepError(LaterText(gettext_noop("The order is gone.")), permanent=True)
    if current != spec.status:
        try:
            order_services.order_change_status(
                order_id=run.subject_id,
                to_status=spec.status,
                actor=None,
                idempotency_key=f"sop:{step_key(run, step)}",
                note=spec.note
                or LaterText(gettext_noop("By SOP %(name)s"), {"name": run.sop.name}),
            )
        except DomainError as exc:  # the pipeline said no: a retry cannot make it legal
            raise StepError(exc.message, permanent=True) from None
    _finish(step, now)
    run_move_after(run, step, outcome="done", now=now)
    return CONTINUE


def _tag(run: Run, step: RunStep, spec: Any, now: datetime) -> Any:

    customer_id = subject_customer_id(run.subject_type, run.subject_id)
    if customer_id is None:
        _finish(step, now, outcome="no_customer", state=StepState.SKIPPED)
    else:
        try:
            if spec.kind == "add_tag":
                customer_services.tag_add(customer_id=customer_id, name=spec.tag, actor=None)
            else:
                customer_services.tag_remove(customer_id=customer_id, name=spec.tag, actor=None)
        except NotFound as exc:
            if exc.field != "tag":  # removing a tag nobody has is done already
                raise StepError(exc.message, permanent=True) from None
        except DomainError as exc:
            raise StepError(exc.message, permanent=True) from None
        _finish(step, now)
    run_move_after(run, step, outcome=step.outcome, now=now)
    return CONTINUE


def _webhook_start(run: Run, step: RunStep, spec: Any, now: datetime) -> WebhookCall:
    RunStep.objects.filter(pk=step.pk).update(
        state=StepState.RUNNING, attempts=F("attempts") + 1, started_at=step.started_at or now
    )
    body = {
        "sop_id": run.sop_id,
        "sop": run.sop.name,
        "run_id": run.pk,
        "step": step.step_key,
        "subject_type": run.subject_type,
        "subject_id": run.subject_id,
        "at": now.isoformat(),
    }
    return WebhookCall(
        step_id=step.pk,
        url=spec.url,
        body=json.dumps(body).encode(),
        key=step_key(run, step),
        timeout=spec.timeout_seconds,
    )


class _WebhookFailed(StepError):
    pass


def _webhook_call(call: WebhookCall) -> None:

    # Signed at each attempt: the timestamp is the attempt's, so a receiver may refuse old replays.
    signature = signing.webhook_headers(call.body, secret=signing.webhook_secret())
    request = urllib.request.Request(  # noqa: S310 (http and https only: validated when saved)
        call.url,
        data=call.body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": call.key,
            "User-Agent": "Procedo",
            **signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=call.timeout) as response:  # noqa: S310
            response.read(1024)
    except urllib.error.HTTPError as exc:
        # 4xx other than timeouts and rate limits: the receiver refuses what we send.
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise _WebhookFailed(
            _("The webhook answered %(code)s.") % {"code": exc.code}, permanent=permanent
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _WebhookFailed(_("The webhook did not answer: %(e)s") % {"e": exc}) from None


def _webhook_done(run_id: int, token: str, call: WebhookCall, now: datetime) -> Any:
    with transaction.atomic():
        if not _hold(run_id, token, now):
            return None
        step = RunStep.objects.select_related("run").filter(pk=call.step_id).first()
        if step is None or step.state != StepState.RUNNING:
            return None
        _finish(step, now, outcome="delivered")
        run_move_after(step.run, step, outcome="delivered", now=now)
        return CONTINUE


def _matching_event_since(run: Run, spec: Any, now: datetime) -> Event | None:
    """An event the wait is for that happened since the run began (it may precede the wait)."""
    since = Q(id__gt=run.event_id) if run.event_id else Q(occurred_at__gte=run.created_at)
    events = list(
        Event.objects.filter(
            since,
            subject_type=run.subject_type,
            subject_id=run.subject_id,
            event_type=spec.event_type,
        ).order_by("id")[:50]
    )
    matched = matching.events_matching(
        subjects.SUBJECTS[run.subject_type], spec.conditions, events, now=now
    )
    return matched[0] if matched else None


def _wait_start(run: Run, step: RunStep, spec: Any, now: datetime) -> Any:
    if spec.minutes:
        until = now + timedelta(minutes=spec.minutes)
        RunStep.objects.filter(pk=step.pk).update(
            state=StepState.WAITING, due_at=until, started_at=now
        )
    else:
        happened = _matching_event_since(run, spec, now)
        if happened is not None:
            _finish(step, now, outcome="event", event_id=happened.id)
            run_move_after(run, step, outcome="event", now=now)
            return CONTINUE
        until = now + timedelta(minutes=spec.timeout_minutes)
        RunStep.objects.filter(pk=step.pk).update(
            state=StepState.WAITING, due_at=until, started_at=now, wait_event_type=spec.event_type
        )
    Run.objects.filter(pk=run.pk).update(state=RunState.WAITING, wake_at=until)
    return None


def _on_wake(run: Run, step: RunStep, spec: Any, now: datetime) -> Any:
    if spec.kind != "wait":
        # A person's step: the task's closing moves the run, not the clock.
        Run.objects.filter(pk=run.pk).update(state=RunState.WAITING, wake_at=None)
        return None
    if step.outcome == "event":
        _finish(step, now, outcome="event")
        run_move_after(run, step, outcome="event", now=now)
        return CONTINUE
    if step.due_at and now >= step.due_at:
        if spec.event_type:
            # The consumer may not have read the event yet: the log decides, not the race.
            happened = _matching_event_since(run, spec, now)
            if happened is not None:
                _finish(step, now, outcome="event", event_id=happened.id)
                run_move_after(run, step, outcome="event", now=now)
                return CONTINUE
            _finish(step, now, outcome="timeout")
            run_move_after(run, step, outcome="timeout", now=now)
            return CONTINUE
        _finish(step, now, outcome="elapsed")
        run_move_after(run, step, outcome="elapsed", now=now)
        return CONTINUE
    Run.objects.filter(pk=run.pk).update(state=RunState.WAITING, wake_at=step.due_at)
    return None


def _start_sop(run: Run, step: RunStep, spec: Any, now: datetime) -> Any:

    if run.depth + 1 > 5:
        raise StepError(
            LaterText(gettext_noop("SOPs started each other too deep (5 levels).")), permanent=True
        )
    target = next((sop for sop in live.live_sops() if sop.id == spec.sop_id), None)
    if target is None:
        raise StepError(
            LaterText(
                gettext_noop("SOP %(id)s has no published revision to start."), {"id": spec.sop_id}
            ),
            permanent=True,
        )
    subject_id: int | None = run.subject_id
    if target.subject_type != run.subject_type:
        subject_id = subject_customer_id(run.subject_type, run.subject_id)
    if subject_id is None:
        _finish(step, now, outcome="no_customer", state=StepState.SKIPPED)
    else:
        revision = target.revision_for(subject_id, None)
        if revision is None:
            raise StepError(
                LaterText(gettext_noop("SOP %(id)s has nothing to run."), {"id": spec.sop_id}),
                permanent=True,
            )
        runs_insert(
            [
                new_run_for(
                    target,
                    revision,
                    subject_id=subject_id,
                    occurrence_key=f"run:{run.pk}:{step.step_key}:{step.iteration}",
                    trigger_key=step.step_key,
                    trigger_kind=TriggerKind.START_SOP,
                    parent_run_id=run.pk,
                    depth=run.depth + 1,
                )
            ],
            now=now,
        )
        _finish(step, now, outcome="started")
    run_move_after(run, step, outcome=step.outcome, now=now)
    return CONTINUE


def _step_failed(
    run_id: int, token: str, message: str | LaterText, *, permanent: bool, now: datetime
) -> None:
    """Count the attempt: retry later with backoff, or fail the run and tell its owner."""
    error, error_text = text_for_storing(message)
    with transaction.atomic():
        if not _hold(run_id, token, now):
            return
        run = Run.objects.select_related("sop").get(pk=run_id)
        if run.state not in ACTIVE_RUN_STATES or not run.current_step:
            return
        spec = live.definition_of(run.revision_id).step(run.current_step)
        step, _created = RunStep.objects.get_or_create(
            run=run,
            step_key=run.current_step,
            iteration=run.current_iteration,
            defaults={"kind": spec.kind if spec else "", "created_at": now},
        )
        # A webhook counted its attempt when it began; the others count it here.
        attempts = step.attempts if step.kind == "webhook" else step.attempts + 1
        if permanent or attempts >= MAX_ATTEMPTS:
            RunStep.objects.filter(pk=step.pk).update(
                state=StepState.FAILED,
                attempts=attempts,
                error=error,
                error_text=error_text,
                finished_at=now,
            )
            run_fail(
                run,
                LaterText(
                    gettext_noop("Step “%(title)s” failed after %(n)s attempt(s): %(error)s"),
                    {
                        "title": spec.title if spec else step.step_key,
                        "n": attempts,
                        "error": message,
                    },
                ),
                now=now,
            )
            return
        retry_at = now + BACKOFF[attempts - 1]
        RunStep.objects.filter(pk=step.pk).update(
            state=StepState.PENDING,
            attempts=attempts,
            error=error,
            error_text=error_text,
            next_attempt_at=retry_at,
        )
        Run.objects.filter(pk=run.pk).update(state=RunState.RUNNING, wake_at=retry_at)


def run_fail(run: Run, message: str | LaterText, *, now: datetime) -> None:
    """End the run as failed, cancel its open tasks, and give the SOP's owner a task about it."""

    error, error_text = text_for_storing(message)
    changed = Run.objects.filter(pk=run.pk, state__in=ACTIVE_RUN_STATES).update(
        state=RunState.FAILED, error=error, error_text=error_text, finished_at=now, wake_at=None
    )
    if not changed:
        return
    open_steps = list(
        RunStep.objects.filter(
            run_id=run.pk, state__in=(StepState.PENDING, StepState.RUNNING, StepState.WAITING)
        ).values_list("id", flat=True)
    )
    RunStep.objects.filter(pk__in=open_steps).update(state=StepState.CANCELLED, finished_at=now)
    work_services.tasks_cancel_for_run_steps(run_step_ids=open_steps, reason=message)
    customer_id = subject_customer_id(run.subject_type, run.subject_id)
    work_services.task_create(
        title=_("SOP “%(sop)s” failed on %(subject)s %(id)s")
        % {
            "sop": run.sop.name,
            "subject": _subject_noun(run.subject_type),
            "id": Names([run]).name(run.subject_type, run.subject_id) or run.subject_id,
        },
        instructions=error,
        subject_type=run.subject_type,
        subject_id=run.subject_id,
        customer_id=customer_id,
        run_id=run.pk,
        assignee_user_id=run.sop.owner_id,
        due_at=_local_plus(now, 24 * 60),
        priority="high",
        idempotency_key=f"run:{run.pk}:failed",
    )
    event_record(
        event_type="sop_run.failed",
        subject_type="sop_run",
        subject_id=run.pk,
        customer_id=customer_id,
        payload={
            "sop_id": run.sop_id,
            "sop": run.sop.name,
            "step": run.current_step,
            "error": error,
            **({"error_text": error_text} if error_text else {}),
        },
    )


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


def _subject_noun(subject_type: str) -> str:
    """ "Order", "Customer": what a run is on, in words (the code if unknown)."""
    subject = subjects.subject_get(subject_type)
    return str(subject.label) if subject is not None else subject_type
