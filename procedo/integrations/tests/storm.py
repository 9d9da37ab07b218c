"""R1 and R6 (../shared/BENCHMARKS.md): a storm of real deliveries against real processes.

The real payload files make one order's life per platform (test_order_of_arrival's
stream: a Shopify customer, order, transaction, paid update, refund, fulfillment and
abandoned checkout; a WooCommerce order created and updated, and its customer). Each of
`pairs` Shopify + WooCommerce connections receives that stream; ~10 % of the deliveries
are sent twice (same event id, same bytes), ~1 % more are badly signed (a body changed
after signing), and everything is shuffled. A client on 4 connections sends them to
gunicorn, started with `procedo run`'s own argv, while a Huey worker (`procedo run_huey`)
processes; whatever was not answered 2xx (a refused connection, a 503) is sent again,
except a 401. Meanwhile the web server and the worker are SIGKILLed and started again
(R1), or the database goes away (R6).

Then: every acknowledged delivery is a row with its bytes; each event is processed once
(the others of its id are marked duplicates); a bad signature got 401, is kept rejected
and changed nothing; and each connection's end state equals the in-order replay of the
same stream through the services.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from bench import loadgen
from procedo.core.processes import die_with_parent
from procedo.integrations import signatures
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import processing as processing_services
from procedo.integrations.services import receiving as receiving_services
from procedo.integrations.services import spooling
from procedo.integrations.tests import helpers
from procedo.integrations.tests.test_order_of_arrival import _state, _stream
from procedo.testing import child_env, free_port


@dataclass(frozen=True)
class Sent:
    connection: Connection
    topic: str
    body: bytes
    event_id: str
    signed: bytes  # what the signature covers: the body, or the bytes before a change

    @property
    def good(self) -> bool:
        return self.signed == self.body


@dataclass
class Figures:
    deliveries: int = 0
    repeats: int = 0
    badly_signed: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    outages: int = 0
    sending: float = 0.0  # seconds until every delivery was settled
    seconds: float = 0.0  # … and processed

    def line(self, label: str) -> str:
        answers = ", ".join(
            f"{'no answer' if status == 0 else status} × {n:,}"
            for status, n in sorted(self.statuses.items())
        )
        kills = ", ".join(f"{what} × {n}" for what, n in sorted(self.kills.items())) or "none"
        return (
            f"{label}: {self.deliveries:,} deliveries ({self.repeats:,} repeated,"
            f" {self.badly_signed:,} badly signed) in {self.requests:,} requests over"
            f" {self.sending:.1f} s, all processed after {self.seconds:.1f} s;"
            f" answers {answers}; SIGKILLs {kills};"
            f" database outages {self.outages}"
        )


def _headers(item: Sent) -> dict[str, str]:
    signature = signatures.shopify_sign(helpers.SECRET, item.signed)  # WooCommerce's too
    if item.connection.platform == "shopify":
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": item.topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Webhook-Id": item.event_id,
        }
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": item.topic,
        "X-WC-Webhook-Signature": signature,
        "X-WC-Webhook-Delivery-ID": item.event_id,
    }


def _request(item: Sent) -> bytes:
    return loadgen.request_bytes(helpers.url(item.connection), _headers(item), item.body)


def _tampered(body: bytes) -> bytes:
    """The bytes someone changed after the platform signed them (a total, say)."""
    return body.replace(b"1", b"9", 1) if b"1" in body else body + b" "


def plan(pairs: int, seed: int) -> list[Sent]:
    """The shuffled storm: each pair's stream, ~10 % sent twice, ~1 % (at least one)
    badly signed extra deliveries."""
    rng = random.Random(seed)
    stream = _stream()
    unique: list[Sent] = []
    for pair in range(pairs):
        made = {p: helpers.connect(p, f"storm {p} {pair}") for p in ("shopify", "woocommerce")}
        for n, (platform, topic, body) in enumerate(stream):
            unique.append(Sent(made[platform], topic, body, f"storm-{pair}-{n}", body))
    repeats = rng.sample(unique, max(1, len(unique) // 10))
    bad = [
        Sent(item.connection, item.topic, _tampered(item.body), f"bad-{k}", item.body)
        for k, item in enumerate(rng.sample(unique, max(1, len(unique) // 100)))
    ]
    storm = unique + repeats + bad
    rng.shuffle(storm)
    return storm


class Processes:
    """gunicorn (as `procedo run` starts it) and a Huey worker on the test database."""

    def __init__(self, var: Path, **env: str) -> None:
        var.mkdir(parents=True, exist_ok=True)
        # The connections' secrets are encrypted under this process's SECRET_KEY.
        self.var, self.env = var, child_env(var, SECRET_KEY=settings.SECRET_KEY, **env)
        self.port = free_port()
        self.web: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.log = (var / "processes.log").open("ab")

    def start_web(self) -> None:
        from procedo.core.management.commands.run import Command

        with override_settings(VAR_DIR=self.var):
            argv = Command()._gunicorn_argv("127.0.0.1", self.port, 2)
        self.web = subprocess.Popen(
            argv,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            process_group=0,
            preexec_fn=die_with_parent(),
        )

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "procedo", "run_huey", "--workers", "2"],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            process_group=0,
            preexec_fn=die_with_parent(),
        )

    def kill(self, which: str) -> None:
        """SIGKILL the process and everything it started (gunicorn's workers too), as the
        supervisor of `procedo run` finds them; then start it again."""
        process = self.web if which == "web" else self.worker
        assert process is not None
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        (self.start_web if which == "web" else self.start_worker)()

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process is not None and process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.log.close()


@contextmanager
def processes(var: Path, **env: str) -> Iterator[Processes]:
    from procedo.core.management.commands.run import answers

    running = Processes(var, **env)
    try:
        running.start_web()
        running.start_worker()
        deadline = time.monotonic() + 60
        while not answers("127.0.0.1", running.port):
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


def send_until_answered(
    running: Processes,
    storm: list[Sent],
    figures: Figures,
    deadline: float,
    on_settled: Callable[[int], None],
) -> None:
    """Send every delivery until it gets a 2xx (or, badly signed, its 401), as a platform
    retries; `on_settled(count)` hears the progress. Each round sends what is still
    unsettled, in a new order. A 2xx for a badly signed one, or a 401 for a good one,
    fails at once."""
    settled: set[int] = set()
    wrong: list[str] = []
    rng = random.Random(len(storm))
    while len(settled) < len(storm):
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(storm) - len(settled)} deliveries never acknowledged")
        todo = [n for n in range(len(storm)) if n not in settled]
        rng.shuffle(todo)

        def make(k: int, todo: list[int] = todo) -> bytes | None:
            return _request(storm[todo[k]]) if k < len(todo) else None

        def answered(k: int, status: int, todo: list[int] = todo) -> None:
            item = storm[todo[k]]
            if (item.good and status == 401) or (not item.good and 200 <= status < 300):
                wrong.append(f"{item.event_id}: {status}")
            elif (item.good and 200 <= status < 300) or (not item.good and status == 401):
                settled.add(todo[k])
                on_settled(len(settled))

        outcome = loadgen.load(running.port, make, concurrency=4, on_answer=answered)
        figures.requests += len(outcome.answered)
        figures.statuses.update(status for _k, status in outcome.answered)
        assert not wrong, wrong
        if len(settled) < len(storm):
            time.sleep(0.2)  # the server is down: as a platform, retry a little later


def finish() -> None:
    """What the worker leaves for later (a refund whose order came after its retry was set)
    is taken up by the minute's sweep; run once here with the clock past every retry."""
    processing_services.deliveries_process_pending(now=timezone.now() + timedelta(days=2))


def in_order_state() -> dict[str, Any]:
    """The stream in order through the services, on a pair of connections of its own."""
    reference = {p: helpers.connect(p, f"in order {p}") for p in ("shopify", "woocommerce")}
    for n, (platform, topic, body) in enumerate(_stream()):
        item = Sent(reference[platform], topic, body, f"in-order-{n}", body)
        receipt = receiving_services.delivery_receive(
            platform=platform,
            key=item.connection.key,
            headers=_headers(item),
            body=body,
            content_type="application/json",
        )
        assert receipt.status == 202, receipt
        processing_services.deliveries_process_pending()
    return {p: _state(c) for p, c in reference.items()}


def _deliveries_of(stored: list[Delivery], unprocessed: list[Any]) -> list[Any]:
    """Every delivery of the connections that left one unprocessed (what it waited for)."""
    event_ids = {row[0] for row in unprocessed}
    connections = {d.connection_id for d in stored if d.event_id in event_ids}
    return [
        (d.pk, d.event_id, d.topic, d.state, d.duplicate_of_id, d.attempts, d.processed_at)
        for d in sorted(stored, key=lambda d: d.pk)
        if d.connection_id in connections
    ]


def check(storm: list[Sent], reference: dict[str, Any]) -> None:
    stored = list(Delivery.objects.filter(connection__name__startswith="storm "))
    kept = {(d.connection_id, d.event_id, bytes(d.body)) for d in stored}
    for item in storm:
        if item.good:
            assert (item.connection.pk, item.event_id, item.body) in kept, item.event_id
    # Each event applied once: one delivery of each id did the work, the rest name it.
    by_event: dict[tuple[int, str], list[Delivery]] = {}
    for delivery in stored:
        by_event.setdefault((delivery.connection_id, delivery.event_id), []).append(delivery)
    # Every one left unprocessed, with its reason: one may have waited for another.
    unprocessed = [
        (d.event_id, d.topic, d.state, d.attempts, d.next_attempt_at, d.error)
        for d in sorted(stored, key=lambda d: d.pk)
        if d.state != ("rejected" if d.event_id.startswith("bad-") else "processed")
    ]
    assert not unprocessed, (unprocessed, _deliveries_of(stored, unprocessed))
    for (_connection_id, event_id), deliveries in by_event.items():
        if event_id.startswith("bad-"):
            continue  # rejected, each time it was sent
        assert sum(1 for d in deliveries if d.duplicate_of_id is None) == 1, [
            (d.pk, d.state, d.duplicate_of_id, d.attempts, d.received_at, d.processed_at, d.error)
            for d in deliveries
        ]
    connections = {item.connection.pk: item.connection for item in storm}.values()
    for connection_ in connections:
        assert _state(connection_) == reference[connection_.platform], connection_.name


def storm_run(
    label: str,
    *,
    var: Path,
    pairs: int,
    seed: int,
    disturb: Callable[[Processes, int, Figures], threading.Thread | None],
    at: tuple[float, ...] = (0.3, 0.6),
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> Figures:
    """The whole R1/R6 run. `disturb(processes, k, figures)` is called as each share in
    `at` of the deliveries has been settled: progress, not time, decides, so each one lands
    while deliveries are still coming. What it starts in a thread (an outage) is waited for."""
    reference = in_order_state()
    storm = plan(pairs, seed)
    figures = Figures(
        deliveries=len(storm),
        repeats=len(storm) - len({(s.connection.pk, s.event_id) for s in storm}),
        badly_signed=sum(1 for s in storm if not s.good),
    )
    started = time.monotonic()
    thresholds = [round(share * len(storm)) for share in at]
    outages: list[threading.Thread] = []

    def on_settled(settled: int) -> None:
        # In the client's own loop, so each disturbance lands while requests are in flight.
        while thresholds and settled >= thresholds[0]:
            thresholds.pop(0)
            background = disturb(running, len(at) - len(thresholds) - 1, figures)
            if background is not None:
                outages.append(background)

    with processes(var, **(env or {})) as running:
        try:
            send_until_answered(running, storm, figures, started + timeout, on_settled)
        finally:
            for thread in outages:
                thread.join()
        figures.sending = time.monotonic() - started
        _wait_for_the_worker(var / "hooks-spool", started + timeout)  # settings.py's
    finish()
    figures.seconds = time.monotonic() - started
    print(figures.line(label))
    check(storm, reference)
    return figures


def _wait_for_the_worker(spool: Path, deadline: float) -> None:
    """The web server moves what it spooled, and what a killed one left; the restarted
    worker takes up what was stored (its wake-up, or the one queued before it was
    killed); a delivery still waiting at the deadline is the sweep's."""
    if connection.vendor == "postgresql":
        connection.close()  # R6 ended it: a new one
    waiting = Delivery.objects.filter(connection__name__startswith="storm ", state="received")
    while (spooling.spool_backlog(spool) or waiting.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
