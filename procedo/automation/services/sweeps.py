"""Time-based triggers: one INSERT … SELECT per trigger, whatever the number of subjects.

A date trigger ("30 days after delivered_at") is due for a subject once its
date plus the offset, on the business's wall clock, has passed. The sweep
inserts a run for every subject due within the trigger's catch-up window,
with the occurrence "<trigger>@<epoch of the date>": a second sweep (the next
minute, a second worker, a clock set back) finds each occurrence started and
inserts nothing, and a sweep after days of downtime reaches every subject that
fell due meanwhile, once. A schedule ("every Monday 09:00") starts the latest
slot not started yet, at most `catch_up_days` old and never one from before
the revision went live.

Pilot and holdout groups are the same stable hash as for events (live.Bucket),
computed in the SELECT; first steps are made by the executor as it reaches
each run.

A date trigger keeps a mark (`SweepMark`): the upper end of the window it last
swept. The minute's sweep reads only dates from `MARK_OVERLAP` before the mark
on (through an index on the date, a few rows instead of the whole window), and
the whole catch-up window is swept again at least every `FULL_EVERY`, on the
first sweep of a revision and whenever the clock went back: a subject whose
date was written late or that came to match its conditions after falling due
is still reached, within the hour. The mark is a shortcut only; the unique
occurrence keeps each subject to one run whatever the marks say.

Dates written late are seen within the minute: the events that may write a
trigger's date (`DATE_WRITERS`: a delivery recorded days later, an imported
order) make the next minute's sweep a whole-window one; the mark keeps the last
event id looked at. The hourly whole-window sweep stays the safety net (an
event whose transaction commits after a later id was read is left to it).

The backlog: a revision whose publisher chose "start for them too" has each
date trigger swept once more without the window's lower end, once per choice
(`Revision.backlog_at`, kept on the mark). A paced SOP (see pacing) queues its
due subjects instead of starting them; the queue drains by the pace.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from procedo.automation.models import QueuedStart, Run, RunState, SweepMark, TriggerKind
from procedo.automation.services import pacing
from procedo.automation.services.runs import (
    RUN_COLUMNS,
    RUN_OCCURRENCE,
    new_run_for,
    runs_insert,
)
from procedo.business.selectors import business_get
from procedo.events.models import Event
from procedo.sops import live, matching, subjects
from procedo.sops.matching import date_window

logger = logging.getLogger(__name__)

# Longer than any transaction that writes a date (PostgreSQL shows it at commit).
MARK_OVERLAP = timedelta(hours=1)
FULL_EVERY = timedelta(hours=1)
# A mark is written again only when it moved this far (or after a full sweep): the
# minute's sweep then costs no write at all, and reads at most this much more.
MARK_STEP = timedelta(minutes=10)

# (subject, date field) → the events that may write that date after the fact, so that
# the next minute's sweep looks at the whole window. A field not listed is reached
# late by the hourly sweep only.
_ORDER_MOVES = ("order.status_changed", "shipment.status_changed", "order.imported")
_LAST_ORDER = ("order.created", "order.imported", "order.status_changed", "customer.merged")
DATE_WRITERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("order", "confirmed_at"): _ORDER_MOVES,
    ("order", "shipped_at"): _ORDER_MOVES,
    ("order", "delivered_at"): _ORDER_MOVES,
    ("order", "cancelled_at"): _ORDER_MOVES,
    ("order", "paid_at"): ("order.paid", "payment.recorded", "order.imported"),
    ("order", "placed_at"): ("order.imported",),
    ("order", "customer.last_order_at"): _LAST_ORDER,
    ("customer", "last_order_at"): _LAST_ORDER,
    ("customer", "first_order_at"): _LAST_ORDER,
}


class EpochText(models.Func):
    """Whole seconds since 1970 of a timestamp, as text: the same key on SQLite and PostgreSQL."""

    output_field = models.CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"strftime('%%s', {sql})", params

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(FLOOR(EXTRACT(EPOCH FROM {sql}))::bigint)::text", params


def epoch(moment: datetime) -> int:
    return int(moment.timestamp() // 1)


def _share(sop: live.LiveSop, revision: live.LiveRevision) -> Q | None:
    """Which subjects this revision runs for in a sweep: None all, else a Q on `_pilot`.

    A time-based run has no person behind it, so a team's pilot gets none;
    a percentage pilot gets its share and the published revision the rest.
    """
    pilot = sop.pilot
    percent = pilot.pilot_percent if pilot is not None else None
    if pilot is not None and revision.id == pilot.id:
        return Q(_pilot__lt=percent) if percent else Q(pk__in=[])
    return Q(_pilot__gte=percent) if percent else None


def _insert_select(
    *,
    sop: live.LiveSop,
    revision: live.LiveRevision,
    trigger: Any,
    queryset: models.QuerySet[Any],
    occurrence: Any,
    now: datetime,
) -> int:
    """INSERT INTO run SELECT … FROM the subjects ON CONFLICT DO NOTHING; returns rows inserted.

    The ORM writes only the subjects' part (their filter, the occurrence, the
    holdout bucket); the run's own values are constants of the outer SELECT,
    bound once instead of being columns the subquery computes for every row.
    The conflict names the run's occurrence, so the primary key (a fresh id)
    is not probed for every row as well.
    """
    share = _share(sop, revision)
    if share is not None:
        queryset = queryset.annotate(_pilot=live.Bucket(F("pk"), live.salt(sop.id, "pilot")))
        queryset = queryset.filter(share)
    per_subject: dict[str, Any] = {"c_subject": F("pk"), "c_occurrence": occurrence}
    if sop.holdout_percent:
        per_subject["c_held"] = live.Bucket(F("pk"), live.salt(sop.id, "holdout"))
    subjects_sql, subjects_params = (
        queryset.order_by().annotate(**per_subject).values(*per_subject).query.sql_with_params()
    )
    at = connection.ops.adapt_datetimefield_value(now)
    # (SQL, parameters) of each column; a held-out subject's run is recorded, with no step.
    held = f"src.c_held < {int(sop.holdout_percent)}" if sop.holdout_percent else ""

    def unless_held(value: tuple[str, list[Any]], if_held: tuple[str, list[Any]]) -> Any:
        if not held:
            return value
        return (
            f"CASE WHEN {held} THEN {if_held[0]} ELSE {value[0]} END",
            [*if_held[1], *value[1]],
        )

    first = revision.definition.first_step_key()
    if first:
        state = unless_held(("%s", [RunState.RUNNING.value]), ("%s", [RunState.HELD_OUT.value]))
        step = unless_held(("%s", [first]), ("''", []))
        wake = unless_held(("%s", [at]), ("NULL", []))
        finished = unless_held(("NULL", []), ("%s", [at]))
    else:
        state, step, wake, finished = (
            ("%s", [RunState.COMPLETED.value]),
            ("''", []),
            ("NULL", []),
            ("%s", [at]),
        )
    values: dict[str, tuple[str, list[Any]]] = {
        "sop_id": ("%s", [sop.id]),
        "revision_id": ("%s", [revision.id]),
        "subject_type": ("%s", [sop.subject_type]),
        "subject_id": ("src.c_subject", []),
        "occurrence_key": ("src.c_occurrence", []),
        "trigger_key": ("%s", [trigger.key]),
        "trigger_kind": ("%s", [trigger.kind]),
        "event_id": ("NULL", []),
        "state": state,
        "pilot": ("%s", [revision.state == "pilot"]),
        "current_step": step,
        "wake_at": wake,
        "started_by_id": ("NULL", []),
        "parent_run_id": ("NULL", []),
        "depth": ("0", []),
        "created_at": ("%s", [at]),
        "finished_at": finished,
    }
    selected: list[str] = []
    params: list[Any] = []
    for column, constant in RUN_COLUMNS:
        sql, bound = (constant, []) if constant is not None else values[column]
        selected.append(sql)
        params.extend(bound)
    quote = connection.ops.quote_name
    # Only quoted names, constants and placeholders are formatted in. SQLite needs the
    # WHERE to read "ON CONFLICT" as the upsert, not as part of the SELECT's join.
    statement = (
        f"INSERT INTO {quote(Run._meta.db_table)}"  # noqa: S608
        f" ({', '.join(column for column, _constant in RUN_COLUMNS)})"
        f" SELECT {', '.join(selected)} FROM ({subjects_sql}) AS src WHERE true"
        f" ON CONFLICT ({', '.join(RUN_OCCURRENCE)}) DO NOTHING"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [*params, *subjects_params])
        return max(cursor.rowcount, 0)


def _full_due(mark: SweepMark | None, now: datetime) -> bool:
    """Sweep the whole catch-up window: never swept, an hour since, or the clock went back."""
    return mark is None or now < mark.full_at or now - mark.full_at >= FULL_EVERY


def _written_late(mark: SweepMark | None, writers: tuple[str, ...], head: int) -> bool:
    """Did an event that may write this trigger's date arrive since the mark looked?"""
    if mark is None or not writers or mark.event_cursor >= head:
        return False
    return Event.objects.filter(
        pk__gt=mark.event_cursor, pk__lte=head, event_type__in=writers
    ).exists()


