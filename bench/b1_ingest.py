"""B1: signed Shopify orders/create POSTs against the real server, vs hello-world on it.

The web server is the one `procedo run` starts (gunicorn, its argv from the run command:
2 workers × 4 threads, the access log on), with Procedo's settings and middleware and one
extra URL, a hello-world POST endpoint (bench/ingest_urls.py): the baseline is measured
on the same server process, in the same run, with the same load generator, 8 connections.
The load is `wrk` when installed (Debian's package), else bench/loadgen.py.

Each delivery is the real shopify/order.json (from ../shared/data/webhooks, or a stand-in
of the same size when it is absent) with its own order id, signed as Shopify signs, with
its own X-Shopify-Webhook-Id except 10 % that repeat an earlier one (a redelivery).
"Stored" is the rows in the delivery table after the run (each 2xx is checked to be
there). Runs: a warm-up, then hello and ingest alternately, three times each; the median.
The worker is not running in B1: the answer must not depend on it.

B1b: 500 deliveries/s for 60 s × scale (at least 10 s), each a new order, with the worker
(`procedo run_huey`, as `procedo run` starts it) running: from stored (the delivery's
received_at) to the order row (the processed_at of the delivery that made it). Then its
capacity: half as many stored while the worker is stopped, and the time it takes to apply
them alone (the rate the worker keeps without the web server's share of the cores).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F

from bench import loadgen
from procedo.integrations import signatures
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import connections as connections_services
from procedo.integrations.services import spooling

SECRET = "bench-b1-shopify-secret-0123456789"
CONCURRENCY = 8
DUPLICATES = 0.10
GOAL_RATIO, GOAL_P99 = 0.7, 0.050
LAG_RATE, GOAL_LAG_P95 = 500.0, 2.0

WRK_SCRIPT = r"""
local bodies, signatures = {}, {}
local counter = 0
local next_thread = 1
function setup(thread)
  thread:set("thread_n", next_thread)
  next_thread = next_thread + 1
end
function init(args)
  prefix = args[2]
  duplicates = tonumber(args[3])
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    signatures[#signatures + 1] = line:sub(1, tab - 1)
    bodies[#bodies + 1] = line:sub(tab + 1)
  end
end
function request()
  counter = counter + 1
  local n = counter
  if counter > 10 and math.random() < duplicates then
    n = math.random(1, counter - 1)
  end
  local k = (n % #bodies) + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Shopify-Topic"] = "orders/create",
    ["X-Shopify-Hmac-Sha256"] = signatures[k],
    ["X-Shopify-Webhook-Id"] = prefix .. "-" .. thread_n .. "-" .. n,
    ["X-Shopify-Shop-Domain"] = "bench.myshopify.com",
  }, bodies[k])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout, latency:percentile(50),
    latency:percentile(99)))
end
"""


def _order_template() -> dict[str, Any]:
    from procedo.integrations.tests.helpers import WEBHOOKS

    path = WEBHOOKS / "shopify" / "order.json"
    if path.is_file():
        order: dict[str, Any] = json.loads(path.read_text())["order"]
        return order
    print("  B1   ../shared/data/webhooks is absent: a stand-in order of the same shape")
    return {
        "id": 1,
        "name": "#1",
        "currency": "USD",
        "created_at": "2026-01-10T10:00:00-05:00",
        "updated_at": "2026-01-10T10:00:00-05:00",
        "total_price": "100.00",
        "email": "bench@example.com",
        "financial_status": "pending",
        "line_items": [
            {"id": 1, "sku": "B1-SKU", "name": "Bench item", "quantity": 1, "price": "100.00"}
        ],
        "note": "x" * 5000,  # the real payload's size
    }


def order_body(template: dict[str, Any], n: int) -> bytes:
    """The template as order n: its own id, name and customer, compact JSON on one line."""
    customer = dict(template.get("customer") or {})
    if customer:
        customer.update(id=9_000_000 + n, email=f"b1-{n}@example.com", phone=None)
    order = {
        **template,
        "id": 7_000_000 + n,
        "name": f"#B1-{n}",
        "order_number": n,
        "email": f"b1-{n}@example.com",
        "customer": customer or None,
        # Its fulfillments' ids are its own too (a fulfillment id names one shipment).
        "fulfillments": [
            {**item, "id": 8_000_000 + n * 10 + k, "order_id": 7_000_000 + n}
            for k, item in enumerate(template.get("fulfillments") or [])
        ],
    }
    return json.dumps(order, separators=(",", ":")).encode()


def _connection() -> Connection:
    existing = Connection.objects.filter(name="B1 shop").first()
    if existing is not None:
        return existing
    return connections_services.connection_create(
        platform="shopify", name="B1 shop", account="bench.myshopify.com", secret=SECRET, actor=None
    )


@contextmanager
def web_server(env: dict[str, str], log: Path, workers: int = 2) -> Iterator[int]:
    """gunicorn with `procedo run`'s own argv, on a free port; its port."""
    from procedo.core.management.commands.run import Command, answers
    from procedo.core.processes import die_with_parent
    from procedo.testing import free_port

    port = free_port()
    argv = Command()._gunicorn_argv("127.0.0.1", port, workers)
    with log.open("ab") as output:
        # Dies with the bench (even SIGKILLed), as `procedo run`'s children do.
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=die_with_parent(),
        )
    try:
        deadline = time.monotonic() + 60
        while not answers("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log}")
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.ingest_settings"}


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    from procedo.core.processes import die_with_parent

    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "procedo", "run_huey"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Run:
    """One timed load: requests answered, 2xx, seconds, p50 and p99 (seconds)."""

    def __init__(self, requests: int, ok: int, seconds: float, p50: float, p99: float) -> None:
        self.requests, self.ok, self.seconds, self.p50, self.p99 = requests, ok, seconds, p50, p99


