"""The bench's arguments and B8's refusals: fast, no timing, nothing installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import b8_peers

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scale", [0, -0.5, float("nan"), float("inf")])
def test_b8_refuses_a_scale_that_is_not_above_zero(scale):
    with pytest.raises(ValueError, match="B8: --scale must be a number greater than 0"):
        b8_peers.sizes(scale)


def test_b8_scales_customers_and_orders():
    assert b8_peers.sizes(1) == (100_000, 300_000)
    assert b8_peers.sizes(0.1) == (10_000, 30_000)


@pytest.mark.parametrize("scale", ["0", "-1", "nan", "many"])
def test_the_bench_refuses_a_scale_that_is_not_above_zero(scale):
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "B8", "--scale", scale],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert f"argument --scale: must be a number greater than 0, not '{scale}'" in done.stderr
    assert done.stdout == ""  # refused before any database or peer was touched


def test_a_peer_that_does_not_start_is_named_with_its_last_error(tmp_path):
    failing = [sys.executable, "-c", "import sys; print('starting'); sys.exit('no module crm')"]
    reason = b8_peers._worker("Peer", failing, {}, tmp_path)
    assert reason == "exited with 1: no module crm"


def test_a_worker_result_is_read_from_its_result_line(tmp_path):
    line = f"print({b8_peers.RESULT_PREFIX!r} + '{{\"creates_per_s\": 5}}')"
    result = b8_peers._worker("Peer", [sys.executable, "-c", line], {}, tmp_path)
    assert result == {"creates_per_s": 5}


def test_a_worker_that_hangs_is_stopped(tmp_path):
    hanging = [sys.executable, "-c", "import time; time.sleep(60)"]
    assert b8_peers._worker("Peer", hanging, {}, tmp_path, timeout=0.5) == "stopped after 0.5 s"