def sweep_date(
    sop: live.LiveSop,
    revision: live.LiveRevision,
    trigger: Any,
    *,
    now: datetime,
    zone: ZoneInfo,
    mark: SweepMark | None = None,
    head: int = 0,
) -> tuple[int, SweepMark | None]:
    """Start (or, paced, queue) the due subjects of a date trigger.

    Returns (runs started, a mark to write or None). `head`
    is the newest event id when the sweep began (dates written late).
    """
    subject = subjects.SUBJECTS[sop.subject_type]
    spec = subject.fields[trigger.field]
    writers = DATE_WRITERS.get((sop.subject_type, trigger.field), ())
    after: datetime | None
    after, until = date_window(
        now=now, zone=zone, offset_days=trigger.offset_days, catch_up_days=trigger.catch_up_days
    )
    backlog = (
        revision.backlog == "start"
        and revision.backlog_at is not None
        and (mark is None or mark.backlog_at != revision.backlog_at)
    )
    full = _full_due(mark, now) or backlog or _written_late(mark, writers, head)
    if not full and mark is not None:
        after = max(after, mark.swept_until - MARK_OVERLAP)
    if backlog:
        after = None  # every subject past the mark, however long ago
    new_mark: SweepMark | None = None
    cursor = max(head, mark.event_cursor) if mark is not None and writers else head
    if (
        full
        or mark is None
        or abs(until - mark.swept_until) >= MARK_STEP
        or (writers and cursor != mark.event_cursor)
    ):
        new_mark = SweepMark(
            revision_id=revision.id,
            trigger_key=trigger.key,
            swept_until=until,
            full_at=now if full or mark is None else mark.full_at,
            backlog_at=revision.backlog_at if backlog else (mark.backlog_at if mark else None),
            event_cursor=cursor,
        )
    if after is not None and after >= until:
        return 0, new_mark
    window = {f"{spec.lookup}__lte": until}
    if after is not None:
        window[f"{spec.lookup}__gt"] = after
    queryset = subject.queryset().filter(**window)
    condition = matching.conditions_q(subject, trigger.conditions, now=now)
    if condition is not None:
        queryset = queryset.filter(condition)
    occurrence = Concat(Value(f"{trigger.key}@"), EpochText(F(spec.lookup)))
    if sop.pace_limit is not None:
        share = _share(sop, revision)
        if share is not None:
            queryset = queryset.annotate(
                _pilot=live.Bucket(F("pk"), live.salt(sop.id, "pilot"))
            ).filter(share)
        # Queued, not started: the drain after the sweeps starts what the pace allows.
        pacing.queue_insert_select(
            sop=sop,
            trigger=trigger,
            queryset=queryset,
            occurrence=occurrence,
            mark=F(spec.lookup),
            now=now,
        )
        return 0, new_mark
    started = _insert_select(
        sop=sop,
        revision=revision,
        trigger=trigger,
        queryset=queryset,
        occurrence=occurrence,
        now=now,
    )
    return started, new_mark


