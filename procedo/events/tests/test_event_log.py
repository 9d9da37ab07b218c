from __future__ import annotations

from collections.abc import Sequence

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from procedo.business.selectors import business_get
from procedo.events import selectors
from procedo.events.models import ConsumerCursor, ConsumerFailure, Event, EventDailyCount
from procedo.events.services import consumers, recording
from procedo.events.services.recording import EventOutsideTransaction, NewEvent, event_record
from procedo.testing import consumer_catch_up

# Transactional: on PostgreSQL a consumer reads only transactions that have
# ended, so events written inside a test's wrapping transaction stay unseen.
# And it reads only those older than the oldest transaction open anywhere on the
# server, so the tests drain until the consumer has caught up (consumer_catch_up).
pytestmark = pytest.mark.django_db(transaction=True)


def _record(n: int, *, event_type: str = "thing.happened", subject_id: int = 1) -> None:
    with transaction.atomic():
        for i in range(n):
            event_record(
                event_type=event_type,
                subject_type="thing",
                subject_id=subject_id,
                payload={"i": i, "name": "Тарас"},
            )


def test_event_record_refuses_to_write_outside_a_transaction() -> None:
    with pytest.raises(EventOutsideTransaction):
        event_record(event_type="thing.happened")
    assert not Event.objects.exists()


def test_event_record_keeps_one_cursor_yet_is_logged_and_survives_a_reconnect() -> None:
    _record(1, event_type="a.first")  # the cursor is made while queries are not logged
    with CaptureQueriesContext(connection) as captured:
        _record(1, event_type="a.logged")
    assert [q for q in captured.captured_queries if "INSERT INTO" in q["sql"]], captured
    connection.close()  # a new DB-API connection: the old cursor cannot be used
    _record(1, event_type="a.reconnected")
    assert list(Event.objects.order_by("id").values_list("event_type", flat=True)) == [
        "a.first",
        "a.logged",
        "a.reconnected",
    ]


def test_event_commits_and_rolls_back_with_the_change() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        event_record(event_type="thing.happened", subject_type="thing", subject_id=7)
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()

    _record(1, subject_id=7)
    event = Event.objects.get()
    assert (event.event_type, event.subject_type, event.subject_id) == (
        "thing.happened",
        "thing",
        7,
    )
    assert event.payload == {"i": 0, "name": "Тарас"}
    assert event.occurred_at is not None


def test_the_same_idempotency_key_cannot_be_recorded_twice() -> None:
    with transaction.atomic():
        event_record(event_type="thing.happened", idempotency_key="shop:42")
    with pytest.raises(IntegrityError), transaction.atomic():
        event_record(event_type="thing.happened", idempotency_key="shop:42")
    assert Event.objects.count() == 1


def test_events_record_many_writes_every_row_in_chunks() -> None:
    with transaction.atomic():
        written = recording.events_record_many(
            (
                NewEvent(event_type="bulk.done", subject_type="thing", subject_id=i)
                for i in range(1203)
            ),
            chunk_size=500,
        )
    assert written == 1203
    assert list(Event.objects.order_by("id").values_list("subject_id", flat=True)) == list(
        range(1203)
    )


def test_events_record_many_keeps_payloads_and_refuses_a_repeated_key_as_a_whole() -> None:
    """The bulk path (COPY on PostgreSQL): a payload reads back as it went in, a key the log
    has already refuses the lot with Django's IntegrityError, and the write is logged."""
    payload = {"name": "Тарас \\ «tab»\there", "total": "12.50", "lines": [1, None], "ok": True}
    with transaction.atomic():
        event_record(event_type="thing.happened", idempotency_key="shop:7")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        recording.events_record_many(
            [
                NewEvent(event_type="bulk.done", payload=payload, idempotency_key=f"k:{i}")
                for i in range(3)
            ]
        )
    assert len(queries.captured_queries) == 1
    assert (
        list(Event.objects.filter(event_type="bulk.done").values_list("payload", flat=True))
        == [payload] * 3
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        recording.events_record_many(
            [NewEvent(event_type="bulk.again", idempotency_key=key) for key in ("k:new", "shop:7")]
        )
    assert not Event.objects.filter(event_type="bulk.again").exists()


class Collector:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, events: Sequence[Event]) -> None:
        self.seen.extend(event.payload["i"] for event in events)


def test_consumer_reads_every_event_once_in_order_across_batches() -> None:
    _record(23)
    collector = Collector()
    handled = consumer_catch_up(name="test", handler=collector, batch_size=5)
    assert handled == 23
    assert collector.seen == list(range(23))
    # Caught up: a second drain hands out nothing.
    assert consumers.consumer_drain(name="test", handler=collector, batch_size=5) == 0
    cursor = ConsumerCursor.objects.get(name="test")
    assert cursor.events_handled == 23
    assert cursor.event_id == Event.objects.order_by("-id").first().id  # type: ignore[union-attr]


def test_a_worker_dying_mid_batch_leaves_the_batch_to_be_read_again() -> None:
    _record(6)

    dying = Collector()

    def dies_on_3(events: Sequence[Event]) -> None:
        dying(events)
        if 3 in dying.seen:
            # Not an exception a handler raises: the process ends (a SIGTERM, an OOM kill).
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        consumer_catch_up(name="test", handler=dies_on_3, batch_size=2)
    # Batch [0,1] committed; [2,3] rolled back with the cursor, and nothing was recorded.
    assert dying.seen == [0, 1, 2, 3]
    assert not ConsumerFailure.objects.exists()
    healthy = Collector()
    consumer_catch_up(name="test", handler=healthy, batch_size=2)
    assert healthy.seen == [2, 3, 4, 5]


def test_consumers_keep_separate_cursors() -> None:
    _record(3)
    first, second = Collector(), Collector()
    consumer_catch_up(name="one", handler=first)
    _record(2)
    consumer_catch_up(name="two", handler=second)
    consumer_catch_up(name="one", handler=first)
    assert first.seen == [0, 1, 2, 0, 1]
    assert second.seen == [0, 1, 2, 0, 1]


def test_subject_timeline_pages_newest_first_by_keyset() -> None:
    _record(7, subject_id=1)
    _record(2, subject_id=2)
    first = selectors.timeline_for_subject(subject_type="thing", subject_id=1, limit=3)
    assert [e.payload["i"] for e in first.events] == [6, 5, 4]
    second = selectors.timeline_for_subject(
        subject_type="thing", subject_id=1, before=first.next_before, limit=3
    )
    third = selectors.timeline_for_subject(
        subject_type="thing", subject_id=1, before=second.next_before, limit=3
    )
    assert [e.payload["i"] for e in second.events] == [3, 2, 1]
    assert [e.payload["i"] for e in third.events] == [0]
    assert third.next_before is None


def test_daily_counts_consumer_keeps_the_dashboard_totals(django_assert_max_num_queries) -> None:
    from django.utils import timezone

    from procedo.home.consumers import daily_counts

    _record(4, event_type="a.done")
    _record(3, event_type="b.done")
    consumer_catch_up(name="events.daily_counts", handler=daily_counts)
    _record(2, event_type="a.done")
    consumer_catch_up(name="events.daily_counts", handler=daily_counts)
    assert dict(EventDailyCount.objects.values_list("event_type", "count")) == {
        "a.done": 6,
        "b.done": 3,
    }
    today = timezone.localdate(timezone=business_get().zone)  # the rollup's days are Kyiv's
    with django_assert_max_num_queries(2):
        counts = selectors.event_counts(today=today)
    assert (counts.total, counts.today) == (9, 9)
    assert len(counts.by_day) == 14 and counts.by_day[-1][1] == 9
