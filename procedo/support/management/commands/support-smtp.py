"""`procedo support-smtp --port 2525`: the support inbox's mail server, until stopped."""

from __future__ import annotations

import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller
from django.core.management.base import BaseCommand

from procedo.support.smtp import InboxHandler


class Command(BaseCommand):
    help = "Receive the support address's email over SMTP and put each message in the inbox."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)

    def handle(self, *args: Any, **options: Any) -> None:
        controller = Controller(InboxHandler(), hostname=options["host"], port=options["port"])
        controller.start()
        self.stdout.write(f"support inbox: SMTP on {options['host']}:{options['port']}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
