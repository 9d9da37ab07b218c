"""`procedo run`: migrate, compile translations, load the demo store once, then serve and work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from procedo.core.envconfig import ConfigError
from procedo.core.preflight import database_check, redis_check

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Run Procedo: a production WSGI server (gunicorn) and the Huey worker, supervised."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo store.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            database_check()
            redis_check()
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("compile_locale", verbosity=0)
        if not options["no_demo"]:
            call_command("demo", verbosity=1)
        self._supervise(options)

    def _supervise(self, options: dict[str, Any]) -> None:
        bind = f"{options['host']}:{options['port']}"
        web = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                bind,
                "--workers",
                str(options["web_workers"]),
                "--threads",
                "4",
                "--graceful-timeout",
                str(STOP_GRACE_SECONDS - 5),
                "--access-logfile",
                "-",
            ]
        )
        worker = subprocess.Popen([sys.executable, "-m", "procedo", "run_huey"])
        children = {"web server": web, "worker": worker}
        self.stdout.write(
            self.style.SUCCESS(f"Procedo is running at http://{bind}/")
            + "  (Ctrl-C stops the web server and the worker)"
        )
        login_file = settings.VAR_DIR / "demo-login.txt"
        if login_file.exists():
            self.stdout.write(login_file.read_text().strip())

        stopping = False

        def stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"the {name} exited with {child.returncode}; stopping")
                    stopping, exit_code = True, 1
            time.sleep(0.5)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("Procedo stopped.")
        if exit_code:
            raise SystemExit(exit_code)
