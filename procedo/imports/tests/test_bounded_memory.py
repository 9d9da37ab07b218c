"""Imports stream: the worker's memory stays flat whatever the file, and every limit is named.

Each import here runs in a fresh Python process so that its peak resident
memory is the import's own: VmHWM, the high-water mark of the process's own
memory (getrusage's ru_maxrss would carry over the test runner's, which Linux
keeps across fork and exec). The files are crafted to
be small on disk and huge once read: what a worker would be handed by mistake
or on purpose.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/status").exists(), reason="peak memory is read from Linux's /proc"
    ),
]

HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROW = b"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,UK\n"

# Python, Django and the import code take about 70 MB before the first row;
# holding the rows below as the importer did before streaming took over 400 MB.
PEAK_BOUND_MB = 250

_CHILD = """
import json, sys, zoneinfo
from pathlib import Path
import django
django.setup()
from procedo.core.errors import DomainError
from procedo.imports.csvfiles import RejectedReport
from procedo.imports.orders import import_orders

outcome = {}
with RejectedReport(Path(sys.argv[2])) as report:
    try:
        result = import_orders(path=Path(sys.argv[1]), source="bomb", currency="GBP",
                               zone=zoneinfo.ZoneInfo("Europe/London"), report=report)
        outcome = {"rows": result.rows_total, "rejected": result.rows_rejected}
    except DomainError as exc:
        outcome = {"field": exc.field, "refused": exc.message}
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
outcome["peak_mb"] = peak_kb / 1024
print(json.dumps(outcome))
"""


def _bomb(path: Path, rows: int) -> Path:
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(HEADER)
        block = ROW * 10_000
        for _ in range(rows // 10_000):
            handle.write(block)
    return path


def _import_in_child(path: Path, tmp_path: Path, **env: str) -> dict[str, object]:
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "PROCEDO_VAR": str(tmp_path / "var"),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(tmp_path / "report.csv")],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=settings.BASE_DIR,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_order_of_300_000_lines_is_rejected_without_holding_them(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "one-order.csv.gz", 300_000)
    assert path.stat().st_size < 200_000  # 30 MB of CSV once uncompressed

    outcome = _import_in_child(path, tmp_path)

    assert outcome["rows"] == outcome["rejected"] == 300_000
    assert float(outcome["peak_mb"]) < PEAK_BOUND_MB, outcome  # type: ignore[arg-type]
    with open(tmp_path / "report.csv", encoding="utf-8") as report:
        next(report)
        assert "order 536365 has more than 5000 lines" in next(report)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PROCEDO_IMPORT_MAX_ROWS": "100000"},
            "The file has more than 100000 rows (the limit, PROCEDO_IMPORT_MAX_ROWS).",
        ),
        (
            {"PROCEDO_IMPORT_MAX_MB": "20"},
            "The file is larger than 20 MB once uncompressed (the limit, PROCEDO_IMPORT_MAX_MB).",
        ),
    ],
)
def test_a_gzip_bomb_is_refused_at_the_limit_it_passes(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    path = _bomb(tmp_path / "bomb.csv.gz", 1_000_000)  # 90 MB inflated from 0.3 MB

    outcome = _import_in_child(path, tmp_path, **env)

    assert outcome["field"] == "file" and outcome["refused"] == message
    assert float(outcome["peak_mb"]) < PEAK_BOUND_MB, outcome  # type: ignore[arg-type]


def test_a_line_without_end_is_refused_at_a_megabyte(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(HEADER)
        for _ in range(200):
            handle.write(b"x" * 1_000_000)

    outcome = _import_in_child(path, tmp_path)

    assert outcome["refused"] == ("Line 2 is longer than 1048576 characters; is this a CSV file?")
    assert float(outcome["peak_mb"]) < PEAK_BOUND_MB, outcome  # type: ignore[arg-type]
