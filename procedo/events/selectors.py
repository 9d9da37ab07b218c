from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy

from procedo.core.exports import Column
from procedo.core.paging import keyset_all
from procedo.events.models import (
    OPEN_FAILURE_STATES,
    ConsumerCursor,
    ConsumerFailure,
    Event,
    EventDailyCount,
    FailureState,
    VisibleHorizon,
)
from procedo.events.timeline import TimelineLine, actor_name, timeline_lines


def events_after(*, txid: int, event_id: int, limit: int) -> list[Event]:
    """Committed events after the cursor (txid, id), in commit order, never skipping one.

    Only transactions older than the oldest one still running are read: a
    transaction still open may yet commit events with smaller ids, and reading
    past it would skip them forever.
    """
    _backend_status_refresh()
    return list(
        Event.objects.filter(Q(txid__gt=txid) | Q(txid=txid, id__gt=event_id))
        .filter(txid__lt=VisibleHorizon())
        .order_by("txid", "id")[:limit]
    )


def _unread(names: list[str]) -> QuerySet[Event]:
    """Committed events after the cursor of any of these consumers."""
    cursors = {c.name: c for c in ConsumerCursor.objects.filter(name__in=names)}
    after = Q()
    for name in names:
        cursor = cursors.get(name)
        if cursor is None:
            return Event.objects.all()
        after |= Q(txid__gt=cursor.txid) | Q(txid=cursor.txid, id__gt=cursor.event_id)
    return Event.objects.filter(after)


def events_held_back(*, names: list[str]) -> bool:
    """Whether a consumer has committed events it has not read: after a drain, those an older
    transaction still open in this database holds back (the horizon), or newer ones."""
    return _unread(names).exists()


def events_unread_last_txid(*, names: list[str]) -> int | None:
    """The highest writing transaction among the committed events some consumer has not read."""
    found: int | None = _unread(names).aggregate(last=Max("txid"))["last"]
    return found


def _backend_status_refresh() -> None:
    """Let `VisibleHorizon` see the server's transactions as they are now.

    PostgreSQL keeps the `pg_stat_activity` a transaction first read until it ends. In a long
    transaction (a test's, a command's several batches) a transaction begun later in another
    database would be missing from that copy, so it would count as this database's and hold
    the reader back for as long as it runs. Outside a transaction (autocommit) each statement
    is a transaction of its own and reads a fresh copy: nothing to clear.
    """
    if connection.vendor == "postgresql" and not connection.get_autocommit():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")