def _wrk(url: str, bodies_file: Path, prefix: str, seconds: float, script: Path) -> Run:
    answer = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONCURRENCY}",
            f"-d{max(1, round(seconds))}s",
            "-s",
            str(script),
            url,
            "--",
            str(bodies_file),
            prefix,
            str(DUPLICATES),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in answer.stdout.splitlines() if x.startswith("WRK "))
    requests, duration, errors, p50, p99 = (int(x) for x in line.split()[1:])
    return Run(requests, requests - errors, duration / 1e6, p50 / 1e6, p99 / 1e6)


def _python(port: int, path: str, bodies: list[tuple[str, bytes]], prefix: str, s: float) -> Run:
    import random

    rng = random.Random(prefix)

    def make(n: int) -> bytes:
        if n > 10 and rng.random() < DUPLICATES:
            n = rng.randrange(n)
        signature, body = bodies[n % len(bodies)]
        return loadgen.request_bytes(
            path,
            {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Webhook-Id": f"{prefix}-{n}",
            },
            body,
        )

    outcome = loadgen.load(port, make, concurrency=CONCURRENCY, seconds=s)
    answered = sum(outcome.statuses.values())
    return Run(
        answered, outcome.ok, outcome.seconds, outcome.percentile(0.5), outcome.percentile(0.99)
    )


def run(*, scale: float) -> None:
    connection = _connection()
    template = _order_template()
    bodies = []
    for n in range(200):
        body = order_body(template, n)
        bodies.append((signatures.shopify_sign(SECRET, body), body))
    var = Path(settings.VAR_DIR)
    env = _env()
    log = var / "b1-web.log"
    seconds = max(3.0, 10.0 * scale)
    hook = f"/hooks/shopify/{connection.key}/"
    use_wrk = shutil.which("wrk") is not None
    with tempfile.TemporaryDirectory() as scratch, web_server(env, log) as port:
        bodies_file = Path(scratch) / "bodies.tsv"
        bodies_file.write_bytes(b"".join(s.encode() + b"\t" + b + b"\n" for s, b in bodies))
        script = Path(scratch) / "b1.lua"
        script.write_text(WRK_SCRIPT)

        def once(path: str, prefix: str, s: float) -> Run:
            if use_wrk:
                return _wrk(f"http://127.0.0.1:{port}{path}", bodies_file, prefix, s, script)
            return _python(port, path, bodies, prefix, s)

        once("/bench/hello/", "warm", 2)
        once(hook, "warm", 2)
        hello_runs, ingest_runs, stored_rates, drains = [], [], [], []
        for round_n in range(3):
            hello_runs.append(once("/bench/hello/", f"h{round_n}", seconds))
            before = Delivery.objects.count()
            ingest = once(hook, f"r{round_n}", seconds)
            drained = _spool_drained()
            stored = Delivery.objects.count() - before
            # Every acknowledged delivery is a row; wrk stops with requests still in flight,
            # which may be stored without their answer having been counted.
            assert stored >= ingest.ok, (stored, ingest.ok)
            ingest_runs.append(ingest)
            # Rows in the table, until the last of them is: the spool's lag counts against it.
            stored_rates.append(stored / (ingest.seconds + drained))
            drains.append(drained)
        _report(connection, hello_runs, ingest_runs, stored_rates, use_wrk)
        if spooling.spool_directory() is not None:
            print(
                "  B1     through the spool (PROCEDO_HOOK_SPOOL): the last row in the table"
                f" {max(drains) * 1000:.0f} ms after the last answer at most"
            )
        _lag(connection, template, env, var, port, scale)


