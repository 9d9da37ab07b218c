"""B2b: how soon an event becomes a task, through the product's own path, at three rates.

A separate writer process appends order events at a steady rate (half
order.created, half order.status_changed) while a real Huey consumer (`procedo
run_huey --workers 2`, as `procedo run` starts it) turns them into tasks: each
commit enqueues the consumers' wake-up, the engine starts runs against B2's 20
SOPs, its commit wakes the executor, which starts each run's first task. Per rate:
event → run and event → task (p50, p95, max), and every event that produced no
first task with the reason, from an account of the triggers kept apart from the
engine (no condition holds, a wait comes first, every match held out, lost).
Then a person completes tasks in another process (as the web would), and
1-minute waits end: how soon the next step's task follows each. Nothing here
asserts a time; the goal is printed beside the figures.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from bench.b2_engine import _definitions, _orders, _publish, _reset, _rule, _sops, _task, _trigger
from procedo.accounts.models import User
from procedo.automation.models import RunState
from procedo.events.models import ConsumerCursor, Event
from procedo.events.registry import consumers_all
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.orders.models import Order
from procedo.sops.models import Sop
from procedo.work.models import Task

WAIT_SOP = "B2b wait"
# The status changes the writer makes: "new" starts no SOP; "returned" starts the wait SOP
# (and one of B2's).
CHANGES = ("confirmed", "packed", "shipped", "delivered", "new", "returned")
GOAL_P95, GOAL_MAX = 1.0, 2.0


@dataclass(frozen=True)
class Rate:
    label: str
    per_second: float
    tick: float  # seconds between the writer's commits
    seconds: float | None  # None: max(10, 30 × scale)


RATES = (
    Rate("a quiet store", 1 / 15, 15.0, 90.0),  # each order finds the worker idle
    Rate("a busy store", 40.0, 0.1, None),
    Rate("a sale day", 120.0, 0.05, None),
)


def run(*, scale: float) -> None:
    owner, reviewer = _sops()
    if not Sop.objects.filter(name=WAIT_SOP).exists():
        _publish(
            WAIT_SOP,
            {
                "triggers": [_trigger("order.status_changed", _rule("event.to", "eq", "returned"))],
                "steps": [
                    {"kind": "wait", "key": "pause", "title": "Wait", "minutes": 1},
                    _task("after"),
                ],
            },
            owner=owner,
            reviewer=reviewer,
        )
    if Order.objects.count() < 1000:
        _orders(1000)
    run_latency(scale=scale)


def _write_steadily(seconds: float, rate: float, tick: float, seed: int) -> None:
    """The writer process: order events at `rate`/s, a transaction every `tick` seconds."""
    orders = list(Order.objects.values_list("id", "total"))
    rng = random.Random(seed)
    per_tick = max(1, round(rate * tick))
    started = time.monotonic()
    ticks = 0
    while time.monotonic() - started < seconds:
        batch = []
        for _ in range(per_tick):
            order_id, total = rng.choice(orders)
            if rng.random() < 0.5:
                payload = {"status": "new", "total": str(total), "currency": "UAH"}
                batch.append(NewEvent("order.created", "order", order_id, payload=payload))
            else:
                change = {"from": "new", "to": rng.choice(CHANGES)}
                batch.append(NewEvent("order.status_changed", "order", order_id, payload=change))
        with transaction.atomic():
            events_record_many(batch)  # its commit enqueues the consumers' wake-up
        ticks += 1
        pause = started + ticks * tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)


def _close_steadily(task_ids: list[int], per_second: float) -> None:
    """A person (in another process, as in the web) completes tasks one after another."""
    from procedo.work.services.lifecycle import task_complete

    owner = User.objects.get(username="b2-owner")
    started = time.monotonic()
    for n, task_id in enumerate(task_ids):
        task_complete(task_id=task_id, actor=owner)
        pause = started + (n + 1) / per_second - time.monotonic()
        if pause > 0:
            time.sleep(pause)


def _cursors_to_the_end() -> int:
    """Every consumer skips the events written before: B2b times only what the writer adds."""
    last = Event.objects.order_by("-txid", "-id").values_list("txid", "id").first() or (0, 0)
    for consumer in consumers_all():
        ConsumerCursor.objects.update_or_create(
            name=consumer.name, defaults={"txid": last[0], "event_id": last[1]}
        )
    return int(last[1])


def _pace(rate: Rate) -> str:
    if rate.per_second < 1:
        return f"1 event every {1 / rate.per_second:g} s"
    return f"{rate.per_second:g} events/s"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    spread = (
        f"p50 {statistics.median(values):.2f} s, p95 {_percentile(values, 0.95):.2f} s,"
        f" max {max(values):.2f} s"
    )
    if len(values) <= 12:  # a quiet store's few: p95 is its slowest, so show them all
        spread += " (each: " + ", ".join(f"{value:.2f}" for value in sorted(values)) + ")"
    return spread


def _moment(value: Any) -> datetime:
    # SQLite hands back the text Django stored (or a naive datetime); PostgreSQL an aware one.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _holds(rule: dict[str, Any], payload: dict[str, Any], order: Order) -> bool:
    """One rule of `_definitions()`, evaluated here as the SOP's author means it."""
    field, op, value = rule["field"], rule["op"], rule["value"]
    actual = payload.get(field[6:]) if field.startswith("event.") else getattr(order, field)
    if op == "eq":
        return str(actual) == value
    if op == "in":
        return str(actual) in {part.strip() for part in value.split(",")}
    number, bound = Decimal(str(actual)), Decimal(value)
    return number >= bound if op == "gte" else number > bound


