"""A worker process for the fault tests: reads the log and/or advances runs until it is killed.

    python -m procedo.automation.tests.worker consume|advance|both

It is an ordinary engine worker without Huey around it, so a test can start
several at once and SIGKILL them at any instruction.
"""

from __future__ import annotations

import sys
import time

import django


def main() -> None:
    django.setup()
    from django.db import close_old_connections

    from procedo.automation.services.engine import CONSUMER, engine_consume
    from procedo.automation.services.steps import runs_advance
    from procedo.events.services.consumers import consumer_run_batch

    mode = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    while True:
        done = 0
        try:
            if mode in ("consume", "both"):
                done += consumer_run_batch(name=CONSUMER, handler=engine_consume, batch_size=batch)
            if mode in ("advance", "both"):
                done += runs_advance(limit=25)
        except Exception as exc:  # a lock timeout, a lost connection: try again, as Huey would
            print(f"worker: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            close_old_connections()
            time.sleep(0.05)
        if not done:
            time.sleep(0.02)


if __name__ == "__main__":
    main()
