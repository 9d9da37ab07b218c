"""A sender process for the fault tests: sends due email and SMS until it is killed.

    python -m procedo.messaging.tests.sender [batch] [sms batch]

The worker's send loop (`messages_send_batch`, a batch of each channel in turn)
without Huey around it, so a test can run it as a real process and SIGKILL it
at any instruction. EMAIL_URL and SMS_URL say where the servers are.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request

import django


def main() -> None:
    django.setup()
    from django.db import close_old_connections

    from procedo.messaging.services.sending import messages_send_batch

    # Who is asking, for the fault test's SMS provider (TwilioProvider uses urlopen).
    opener = urllib.request.build_opener()
    opener.addheaders = [("User-Agent", f"r3-sender/{os.getpid()}")]
    urllib.request.install_opener(opener)
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    batches = {"email": batch, "sms": int(sys.argv[2]) if len(sys.argv) > 2 else batch}
    while True:
        handled = 0
        for channel, limit in batches.items():
            try:
                report = messages_send_batch(limit=limit, channel=channel)
                handled += report.handled + report.released
            except Exception as exc:  # a lock timeout, a lost connection: again, as Huey would
                print(f"sender: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                close_old_connections()
                time.sleep(0.05)
        if not handled:
            time.sleep(0.05)


if __name__ == "__main__":
    main()
