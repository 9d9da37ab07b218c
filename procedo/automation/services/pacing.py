"""Pacing: subjects over an SOP's pace wait in a queue of rows and start as capacity frees up.

A paced SOP's date sweeps (and its backlog) queue their due subjects instead of
starting them: one INSERT … SELECT into `QueuedStart`, skipping subjects whose
run for that occurrence exists. Every minute the queue drains by the pace: one
INSERT INTO runs SELECT … FROM the queue ORDER BY mark_at, id LIMIT <capacity>,
then the same rows are deleted, in one transaction. The holdout and pilot
hashes are columns of that SELECT, as in a sweep, so a queued subject is held
out or piloted exactly as if it had started at once.

Capacity is the pace minus the swept runs of the SOP started within the last
hour or day (held-out ones count: they are starts too); per assignee, the pace
is multiplied by the people the first task step may go to. Event-started runs
are not paced: they answer what someone just did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.db.models import F

from procedo.accounts.models import Team, User
from procedo.automation.models import QueuedStart, Run, RunState, TriggerKind
from procedo.automation.services.runs import RUN_COLUMNS, RUN_OCCURRENCE
from procedo.sops import live
from procedo.sops.models import PacePeriod

PERIODS = {PacePeriod.HOUR.value: timedelta(hours=1), PacePeriod.DAY.value: timedelta(days=1)}

Sql = tuple[str, list[Any]]


def _quote(name: str) -> str:
    return str(connection.ops.quote_name(name))


def queue_insert_select(
    *,
    sop: live.LiveSop,
    trigger: Any,
    queryset: models.QuerySet[Any],
    occurrence: Any,
    mark: Any,
    now: datetime,
) -> int:
    """Queue the subjects of `queryset` not started for this occurrence yet; returns rows queued."""
    subjects_sql, subjects_params = (
        queryset.order_by()
        .annotate(c_subject=F("pk"), c_occurrence=occurrence, c_mark=mark)
        .values("c_subject", "c_occurrence", "c_mark")
        .query.sql_with_params()
    )
    run, queue = _quote(Run._meta.db_table), _quote(QueuedStart._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    # Only quoted names and placeholders are formatted in. The NOT EXISTS probes the run's
    # unique index: a subject whose run started (or was started by a sweep before the pace
    # was set) is not queued again.
    statement = (
        f"INSERT INTO {queue} (sop_id, subject_type, subject_id, occurrence_key,"  # noqa: S608
        " trigger_key, mark_at, queued_at)"
        f" SELECT %s, %s, src.c_subject, src.c_occurrence, %s, src.c_mark, %s"
        f" FROM ({subjects_sql}) AS src WHERE NOT EXISTS (SELECT 1 FROM {run} r"
        " WHERE r.subject_type = %s AND r.subject_id = src.c_subject AND r.sop_id = %s"
        " AND r.occurrence_key = src.c_occurrence)"
        " ON CONFLICT (sop_id, subject_type, subject_id, occurrence_key) DO NOTHING"
    )
    params = [sop.id, sop.subject_type, trigger.key, at, *subjects_params]
    params += [sop.subject_type, sop.id]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return max(cursor.rowcount, 0)


def _assignees(sop: live.LiveSop) -> int:
    """How many active people the published revision's first task step may go to (at least 1)."""
    revision = sop.published or sop.pilot
    steps = revision.definition.steps if revision is not None else []
    assignee = getattr(steps[0], "assignee", None) if steps else None
    if assignee is None:
        return 1
    people = User.objects.filter(is_active=True)
    if assignee.kind == "role":
        return max(people.filter(role=assignee.role).count(), 1)
    if assignee.kind == "team":
        team = Team.objects.filter(pk=assignee.team_id).first()
        return max(team.members.filter(is_active=True).count(), 1) if team else 1
    return 1


def pace_of(sop: live.LiveSop) -> int | None:
    """Swept starts allowed per period (None: no pace)."""
    if sop.pace_limit is None:
        return None
    return sop.pace_limit * (_assignees(sop) if sop.pace_per_assignee else 1)


def started_within(sop_id: int, *, period: timedelta, now: datetime) -> int:
    return Run.objects.filter(
        sop_id=sop_id, trigger_kind=TriggerKind.DATE, created_at__gt=now - period
    ).count()


def capacity(sop: live.LiveSop, *, now: datetime) -> int | None:
    """How many queued subjects may start now (None: all of them)."""
    pace = pace_of(sop)
    if pace is None:
        return None
    period = PERIODS[sop.pace_period]
    return max(pace - started_within(sop.id, period=period, now=now), 0)


def _choose(choices: list[tuple[str | None, Sql]]) -> Sql:
    """CASE WHEN … over (condition or None for the rest, value) pairs, as one SQL value."""
    if len(choices) == 1:
        return choices[0][1]
    sql, params = "CASE", []
    for condition, (value, bound) in choices:
        if condition is None:
            sql += f" ELSE {value}"
        else:
            sql += f" WHEN {condition} THEN {value}"
        params += bound
    return sql + " END", params


