"""Runs as rows: inserting them set-wise (one per SOP, subject and occurrence), cancelling,
moving them with a merged customer.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.automation.models import (
    ACTIVE_RUN_STATES,
    Run,
    RunState,
    RunStep,
    StepState,
)
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, NotFound
from procedo.core.texts import LaterText, text_for_storing
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.sops import live, subjects
from procedo.work.services import lifecycle as work_services

logger = logging.getLogger(__name__)


CHUNK = 400


MAX_DEPTH = 5


# The columns every raw INSERT of runs writes, in this order: runs_insert below
# (multi-row VALUES) and the sweeps' INSERT … SELECT (services/sweeps.py) both
# build their statements from this one list. A column with SQL beside it holds
# that constant in every row (formatted in, not bound per row); the others are
# bound per row here and selected per subject by a sweep. Columns left out
# (claimed_until) start NULL.
RUN_COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("sop_id", None),
    ("revision_id", None),
    ("subject_type", None),
    ("subject_id", None),
    ("occurrence_key", None),
    ("trigger_key", None),
    ("trigger_kind", None),
    ("event_id", None),
    ("state", None),
    ("pilot", None),
    ("current_step", None),
    ("current_iteration", "0"),
    ("wake_at", None),
    ("claimed_by", "''"),
    ("started_by_id", None),
    ("parent_run_id", None),
    ("depth", None),
    ("error", "''"),
    ("created_at", None),
    ("finished_at", None),
)
_RUN_BOUND = tuple(name for name, constant in RUN_COLUMNS if constant is None)
_RUN_CONSTANTS = tuple((name, constant) for name, constant in RUN_COLUMNS if constant is not None)
# The unique occurrence of a run, the one conflict a raw insert skips.
RUN_OCCURRENCE = ("subject_type", "subject_id", "sop_id", "occurrence_key")


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
            params.extend(  # in the order of _RUN_BOUND
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
            _RUN_BOUND,
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
    *, run_ids: Sequence[int], reason: str | LaterText, actor: Actor, now: datetime | None = None
) -> int:
    """Cancel runs in flight, their open steps and tasks; records one event per run."""

    now = now or timezone.now()
    written, stored = text_for_storing(reason)
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
        error=written,
        error_text=stored,
        claimed_by="",
        claimed_until=None,
    )
    open_steps = list(
        RunStep.objects.filter(
            run_id__in=ids, state__in=(StepState.PENDING, StepState.RUNNING, StepState.WAITING)
        ).values_list("id", flat=True)
    )
    RunStep.objects.filter(pk__in=open_steps).update(
        state=StepState.CANCELLED, finished_at=now, error=written, error_text=stored
    )
    work_services.tasks_cancel_for_run_steps(run_step_ids=open_steps, reason=reason)
    actor_id = actor_id_of(actor)
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
                "reason": written,
                **({"reason_text": stored} if stored else {}),
            },
        )
        for run_id, sop_id, subject_type, subject_id in active
    )
    return changed


@transaction.atomic
def run_cancel(*, run_id: int, actor: Actor, reason: str = "") -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(field="run_id", message=_("No run %(id)s.") % {"id": run_id})
    if run.state not in ACTIVE_RUN_STATES:
        raise Conflict(
            field="state",
            message=_("This run is %(state)s already.") % {"state": run.get_state_display()},
        )
    runs_cancel(
        run_ids=[run.pk],
        reason=reason.strip() or LaterText(gettext_noop("Cancelled by a person.")),
        actor=actor,
    )
    run.refresh_from_db()
    return run


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
