"""R1 and R6 larger than in the suite: the same storm (procedo/integrations/tests/storm.py)
with 900 × scale pairs of connections (~11 deliveries each with the repeats and the badly
signed: ~10,000 at scale 1, as ../shared/BENCHMARKS.md has it). R1 SIGKILLs the web server
and the worker in turn at every 5 % of the deliveries settled (19 times); R6 locks the
database (SQLite) or cuts it off (PostgreSQL: connections refused and ended, the shared
server is not restarted) twice. It asserts what the tests assert and prints the figures."""

from __future__ import annotations

import tempfile
from pathlib import Path

PAIRS = 900
KILLS_AT = tuple(k / 20 for k in range(1, 20))


def run(*, scale: float) -> None:
    from procedo.integrations.tests import storm, test_storm

    pairs = max(2, round(PAIRS * scale))
    with tempfile.TemporaryDirectory(prefix="procedo-r1-") as var:
        for label, disturb, at, env in (
            ("R1", test_storm.r1_disturb, KILLS_AT, {}),
            ("R6", test_storm.r6_disturb, (0.3, 0.7), {"PROCEDO_DB_LOCK_WAIT": "1"}),
        ):
            storm.storm_run(
                f"  {label}  ",
                var=Path(var) / label,
                pairs=pairs,
                seed=len(label),
                disturb=disturb,
                at=at,
                env=env,
                timeout=3600,
            )