def _spool_drained(timeout: float = 120) -> float:
    """Seconds until what the web server spooled is all in the table (0 without a spool)."""
    directory = spooling.spool_directory()
    started = time.monotonic()
    while directory is not None and spooling.spool_backlog(directory):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the spool in {directory} was not moved in {timeout:g} s")
        time.sleep(0.005)
    return time.monotonic() - started


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _report(
    connection: Connection,
    hello_runs: list[Run],
    ingest_runs: list[Run],
    stored_rates: list[float],
    use_wrk: bool,
) -> None:
    hello_rate = _median([r.ok / r.seconds for r in hello_runs])
    stored_rate = _median(stored_rates)
    ratio = stored_rate / hello_rate if hello_rate else float("nan")
    bad = sum(r.requests - r.ok for r in ingest_runs)
    duplicates = Delivery.objects.filter(connection=connection).count() - (
        Delivery.objects.filter(connection=connection).values("event_id").distinct().count()
    )
    tool = "wrk" if use_wrk else "bench/loadgen.py"
    print(
        f"  B1   ingest: signed orders/create, {CONCURRENCY} connections ({tool}),"
        f" {_median([r.seconds for r in ingest_runs]):.0f} s × 3, median"
    )
    print(
        f"  B1     stored {stored_rate:>8,.0f} deliveries/s   hello-world {hello_rate:>8,.0f}"
        f" requests/s   ratio {ratio:5.2f}  (goal ≥ {GOAL_RATIO})"
    )
    p50, p99 = (_median([getattr(r, p) for r in ingest_runs]) * 1000 for p in ("p50", "p99"))
    print(
        f"  B1     latency ingest p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        f" (goal < {GOAL_P99 * 1000:.0f} ms);"
        f" hello p99 {_median([r.p99 for r in hello_runs]) * 1000:.1f} ms;"
        f" non-2xx {bad}; repeated event ids stored {duplicates:,}"
    )


def _lag(
    connection: Connection,
    template: dict[str, Any],
    env: dict[str, str],
    var: Path,
    port: int,
    scale: float,
) -> None:
    seconds = max(10.0, 60.0 * scale)
    total = int(LAG_RATE * seconds)
    hook = f"/hooks/shopify/{connection.key}/"
    # Deliveries B1 left are not B1b's to wait for: they are marked done.
    Delivery.objects.filter(state="received").update(
        state="processed", processed_at=F("received_at")
    )
    make = _new_orders(hook, template, total, first=1_000_000, prefix="b1b")

    with worker(env, var / "b1-worker.log"):
        # Bounded: a server that cannot keep up ends the sending, and says so below.
        outcome = loadgen.load(
            port, make, concurrency=CONCURRENCY, rate=LAG_RATE, seconds=seconds * 1.5 + 10
        )
        sent_for = outcome.seconds
        _spool_drained()
        deadline = time.monotonic() + max(60.0, seconds * 2)
        waiting = _b1b().filter(state="received")
        while waiting.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    rows = list(_b1b().values_list("received_at", "processed_at", "state"))
    lags = sorted((done - got).total_seconds() for got, done, _ in rows if done is not None)
    states = {state: sum(1 for *_, s in rows if s == state) for state in {s for *_, s in rows}}
    spread = (
        f"p50 {statistics.median(lags):.2f} s, p95 {lags[int(0.95 * (len(lags) - 1))]:.2f} s,"
        f" max {lags[-1]:.2f} s"
        if lags
        else "none processed"
    )
    print(
        f"  B1b  lag: {total:,} deliveries at {LAG_RATE:.0f}/s, sent in {sent_for:.1f} s"
        f" ({outcome.ok:,} acknowledged, p99 {outcome.percentile(0.99) * 1000:.0f} ms);"
        f" {states}"
    )
    print(f"  B1b    stored → order row {spread} (goal p95 < {GOAL_LAG_P95:g} s)")
    _capacity(hook, template, env, var, port, total)


def _new_orders(
    hook: str, template: dict[str, Any], total: int, *, first: int, prefix: str
) -> Callable[[int], bytes | None]:
    """The load generator's n-th request: a new order, signed, its webhook id `prefix-n`."""

    def make(n: int) -> bytes | None:
        if n >= total:
            return None
        body = order_body(template, first + n)
        return loadgen.request_bytes(
            hook,
            {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": signatures.shopify_sign(SECRET, body),
                "X-Shopify-Webhook-Id": f"{prefix}-{n}",
            },
            body,
        )

    return make


def _capacity(
    hook: str, template: dict[str, Any], env: dict[str, str], var: Path, port: int, lag_total: int
) -> None:
    """What the worker applies alone: a backlog stored while it is stopped, then taken up
    (its own rate, without the web server's and the hook's share of the 2 cores)."""
    make = _new_orders(hook, template, lag_total // 2, first=2_000_000, prefix="b1c")
    stored = loadgen.load(port, make, concurrency=CONCURRENCY).ok
    _spool_drained()
    waiting = Delivery.objects.filter(event_id__startswith="b1c-", state="received")
    started = time.monotonic()
    with worker(env, var / "b1-worker.log"):
        deadline = started + 300
        while waiting.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        seconds = time.monotonic() - started  # the worker's start-up included
    left = waiting.count()
    print(
        f"  B1b  capacity: the worker alone took up a backlog of {stored:,} in {seconds:.1f} s"
        f" ({(stored - left) / seconds:,.0f} deliveries/s, each a new order"
        f"{f'; {left:,} left' if left else ''})"
    )


def _b1b() -> Any:
    return Delivery.objects.filter(event_id__startswith="b1b-")
