"""B2: the SOP engine reading order events by cursor into runs and first steps.

100,000 order.created / order.status_changed events (scale 1) against 20
published SOPs, half of which match some of them (payload rules in memory,
subject rules in SQL per batch, a holdout on one, a cancel rule on each). The
engine drains its consumer as in production (consumer_drain, 500 events a
batch, one transaction per batch with the cursor). The baseline, measured in
the same run on the same database, is a raw batched INSERT of as many run rows
as the engine made; the ratio is its time over the engine's.

B2b, latency through the product's own path, is its own id (bench/b2b_latency.py):
it needs B2's SOPs but none of its 100,000 events.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from bench.timing import measure, report
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.models import Run, RunStep
from procedo.automation.services import engine
from procedo.events.models import ConsumerCursor, Event
from procedo.events.services.consumers import consumer_drain
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.orders.models import Order, OrderStatus
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services

STATUSES = ["confirmed", "packed", "shipped", "delivered"]
BATCH = 500


def _task(key: str) -> dict[str, Any]:
    return {
        "kind": "task",
        "key": key,
        "title": f"Step {key}",
        "assignee": {"kind": "role", "role": "operator"},
        "due_in_minutes": 15,
    }


def _trigger(event_type: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "event",
        "key": "t",
        "event_type": event_type,
        "conditions": {"rules": list(rules)},
    }


def _rule(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def _definitions() -> list[tuple[dict[str, Any], int]]:
    """20 SOPs: ten that match some order events, ten that hear other events or match none."""
    to = [_rule("event.to", "eq", s) for s in STATUSES]
    matching = [
        (_trigger("order.created"), 0),
        (_trigger("order.created", _rule("event.total", "gte", "100")), 20),
        (_trigger("order.created", _rule("total", "gte", "150")), 0),
        (_trigger("order.created", _rule("channel", "eq", "web")), 0),
        (_trigger("order.status_changed", to[3], _rule("total", "gte", "100")), 0),
        *[(_trigger("order.status_changed", rule), 0) for rule in to],
        (
            _trigger(
                "order.status_changed",
                _rule("event.to", "in", "packed, shipped"),
                _rule("currency", "eq", "UAH"),
            ),
            0,
        ),
    ]
    silent = [
        (_trigger("payment.recorded"), 0),
        (_trigger("shipment.status_changed"), 0),
        (_trigger("order.paid"), 0),
        (_trigger("refund.recorded"), 0),
        (_trigger("return.created"), 0),
        (_trigger("shipment.created"), 0),
        (_trigger("order.created", _rule("event.total", "gt", "100000")), 0),
        (_trigger("order.created", _rule("channel", "eq", "phone")), 0),
        (_trigger("order.status_changed", _rule("event.to", "eq", "returned")), 0),
        (_trigger("order.status_changed", _rule("total", "gt", "100000")), 0),
    ]
    return matching + silent


def _publish(
    name: str, definition: dict[str, Any], *, owner: User, reviewer: User, holdout: int = 0
) -> None:
    sop = sop_services.sop_create(
        name=name,
        subject_type="order",
        owner_id=owner.pk,
        kpi="order_confirmation_time",
        holdout_percent=holdout,
        actor=owner,
    )
    draft = sop.revisions.get()
    revision_services.revision_update(revision_id=draft.pk, definition=definition, actor=owner)
    for state, actor in (("review", owner), ("approved", reviewer), ("published", reviewer)):
        revision_services.revision_transition(revision_id=draft.pk, to_state=state, actor=actor)


def _sops() -> tuple[User, User]:
    """The 20 SOPs of B2 (once per database) and the people who publish them."""
    owner = User.objects.filter(username="b2-owner").first()
    reviewer = User.objects.filter(username="b2-reviewer").first()
    if owner is not None and reviewer is not None:
        return owner, reviewer
    order_pipeline_defaults_install()
    owner = User.objects.create_user(username="b2-owner", password="x", role=Role.OWNER)
    reviewer = User.objects.create_user(username="b2-reviewer", password="x", role=Role.MANAGER)
    cancel = _rule("event.to", "eq", "cancelled")
    for n, (trigger, holdout) in enumerate(_definitions()):
        definition = {
            "triggers": [trigger],
            "cancel_on": [
                {"event_type": "order.status_changed", "conditions": {"rules": [cancel]}}
            ],
            "steps": [_task("first"), _task("second")],
        }
        _publish(f"B2 SOP {n}", definition, owner=owner, reviewer=reviewer, holdout=holdout)
    return owner, reviewer


def _orders(count: int) -> None:
    rng = random.Random(2)
    now = timezone.now()
    status = OrderStatus.objects.get(code="new")
    Order.objects.bulk_create(
        (
            Order(
                number=f"B2-{i}",
                status=status,
                currency="UAH",
                subtotal=Decimal(0),
                discount_total=Decimal(0),
                shipping_total=Decimal(0),
                total=Decimal(rng.randrange(10, 300)),
                channel=rng.choice(["web", "instagram", "phone-app"]),
                placed_at=now - timedelta(minutes=i),
            )
            for i in range(count)
        ),
        batch_size=2000,
    )


def _setup(events: int) -> None:
    _sops()
    _orders(events // 5)
    new_events: list[NewEvent] = []
    for order_id, total in Order.objects.order_by("id").values_list("id", "total"):
        new_events.append(
            NewEvent(
                event_type="order.created",
                subject_type="order",
                subject_id=order_id,
                payload={"status": "new", "total": str(total), "currency": "UAH"},
            )
        )
        previous = "new"
        for code in STATUSES:
            new_events.append(
                NewEvent(
                    event_type="order.status_changed",
                    subject_type="order",
                    subject_id=order_id,
                    payload={"from": previous, "to": code},
                )
            )
            previous = code
    for start in range(0, len(new_events), 5000):
        with transaction.atomic():
            events_record_many(new_events[start : start + 5000])


def _reset() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM automation_runstep")
        cursor.execute("DELETE FROM automation_run")
        ConsumerCursor.objects.filter(name=engine.CONSUMER).update(txid=0, event_id=0)


_RAW_COLUMNS = (
    "sop_id, revision_id, subject_type, subject_id, occurrence_key, trigger_key, trigger_kind,"
    " event_id, state, pilot, current_step, current_iteration, wake_at, claimed_by,"
    " claimed_until, started_by_id, parent_run_id, depth, error, created_at, finished_at"
)


def _raw_insert(rows: list[tuple[Any, ...]]) -> None:
    """The baseline: plain multi-row INSERTs (400 rows) of the run rows, a commit per 1,000."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    one = "(" + ", ".join(["%s"] * 21) + ")"
    for start in range(0, len(rows), 1000):
        with transaction.atomic(), connection.cursor() as cursor:
            end = min(len(rows), start + 1000)
            for chunk_start in range(start, end, 400):
                chunk = rows[chunk_start : min(end, chunk_start + 400)]
                params: list[Any] = []
                for sop_id, revision_id, subject_id, key in chunk:
                    params.extend(
                        [
                            sop_id,
                            revision_id,
                            "order",
                            subject_id,
                            key,
                            "t",
                            "event",
                            None,
                            "running",
                            False,
                            "first",
                            0,
                            at,
                            "",
                            None,
                            None,
                            None,
                            0,
                            "",
                            at,
                            None,
                        ]
                    )
                cursor.execute(
                    f"INSERT INTO automation_run ({_RAW_COLUMNS}) VALUES "
                    + ", ".join([one] * len(chunk)),
                    params,
                )