def _slot_on(day: date, trigger: Any, zone: ZoneInfo) -> datetime | None:
    if trigger.every == "week" and day.weekday() not in trigger.weekdays:
        return None
    if trigger.every == "month" and day.day != trigger.day_of_month:
        return None
    hour, minute = (int(part) for part in trigger.time.split(":"))
    # A time the clock skips (spring forward) resolves to the hour after; one it
    # repeats (fall back) to its first pass: either way one instant, one slot.
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def latest_slot(
    trigger: Any, *, now: datetime, zone: ZoneInfo, not_before: datetime | None
) -> datetime | None:
    """The latest slot at or before `now`, within the catch-up window and since `not_before`."""
    today = now.astimezone(zone).date()
    earliest = now - timedelta(days=trigger.catch_up_days)
    if not_before is not None:
        earliest = max(earliest, not_before)
    for back in range(trigger.catch_up_days + 1):
        slot = _slot_on(today - timedelta(days=back), trigger, zone)
        if slot is not None and earliest <= slot <= now:
            return slot
    return None


def sweep_schedule(
    sop: live.LiveSop, revision: live.LiveRevision, trigger: Any, *, now: datetime, zone: ZoneInfo
) -> int:
    slot = latest_slot(trigger, now=now, zone=zone, not_before=revision.live_since)
    if slot is None:
        return 0
    occurrence = f"{trigger.key}@{epoch(slot)}"
    subject = subjects.SUBJECTS[sop.subject_type]
    if subject.name == "business":
        if sop.revision_for(1, None) is not revision:
            return 0
        with transaction.atomic():
            return len(
                runs_insert(
                    [
                        new_run_for(
                            sop,
                            revision,
                            subject_id=1,
                            occurrence_key=occurrence,
                            trigger_key=trigger.key,
                            trigger_kind=TriggerKind.SCHEDULE,
                        )
                    ],
                    now=now,
                )
            )
    queryset = subject.queryset()
    condition = matching.conditions_q(subject, trigger.conditions, now=now)
    if condition is not None:
        queryset = queryset.filter(condition)
    return _insert_select(
        sop=sop,
        revision=revision,
        trigger=trigger,
        queryset=queryset,
        occurrence=Value(occurrence),
        now=now,
    )


