"""What every B8 worker shares: the data files, the database URL, timing, the result line.

Standard library only: it runs inside the peers' virtual environments, where
Procedo is not installed (imported there as `harness`, from this directory).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

RESULT_PREFIX = "B8-RESULT "
RUNS = 10  # timed runs per read, after one warm-up
RUN_BUDGET = 20.0  # seconds per read: slow peers stop early, after at least 3 runs


@dataclass(frozen=True)
class Customer:
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164
    created_at: str  # ISO 8601, UTC
    country: str


@dataclass(frozen=True)
class Order:
    customer: int  # index into the customers file
    number: str
    total: str  # decimal
    placed_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Probes:
    """What every CRM is asked, computed once from the data."""

    page_size: int
    deep_offset: int  # rows before the deep page, newest first
    email: str  # one customer's whole address
    name_prefix: str
    batch_sizes: list[int]  # batches of creates, the first one a warm-up


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="sqlite:///path or postgresql://…")
    parser.add_argument("--data", required=True, type=Path, help="the directory of the CSVs")
    return parser.parse_args()


def django_database(url: str, *, postgres_engine: str = "django.db.backends.postgresql") -> dict:
    """The DATABASES['default'] of `url`, without dj-database-url (not in the peers' venvs)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path)}
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": postgres_engine,
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise SystemExit(f"unsupported database URL scheme {parts.scheme!r}")


def customers(data: Path) -> list[Customer]:
    with (data / "customers.csv").open(newline="", encoding="utf-8") as handle:
        return [Customer(*row) for row in csv.reader(handle)]


def orders(data: Path) -> list[Order]:
    with (data / "orders.csv").open(newline="", encoding="utf-8") as handle:
        return [Order(int(row[0]), row[1], row[2], row[3]) for row in csv.reader(handle)]


def creates(data: Path) -> list[Customer]:
    """New contacts for the create batches, the same for every CRM."""
    with (data / "creates.csv").open(newline="", encoding="utf-8") as handle:
        return [Customer(*row) for row in csv.reader(handle)]


def probes(data: Path) -> Probes:
    return Probes(**json.loads((data / "probes.json").read_text(encoding="utf-8")))


def timed(call: Callable[[], object], *, runs: int = RUNS, budget: float = RUN_BUDGET) -> float:
    """Median milliseconds of `runs` calls after a warm-up (at least 3 within `budget`)."""
    call()
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < runs and (len(times) < 3 or time.perf_counter() < deadline):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def create_rate(create: Callable[[Customer], object], batches: list[list[Customer]]) -> float:
    """Median contacts per second over the batches after the first (a warm-up)."""
    rates = []
    for index, batch in enumerate(batches):
        started = time.perf_counter()
        for row in batch:
            create(row)
        if index:
            rates.append(len(batch) / (time.perf_counter() - started))
    return statistics.median(rates)


def batches(data: Path) -> list[list[Customer]]:
    rows, start, out = creates(data), 0, []
    for size in probes(data).batch_sizes:
        out.append(rows[start : start + size])
        start += size
    return out


def emit(result: dict[str, Any]) -> None:
    """The one line the bench reads back (everything else a worker prints is progress)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def progress(name: str, message: str) -> None:
    print(f"  B8   {name}: {message}", flush=True)