def run(*, scale: float) -> None:
    events = max(1_000, int(100_000 * scale))
    # Wake-ups would enqueue Huey tasks; the benchmark measures the engine itself.
    import procedo.events.services.recording as event_services

    engine.wake_on_commit = lambda: None
    event_services._wake_consumers_on_commit = lambda: None
    _setup(events)
    total = Event.objects.count()

    def drain() -> int:
        return consumer_drain(
            name=engine.CONSUMER, handler=engine.engine_consume, batch_size=BATCH, max_batches=10**9
        )

    measured = measure(drain, reset=_reset)
    drain()
    runs, steps = Run.objects.count(), RunStep.objects.count()
    rows = list(
        Run.objects.order_by("id").values_list(
            "sop_id", "revision_id", "subject_id", "occurrence_key"
        )
    )
    _reset()

    def raw() -> int:
        _raw_insert(rows)
        return total  # the same units as the engine: events handled

    baseline = measure(raw, reset=_reset)
    print(
        f"  B2   {total:,} events → {runs:,} runs and {steps:,} first steps;"
        f" baseline: raw INSERT of {runs:,} run rows"
    )
    report("B2", f"engine, batches of {BATCH} (N={total:,})", measured, baseline, ">= 0.25")
    print(f"  B2   raw INSERT of runs: {len(rows) / baseline.seconds:,.0f} rows/s")
    _reset()