def events_horizon() -> int:
    """The visible horizon now: events of transactions below it may be read (`VisibleHorizon`)."""
    _backend_status_refresh()
    sql, params = VisibleHorizon().as_sql(None, connection)
    if connection.vendor == "postgresql":
        sql, params = VisibleHorizon().as_postgresql(None, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return int(cursor.fetchone()[0])


@dataclass
class TimelinePage:
    events: list[Event]
    next_before: int | None
    _lines: list[TimelineLine] | None = field(default=None, repr=False)

    @property
    def lines(self) -> list[TimelineLine]:
        """The events as sentences in the reader's language (their names looked up once)."""
        if self._lines is None:
            self._lines = timeline_lines(self.events)
        return self._lines


def _page(queryset: QuerySet[Event], *, before: int | None, limit: int) -> TimelinePage:
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.select_related("actor").order_by("-id")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return TimelinePage(events=rows, next_before=rows[-1].id if has_more else None)


def timeline_for_subject(
    *, subject_type: str, subject_id: int, before: int | None = None, limit: int = 25
) -> TimelinePage:
    """Events of one subject, newest first, paged by keyset (`before` = the last id shown)."""
    queryset = Event.objects.filter(subject_type=subject_type, subject_id=subject_id)
    return _page(queryset, before=before, limit=limit)


def timeline_for_customer(
    *, customer_id: int, before: int | None = None, limit: int = 25
) -> TimelinePage:
    """Everything that concerns a customer, their orders' events included, newest first."""
    return _page(Event.objects.filter(customer_id=customer_id), before=before, limit=limit)


def events_recent(*, before: int | None = None, limit: int = 20) -> TimelinePage:
    return _page(Event.objects.all(), before=before, limit=limit)


def events_filtered(
    *,
    actor_id: int | None = None,
    type_prefixes: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 50,
) -> TimelinePage:
    """The log narrowed by who, what (event type prefixes such as "order.") and when."""
    events = _events_filtered(
        actor_id=actor_id, type_prefixes=type_prefixes, since=since, until=until
    )
    return _page(events, before=before, limit=limit)


def _events_filtered(
    *,
    actor_id: int | None = None,
    type_prefixes: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Event]:
    events = Event.objects.all()
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if type_prefixes:
        what = Q()
        for prefix in type_prefixes:
            what |= Q(event_type__startswith=prefix)
        events = events.filter(what)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    return events


def _summaries_attach(events: list[Event]) -> None:
    for line in timeline_lines(events):
        line.event.summary = line.plain  # type: ignore[attr-defined]


# The activity log as a file (procedo/core/exports.py).
EVENT_COLUMNS = (
    Column(gettext_lazy("ID"), lambda e: e.pk),
    Column(gettext_lazy("When"), lambda e: e.occurred_at),
    Column(gettext_lazy("Who"), actor_name),
    Column(gettext_lazy("What happened"), lambda e: getattr(e, "summary", "")),
    Column(gettext_lazy("Event type"), lambda e: e.event_type),
    Column(gettext_lazy("Subject type"), lambda e: e.subject_type),
    Column(gettext_lazy("Subject ID"), lambda e: e.subject_id),
    Column(gettext_lazy("Customer ID"), lambda e: e.customer_id),
    Column(gettext_lazy("Details"), lambda e: json.dumps(e.payload or {}, ensure_ascii=False)),
)


def event_export_rows(
    *, prepare: Callable[[list[Event]], object], **filters: Any
) -> Iterator[Event]:
    """The log with the activity page's filters, newest first, in batches; `prepare` sees each
    batch first (what the reader may not see is blanked there), then it gets its sentences."""

    def batch(events: list[Event]) -> None:
        prepare(events)
        _summaries_attach(events)

    queryset = _events_filtered(**filters).select_related("actor")
    return keyset_all(queryset, order=["-id"], each_batch=batch)


@dataclass(frozen=True)
class EventCounts:
    total: int
    today: int
    by_day: list[tuple[date, int]]


def event_counts(*, today: date, days: int = 14) -> EventCounts:
    """Counts from the daily rollup (kept by a consumer), not a COUNT(*) over the log."""
    rollup = EventDailyCount.objects.all()
    total = rollup.aggregate(n=Sum("count", default=0))["n"]
    per_day = dict(
        rollup.filter(day__gt=today.fromordinal(today.toordinal() - days))
        .values_list("day")
        .annotate(n=Sum("count"))
        .values_list("day", "n")
    )
    by_day = [
        (day, per_day.get(day, 0))
        for day in (
            today.fromordinal(today.toordinal() - offset) for offset in range(days - 1, -1, -1)
        )
    ]
    return EventCounts(total=total, today=per_day.get(today, 0), by_day=by_day)


# What the failures page and the API filter on: "open" is what still needs handling.
FAILURE_FILTERS: dict[str, tuple[str, ...]] = {
    "open": tuple(OPEN_FAILURE_STATES),
    **{state.value: (state.value,) for state in FailureState},
}


@dataclass(frozen=True)
class FailurePage:
    failures: list[ConsumerFailure]
    next_before: int | None


def consumer_failures(
    *, show: str = "open", consumer: str = "", before: int | None = None, limit: int = 50
) -> FailurePage:
    """Events consumers failed on (or that wait behind one), newest first, paged by keyset."""
    queryset = ConsumerFailure.objects.filter(state__in=FAILURE_FILTERS[show])
    if consumer:
        queryset = queryset.filter(consumer=consumer)
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(
        queryset.select_related("event", "event__actor", "resolved_by").order_by("-id")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return FailurePage(failures=rows, next_before=rows[-1].id if has_more else None)


def consumer_failure_counts() -> dict[str, int]:
    """How many failures are in each open state (one GROUP BY over the open rows)."""
    counts = dict(
        ConsumerFailure.objects.filter(state__in=OPEN_FAILURE_STATES)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {state.value: counts.get(state.value, 0) for state in OPEN_FAILURE_STATES}


def consumer_failures_parked_count() -> int:
    """The navigation badge: parked events wait for a person (retrying ones may still pass)."""
    return ConsumerFailure.objects.filter(state=FailureState.PARKED).count()
