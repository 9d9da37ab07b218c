"""R1 and R6 larger than in the suite: the same storm (procedo/integrations/tests/storm.py)
with 50 × scale pairs of connections (~11 deliveries each), the web server and the
worker SIGKILLed four times, then the database locked (SQLite) or cut off (PostgreSQL:
connections refused and ended, the shared server is not restarted) twice. It asserts what
the tests assert and prints the figures."""

from __future__ import annotations

import tempfile
from pathlib import Path


def run(*, scale: float) -> None:
    from procedo.integrations.tests import storm, test_storm

    pairs = max(2, round(50 * scale))
    with tempfile.TemporaryDirectory(prefix="procedo-r1-") as var:
        for label, disturb, at, env in (
            ("R1", test_storm.r1_disturb, (0.2, 0.4, 0.6, 0.8), {}),
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
                timeout=600,
            )