def _expected(
    events: list[tuple[int, str, int, dict[str, Any]]], sops: dict[int, dict[str, Any]]
) -> dict[int, set[int]]:
    """Per event, the SOPs whose trigger it matches (computed apart from the engine)."""
    orders = Order.objects.in_bulk({subject_id for _id, _type, subject_id, _p in events})
    matched: dict[int, set[int]] = {}
    for event_id, event_type, subject_id, payload in events:
        matched[event_id] = {
            sop_id
            for sop_id, trigger in sops.items()
            if trigger["event_type"] == event_type
            and all(
                _holds(rule, payload, orders[subject_id]) for rule in trigger["conditions"]["rules"]
            )
        }
    return matched


def _triggers() -> tuple[dict[int, dict[str, Any]], int]:
    """The trigger of each B2 SOP by id, and the wait SOP's id."""
    by_name = dict(Sop.objects.filter(name__startswith="B2").values_list("name", "id"))
    triggers = {by_name[f"B2 SOP {n}"]: trigger for n, (trigger, _h) in enumerate(_definitions())}
    wait_id = by_name[WAIT_SOP]
    triggers[wait_id] = _trigger("order.status_changed", _rule("event.to", "eq", "returned"))
    return triggers, wait_id


def _first_tasks(first_id: int, last_id: int) -> dict[tuple[int, int], tuple[str, Any, Any]]:
    """(event, SOP) → (run state, run created, first task created or None)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.event_id, r.sop_id, r.state, r.created_at, t.created_at"
            " FROM automation_run r"
            " LEFT JOIN automation_runstep s"
            "  ON s.run_id = r.id AND s.step_key = 'first' AND s.iteration = 0"
            " LEFT JOIN work_task t ON t.run_step_id = s.id"
            " WHERE r.event_id > %s AND r.event_id <= %s",
            [first_id, last_id],
        )
        return {(row[0], row[1]): (row[2], row[3], row[4]) for row in cursor.fetchall()}


def run_latency(*, scale: float) -> None:
    env = {**os.environ}
    log = Path(env.get("PROCEDO_VAR", ".")) / "b2b-huey.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "procedo", "run_huey", "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _consumer_started(log, worker)
        _reset()
        first_id = _cursors_to_the_end()
        for n, rate in enumerate(RATES):
            seconds = rate.seconds or max(10.0, 30.0 * scale)
            _latency_at(rate=rate, seconds=seconds, seed=5 + n, env=env)
        _after_people(env=env)
        _after_waits(first_id=first_id)
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    _reset()


def _consumer_started(log: Path, worker: subprocess.Popen[bytes]) -> None:
    """Wait for the consumer to take wake-ups: on a loaded machine it took longer to start
    than the bench's idle pause, and the quiet store's first event waited 5–7 s for it."""
    deadline = time.monotonic() + 120
    while b"Huey consumer started" not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Huey consumer did not start; see {log}")
        time.sleep(0.2)


def _latency_at(*, rate: Rate, seconds: float, seed: int, env: dict[str, str]) -> None:
    first_id = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    time.sleep(3)  # the consumer has been idle a while, as between a quiet store's orders
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from bench.b2b_latency import _write_steadily;"
            f" _write_steadily({seconds!r}, {rate.per_second!r}, {rate.tick!r}, {seed})",
        ],
        env=env,
        check=True,
    )
    last_id = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    events = [
        (event_id, event_type, int(subject_id or 0), payload)
        for event_id, event_type, subject_id, payload in Event.objects.filter(
            id__gt=first_id, id__lte=last_id, event_type__startswith="order."
        ).values_list("id", "event_type", "subject_id", "payload")
    ]
    triggers, wait_id = _triggers()
    expected = _expected(events, triggers)
    tasks_first = {(e, sop) for e, sops in expected.items() for sop in sops if sop != wait_id}
    deadline = time.monotonic() + 120
    found = _first_tasks(first_id, last_id)
    while time.monotonic() < deadline:
        found = _first_tasks(first_id, last_id)
        if all(
            pair in found and (found[pair][0] == RunState.HELD_OUT or found[pair][2] is not None)
            for pair in tasks_first
        ):
            break
        time.sleep(0.5)
    occurred = dict(
        Event.objects.filter(id__gt=first_id, id__lte=last_id).values_list("id", "occurred_at")
    )
    to_run, to_task = [], []
    for pair in tasks_first & found.keys():
        _state, run_at, task_at = found[pair]
        at = _moment(occurred[pair[0]])
        to_run.append((_moment(run_at) - at).total_seconds())
        if task_at is not None:
            to_task.append((_moment(task_at) - at).total_seconds())
    held_out = sum(
        1 for pair in tasks_first if pair in found and found[pair][0] == RunState.HELD_OUT
    )
    lost_pairs = {
        pair
        for pair in tasks_first
        if pair not in found or (found[pair][0] != RunState.HELD_OUT and found[pair][2] is None)
    } | {
        (e, wait_id)
        for e, sops in expected.items()
        if wait_id in sops and (e, wait_id) not in found
    }
    expected_pairs = tasks_first | {(e, wait_id) for e, sops in expected.items() if wait_id in sops}
    unexpected = found.keys() - expected_pairs
    no_condition = all_held = waiting = lost = 0
    for event_id, sops in expected.items():
        mine = {(event_id, sop) for sop in sops}
        if mine & lost_pairs:
            lost += 1
        elif not sops:
            no_condition += 1
        elif any(found[pair][2] is not None for pair in mine & tasks_first):
            continue
        elif (event_id, wait_id) in mine and found[(event_id, wait_id)][0] != RunState.HELD_OUT:
            waiting += 1  # its only run not held out begins with a wait
        else:
            all_held += 1
    print(
        f"  B2b  {rate.label}, {_pace(rate)} for {seconds:.0f} s:"
        f" {len(events):,} events → {len(tasks_first):,} runs with a task first"
        f" ({held_out:,} held out) → {len(to_task):,} tasks"
    )
    print(f"  B2b    event → run   {_spread(to_run)}")
    print(
        f"  B2b    event → task  {_spread(to_task)}"
        f" (goal p95 < {GOAL_P95:g} s, max < {GOAL_MAX:g} s)"
    )
    print(
        f"  B2b    events without a task: {no_condition + all_held + waiting + lost:,}"
        f" (no SOP's condition holds {no_condition:,}, every match held out {all_held:,},"
        f" a wait first {waiting:,}, lost {lost:,});"
        f" runs missing or without their task {len(lost_pairs):,},"
        f" runs no trigger called for {len(unexpected):,}"
    )


def _after_people(*, env: dict[str, str]) -> None:
    """People close first tasks (one process, two a second); the second step's task follows."""
    ids = list(
        Task.objects.filter(state="open", run_step_id__isnull=False, title="Step first")
        .order_by("-id")
        .values_list("id", flat=True)[:20]
    )
    time.sleep(3)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from bench.b2b_latency import _close_steadily;"
            f" _close_steadily({ids!r}, 2.0)",
        ],
        env=env,
        check=True,
    )
    query = (
        "SELECT t1.completed_at, t2.created_at FROM work_task t1"
        " JOIN automation_runstep s1 ON s1.id = t1.run_step_id"
        " LEFT JOIN automation_runstep s2 ON s2.run_id = s1.run_id AND s2.step_key = 'second'"
        " LEFT JOIN work_task t2 ON t2.run_step_id = s2.id"
        f" WHERE t1.id IN ({', '.join(['%s'] * len(ids))})"
    )
    deadline = time.monotonic() + 120
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(query, ids)
            rows = cursor.fetchall()
        if all(next_at is not None for _closed, next_at in rows):
            break
        time.sleep(0.5)
    lags = [
        (_moment(next_at) - _moment(closed)).total_seconds()
        for closed, next_at in rows
        if next_at is not None
    ]
    print(
        f"  B2b  a person completes a task (another process, 2 a second): {len(ids)} tasks →"
        f" {len(lags)} next tasks; completed → next task {_spread(lags)}"
    )


def _after_waits(*, first_id: int) -> None:
    """The wait SOP's runs: from the end of each 1-minute wait to the task after it."""
    query = (
        "SELECT w.due_at, t.created_at FROM automation_run r"
        " JOIN automation_runstep w ON w.run_id = r.id AND w.step_key = 'pause'"
        " LEFT JOIN automation_runstep a ON a.run_id = r.id AND a.step_key = 'after'"
        " LEFT JOIN work_task t ON t.run_step_id = a.id"
        " WHERE r.sop_id = %s AND r.event_id > %s AND r.state <> %s"
    )
    wait_id = Sop.objects.get(name=WAIT_SOP).pk
    deadline = time.monotonic() + 150
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(query, [wait_id, first_id, RunState.HELD_OUT.value])
            rows = cursor.fetchall()
        if all(next_at is not None for _due, next_at in rows):
            break
        time.sleep(1)
    lags = [
        (_moment(next_at) - _moment(due)).total_seconds()
        for due, next_at in rows
        if next_at is not None
    ]
    print(
        f"  B2b  a 1-minute wait ends: {len(rows)} waits → {len(lags)} next tasks;"
        f" end of the wait → next task {_spread(lags)} (before: the minute's tick, 0–60 s)"
    )