def _head_and_leftover(unpaced: list[int]) -> tuple[int, int | None]:
    """The newest event id, and one SOP without a pace that still has subjects queued (its
    pace was lifted: the queue drains whole, one such SOP a minute), in one query."""
    events = connection.ops.quote_name(Event._meta.db_table)
    queue = connection.ops.quote_name(QueuedStart._meta.db_table)
    leftover = "NULL"
    if unpaced:
        marks = ", ".join(["%s"] * len(unpaced))
        leftover = f"(SELECT sop_id FROM {queue} WHERE sop_id IN ({marks}) LIMIT 1)"  # noqa: S608
    with connection.cursor() as cursor:
        # Only quoted names and placeholders are formatted in.
        cursor.execute(f"SELECT (SELECT MAX(id) FROM {events}), {leftover}", unpaced)  # noqa: S608
        row = cursor.fetchone()
    return int(row[0] or 0), row[1]


def sweeps_run(*, now: datetime | None = None) -> int:
    """Every date and schedule trigger of every live revision; returns runs started."""
    now = now or timezone.now()
    zone = business_get().zone
    started = 0
    sops = live.live_sops()
    dated = [
        r.id for s in sops for r in s.revisions for t in r.definition.triggers if t.kind == "date"
    ]
    dated_sops = {
        s.id for s in sops for r in s.revisions for t in r.definition.triggers if t.kind == "date"
    }
    marks = (
        {(m.revision_id, m.trigger_key): m for m in SweepMark.objects.filter(revision_id__in=dated)}
        if dated
        else {}
    )
    moved: list[SweepMark] = []
    unpaced = sorted(s.id for s in sops if s.id in dated_sops and s.pace_limit is None)
    head, leftover = _head_and_leftover(unpaced) if dated else (0, None)
    for sop in sops:
        for revision in sop.revisions:
            for trigger in revision.definition.triggers:
                try:
                    if trigger.kind == "date":
                        count, mark = sweep_date(
                            sop,
                            revision,
                            trigger,
                            now=now,
                            zone=zone,
                            mark=marks.get((revision.id, trigger.key)),
                            head=head,
                        )
                        started += count
                        if mark is not None:
                            moved.append(mark)
                    elif trigger.kind == "schedule":
                        started += sweep_schedule(sop, revision, trigger, now=now, zone=zone)
                except Exception:
                    # One broken trigger must not hold back the others; the next tick retries.
                    logger.exception("sweep of SOP %s trigger %s failed", sop.id, trigger.key)
        # A paced SOP starts what its pace allows; one whose pace was lifted, all it queued.
        if sop.id in dated_sops and (sop.pace_limit is not None or sop.id == leftover):
            try:
                started += pacing.queue_drain(sop, now=now)
            except Exception:
                logger.exception("queue of SOP %s failed to drain", sop.id)
    if moved:
        # After the inserts committed: a mark lost with a crash only makes the next sweep wider.
        SweepMark.objects.bulk_create(
            moved,
            update_conflicts=True,
            unique_fields=["revision_id", "trigger_key"],
            update_fields=["swept_until", "full_at", "backlog_at", "event_cursor"],
        )
    return started
