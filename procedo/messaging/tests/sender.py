"""A sender process for the fault tests: sends due email until it is killed.

    python -m procedo.messaging.tests.sender [batch]

The worker's send loop (`messages_send_batch`) without Huey around it, so a test
can run it as a real process and SIGKILL it at any instruction. EMAIL_URL says
where the SMTP server is.
"""

from __future__ import annotations

import sys
import time

import django


def main() -> None:
    django.setup()
    from django.db import close_old_connections

    from procedo.messaging.sending import messages_send_batch

    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    while True:
        handled = 0
        try:
            report = messages_send_batch(limit=batch)
            handled = report.handled + report.released
        except Exception as exc:  # a lock timeout, a lost connection: try again, as Huey would
            print(f"sender: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            close_old_connections()
            time.sleep(0.05)
        if not handled:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
