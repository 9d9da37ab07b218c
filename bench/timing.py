from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


def scale_argument(value: str) -> float:
    """argparse type of --scale: a finite number greater than 0 (N is scaled by it)."""
    try:
        scale = float(value)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, not {value!r}")
    return scale


@dataclass(frozen=True)
class Measured:
    seconds: float  # median of the runs
    work: int  # units done per run (events, rows, requests)

    @property
    def rate(self) -> float:
        return self.work / self.seconds if self.seconds else float("inf")


def measure(
    run: Callable[[], int],
    *,
    repeat: int = 3,
    warmup: bool = True,
    reset: Callable[[], None] | None = None,
) -> Measured:
    """Median wall time of `repeat` runs after one warm-up; `run` returns the units it did."""
    if warmup:
        run()
        if reset:
            reset()
    times: list[float] = []
    work = 0
    for _ in range(repeat):
        started = time.perf_counter()
        work = run()
        times.append(time.perf_counter() - started)
        if reset:
            reset()
    return Measured(seconds=statistics.median(times), work=work)


def report(
    bench_id: str,
    label: str,
    subject: Measured,
    baseline: Measured,
    goal: str,
    unit: str = "events/s",
) -> None:
    ratio = subject.rate / baseline.rate if baseline.rate else float("nan")
    print(
        f"  {bench_id:<4} {label:<44} {subject.rate:>12,.0f} {unit:<9}"
        f" baseline {baseline.rate:>12,.0f}  ratio {ratio:5.2f}  (goal {goal})"
    )
