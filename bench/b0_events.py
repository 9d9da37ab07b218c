"""B0: appending events through the service helper vs a raw INSERT of the same rows."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, transaction

from bench.timing import measure, report
from procedo.events.models import Event
from procedo.events.services.recording import NewEvent, event_record, events_record_many

RAW_SQL = (
    "INSERT INTO events_event (event_type, subject_type, subject_id, customer_id, actor_id,"
    " actor_label, payload, occurred_at, idempotency_key)"
    " VALUES (%s, %s, %s, %s, %s, %s, {}, %s, %s)"
)


def _payload(i: int) -> dict[str, object]:
    return {"from": "confirmed", "to": "packed", "order": i, "total": "409.94"}


def _raw_rows(n: int) -> list[list[Any]]:
    from django.utils import timezone

    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return [
        ["order.status_changed", "order", i, i, None, "", json.dumps(_payload(i)), now, None]
        for i in range(n)
    ]


def _truncate() -> None:
    Event.objects.all().delete()


def run(*, scale: float) -> None:
    singles = max(200, int(2_000 * scale))
    batched = max(2_000, int(20_000 * scale))
    sql = RAW_SQL.format("%s::jsonb" if connection.vendor == "postgresql" else "%s")

    def helper_tx_of_one() -> int:
        for i in range(singles):
            with transaction.atomic():
                event_record(
                    event_type="order.status_changed",
                    subject_type="order",
                    subject_id=i,
                    customer_id=i,
                    payload=_payload(i),
                )
        return singles

    def raw_tx_of_one() -> int:
        rows = _raw_rows(singles)
        for row in rows:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, row)
        return singles

    def helper_batches() -> int:
        for start in range(0, batched, 1000):
            with transaction.atomic():
                for i in range(start, start + 1000):
                    event_record(
                        event_type="order.status_changed",
                        subject_type="order",
                        subject_id=i,
                        customer_id=i,
                        payload=_payload(i),
                    )
        return batched

    def helper_many() -> int:
        for start in range(0, batched, 1000):
            with transaction.atomic():
                events_record_many(
                    NewEvent(
                        event_type="order.status_changed",
                        subject_type="order",
                        subject_id=i,
                        customer_id=i,
                        payload=_payload(i),
                    )
                    for i in range(start, start + 1000)
                )
        return batched

    def raw_batches() -> int:
        rows = _raw_rows(batched)
        for start in range(0, batched, 1000):
            with transaction.atomic(), connection.cursor() as cursor:
                for row in rows[start : start + 1000]:
                    cursor.execute(sql, row)
        return batched

    # The wake-up hook would enqueue a Huey task per transaction; the benchmark
    # measures the log itself.
    import procedo.events.services.recording as services

    services._wake_consumers = lambda: None

    raw1 = measure(raw_tx_of_one, reset=_truncate)
    helper1 = measure(helper_tx_of_one, reset=_truncate)
    report("B0", f"event_record, 1 event per tx (N={singles})", helper1, raw1, "report")
    raw_b = measure(raw_batches, reset=_truncate)
    helper_b = measure(helper_batches, reset=_truncate)
    report("B0", f"event_record, 1,000 per tx (N={batched})", helper_b, raw_b, ">= 0.5")
    many = measure(helper_many, reset=_truncate)
    report("B0", f"events_record_many, 1,000 per tx (N={batched})", many, raw_b, ">= 0.5")