def queue_drain(sop: live.LiveSop, *, now: datetime) -> int:
    """Start the oldest queued subjects the pace allows now; returns runs started."""
    limit = capacity(sop, now=now)
    if limit == 0:
        return 0
    pilot, published = sop.pilot, sop.published
    pilot_share = pilot.pilot_percent if pilot is not None else None
    in_pilot = (
        live.bucket_sql("q.subject_id", live.salt(sop.id, "pilot")) + f" < {int(pilot_share)}"
        if pilot_share
        else None
    )
    # Which revision each queued subject gets: the pilot's share, the published for the rest.
    revisions: list[tuple[str | None, live.LiveRevision]] = []
    where = ""
    if in_pilot and pilot is not None:
        revisions.append((in_pilot, pilot))
    if published is not None:
        revisions.append((None, published))
    elif in_pilot:
        where = f" AND {in_pilot}"  # no published revision: only the pilot's share starts
    if not revisions:
        return 0
    last = revisions[-1]
    revisions[-1] = (None, last[1])
    held = (
        live.bucket_sql("q.subject_id", live.salt(sop.id, "holdout"))
        + f" < {int(sop.holdout_percent)}"
        if sop.holdout_percent
        else None
    )
    at = connection.ops.adapt_datetimefield_value(now)

    def per_revision(value: Any) -> Sql:
        return _choose([(condition, value(revision)) for condition, revision in revisions])

    def unless_held(first: str, value: Sql, if_held: Sql, no_step: Sql) -> Sql:
        if not first:
            return no_step
        if held is None:
            return value
        return _choose([(held, if_held), (None, value)])

    values: dict[str, Sql] = {
        "sop_id": ("%s", [sop.id]),
        "revision_id": per_revision(lambda r: ("%s", [r.id])),
        "subject_type": ("%s", [sop.subject_type]),
        "subject_id": ("q.subject_id", []),
        "occurrence_key": ("q.occurrence_key", []),
        "trigger_key": ("q.trigger_key", []),
        "trigger_kind": ("%s", [TriggerKind.DATE.value]),
        "event_id": ("NULL", []),
        "state": per_revision(
            lambda r: unless_held(
                r.first_step[0],
                ("%s", [RunState.RUNNING.value]),
                ("%s", [RunState.HELD_OUT.value]),
                ("%s", [RunState.COMPLETED.value]),
            )
        ),
        "pilot": per_revision(lambda r: ("%s", [r.state == "pilot"])),
        "current_step": per_revision(
            lambda r: unless_held(
                r.first_step[0], ("%s", [r.first_step[0]]), ("''", []), ("''", [])
            )
        ),
        "wake_at": per_revision(
            lambda r: unless_held(r.first_step[0], ("%s", [at]), ("NULL", []), ("NULL", []))
        ),
        "started_by_id": ("NULL", []),
        "parent_run_id": ("NULL", []),
        "depth": ("0", []),
        "created_at": ("%s", [at]),
        "finished_at": per_revision(
            lambda r: unless_held(r.first_step[0], ("NULL", []), ("%s", [at]), ("%s", [at]))
        ),
    }
    selected: list[str] = []
    params: list[Any] = []
    for column, constant in RUN_COLUMNS:
        sql, bound = (constant, []) if constant is not None else values[column]
        selected.append(sql)
        params.extend(bound)
    run, queue = _quote(Run._meta.db_table), _quote(QueuedStart._meta.db_table)
    # The batch: the oldest marks first, ties by when they were queued.
    batch = f"SELECT id FROM {queue} q WHERE q.sop_id = %s{where} ORDER BY q.mark_at, q.id"  # noqa: S608
    batch_params: list[Any] = [sop.id]
    if limit is not None:
        batch += " LIMIT %s"
        batch_params.append(limit)
    # Only quoted names, integer constants and placeholders are formatted in.
    insert = (
        f"INSERT INTO {run} ({', '.join(column for column, _c in RUN_COLUMNS)})"  # noqa: S608
        f" SELECT {', '.join(selected)} FROM {queue} q WHERE q.id IN ({batch})"
        f" ON CONFLICT ({', '.join(RUN_OCCURRENCE)}) DO NOTHING"
    )
    delete = f"DELETE FROM {queue} WHERE id IN (SELECT id FROM ({batch}) AS b)"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(insert, [*params, *batch_params])
        started = max(cursor.rowcount, 0)
        cursor.execute(delete, batch_params)
    return started


@dataclass(frozen=True)
class QueueState:
    """What the SOP page shows of the queue."""

    waiting: int
    pace: int | None  # starts per period (per assignee already multiplied); None: no pace
    period: str
    period_label: str
    free_now: int | None  # starts the pace still allows in the current period
    drained_by: datetime | None  # when the last waiting subject will have started (about)
    first: list[QueuedStart]  # the next to start, in order


def queue_state(sop: live.LiveSop | None, *, sop_id: int, now: datetime, limit: int = 10) -> Any:
    """The queue of an SOP: how many wait, the next ones, and when it will be drained."""
    rows = QueuedStart.objects.filter(sop_id=sop_id)
    waiting = rows.count()
    first = list(rows.order_by("mark_at", "id")[:limit])
    pace = pace_of(sop) if sop is not None else None
    period_name = sop.pace_period if sop is not None else PacePeriod.HOUR.value
    free = capacity(sop, now=now) if sop is not None else None
    drained_by: datetime | None = None
    if waiting and sop is not None:
        if pace is None or (free is not None and waiting <= free):
            drained_by = now + timedelta(minutes=1)  # the next minute's sweep starts them all
        else:
            # Each period frees a whole pace again: the rest take ceil(rest / pace) periods.
            rest = waiting - (free or 0)
            drained_by = now + PERIODS[period_name] * math.ceil(rest / pace)
    label = str(PacePeriod(period_name).label)
    return QueueState(waiting, pace, period_name, label, free, drained_by, first)


def live_sop(sop_id: int) -> live.LiveSop | None:
    return next((sop for sop in live.live_sops() if sop.id == sop_id), None)
