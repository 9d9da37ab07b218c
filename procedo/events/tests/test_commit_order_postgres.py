"""On PostgreSQL a lower event id can commit after a higher one; no consumer may skip it."""

from __future__ import annotations

import time
from collections.abc import Sequence

import psycopg
import pytest
from django.db import connection, transaction

from procedo.events import selectors
from procedo.events.models import Event
from procedo.events.services import consumers
from procedo.events.services.recording import event_record
from procedo.testing import consumer_catch_up, oldest_transaction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def _second_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params)


def test_an_event_committed_late_with_a_lower_id_is_still_delivered() -> None:
    seen: list[str] = []

    def handler(events: Sequence[Event]) -> None:
        seen.extend(event.event_type for event in events)

    with _second_connection() as slow:
        # The slow writer takes its id (and transaction id) first and stays open.
        slow.execute(
            "INSERT INTO events_event (event_type, subject_type, actor_label, payload, occurred_at)"
            " VALUES ('slow.committed_second', '', '', '{}', now())"
        )
        slow_id = slow.execute("SELECT max(id) FROM events_event").fetchone()[0]  # type: ignore[index]

        with transaction.atomic():
            event_record(event_type="fast.committed_first")
        fast_id = Event.objects.get(event_type="fast.committed_first").id
        assert slow_id < fast_id

        # The fast event is committed and visible, but a reader that took it now
        # and moved its cursor past it would never see the slow one: it waits.
        consumers.consumer_drain(name="test", handler=handler)
        assert seen == []
        # The dispatcher hears that something committed waits, and looks again shortly.
        assert selectors.events_held_back(names=["test"])
        # The naive reader (id > cursor) would have taken the fast one and moved on.
        assert list(Event.objects.filter(id__gt=0).values_list("id", flat=True)) == [fast_id]

        slow.commit()

    # Both are committed now; a transaction open elsewhere on the server may still hold
    # them back a while (never skip them), so drain until the consumer has caught up.
    consumer_catch_up(name="test", handler=handler)
    assert seen == ["slow.committed_second", "fast.committed_first"]
    assert consumers.consumer_drain(name="test", handler=handler) == 0
    assert not selectors.events_held_back(names=["test"])


def test_events_after_orders_by_writing_transaction() -> None:
    with transaction.atomic():
        event_record(event_type="one")
        event_record(event_type="two")
    with transaction.atomic():
        event_record(event_type="three")
    deadline = time.monotonic() + 120
    # A transaction open elsewhere on the server hides them from the reader for a while.
    while len(events := selectors.events_after(txid=0, event_id=0, limit=10)) < 3:
        assert time.monotonic() < deadline, f"held back by {oldest_transaction()}"
        time.sleep(0.05)
    assert [e.event_type for e in events] == ["one", "two", "three"]
    assert events[0].txid == events[1].txid < events[2].txid


def test_a_long_reader_is_not_held_back_by_a_transaction_begun_since_in_another_database() -> None:
    """PostgreSQL keeps the `pg_stat_activity` a transaction first read until it ends; a reader
    that trusted that copy would take a newer transaction in another database for its own."""
    with transaction.atomic():
        with connection.cursor() as cursor:  # as the horizon reads it when anything runs
            cursor.execute("SELECT count(*) FROM pg_stat_activity")
        params = {**connection.get_connection_params(), "dbname": "postgres"}
        for key in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(key, None)
        with psycopg.connect(**params) as elsewhere, _second_connection() as writer:
            elsewhere.execute("SELECT pg_current_xact_id()")  # open, with a transaction id
            writer.execute(
                "INSERT INTO events_event (event_type, subject_type, actor_label, payload,"
                " occurred_at) VALUES ('written.after', '', '', '{}', now())"
            )
            writer.commit()
            events = selectors.events_after(txid=0, event_id=0, limit=10)
            elsewhere.rollback()
    assert [e.event_type for e in events] == ["written.after"]
