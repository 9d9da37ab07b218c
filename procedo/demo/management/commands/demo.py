from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from procedo.accounts.models import User
from procedo.demo.load import demo_store_load

# The load is one transaction of about a minute (longer on a slow disk): a line this often
# tells the person at the console that it is still going.
HEARTBEAT_SECONDS = 15


class Command(BaseCommand):
    help = "Load the demo store the first time (does nothing once anyone has an account)."

    def handle(self, *args: Any, **options: Any) -> None:
        login_file = settings.VAR_DIR / "demo-login.txt"
        if User.objects.exists():
            if options["verbosity"] > 1:
                self.stdout.write("Accounts exist already; the demo store was not loaded.")
            return
        started = time.monotonic()
        if options["verbosity"] > 0:
            self.stdout.write(
                "Loading the demo store (first start only): staff, a catalog, a year of"
                " customers and orders, the SOP library and a working day; a minute or two…"
            )
        with self._heartbeat(started, enabled=options["verbosity"] > 0):
            login = demo_store_load()
        if login is None:  # someone made an account meanwhile
            return
        text = (
            f"Demo owner login: username {login.username!r}, password {login.password!r}\n"
            f"(other demo staff use the same password: olena, taras, iryna, maksym, sofia)"
        )
        login_file.write_text(text + "\n")
        login_file.chmod(0o600)
        seconds = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Demo store loaded in {seconds:.0f} s."))

    @contextmanager
    def _heartbeat(self, started: float, *, enabled: bool) -> Iterator[None]:
        done = threading.Event()

        def beat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                self.stdout.write(f"  … still loading ({time.monotonic() - started:.0f} s)")
                self.stdout.flush()

        thread = threading.Thread(target=beat, name="demo-heartbeat", daemon=True)
        if enabled:
            thread.start()
        try:
            yield
        finally:
            done.set()
            if enabled:
                thread.join()
