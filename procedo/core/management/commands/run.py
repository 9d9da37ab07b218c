"""`procedo run`: migrate, compile translations, load the demo store once, then serve and work.

The command then stays as the supervisor of two children, the web server (gunicorn) and the
worker (`run_huey`). A child that dies is restarted after a back-off (1, 2, 4 … 30 s), with one
line on stderr. A child that dies CRASH_LIMIT times within CRASH_WINDOW seconds will not get
better by itself: the supervisor stops the other one and exits 1, so that systemd (or any
process manager) restarts Procedo whole. Never half-alive.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from procedo.core.envconfig import LOOPBACK_OF_WILDCARD, int_parse, port_parse, served_url
from procedo.core.preflight import database_check, listen_check, redis_check
from procedo.core.processes import die_with_parent

STOP_GRACE_SECONDS = 15
POLL_SECONDS = 0.25
RESTART_DELAY_FIRST = 1.0
RESTART_DELAY_MAX = 30.0
CRASH_LIMIT = 5
CRASH_WINDOW = 60.0
# A child that stayed up this long crashed for a new reason: its back-off starts over.
STABLE_AFTER = 60.0
# sockaddr_un.sun_path is 108 bytes on Linux, the trailing NUL included.
UNIX_SOCKET_PATH_MAX = 107


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    delay: float = RESTART_DELAY_FIRST
    deaths: deque[float] = field(default_factory=deque)
    answered: bool = False  # the web server: this process has answered HTTP

    def start(self, preexec: Callable[[], None] | None) -> None:
        # Its own process group, so that what it leaves behind can be found (below), and
        # Ctrl-C reaches only the supervisor, which stops the children in order.
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.argv, process_group=0, preexec_fn=preexec
        )
        self.started_at = time.monotonic()
        self.answered = False

    def kill_leftovers(self) -> None:
        """gunicorn's workers outlive a killed master for a while, still accepting on the
        port: a restarted master could not bind it, and an orphan would answer in its name."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):  # nothing was left
                os.killpg(self.process.pid, signal.SIGKILL)

    def died(self, now: float) -> float | None:
        """Record a death; the delay before the restart, or None when it is time to give up."""
        self.kill_leftovers()
        self.process = None
        self.deaths.append(now)
        while now - self.deaths[0] > CRASH_WINDOW:
            self.deaths.popleft()
        if len(self.deaths) >= CRASH_LIMIT:
            return None
        if now - self.started_at >= STABLE_AFTER:
            self.delay = RESTART_DELAY_FIRST
        delay, self.delay = self.delay, min(self.delay * 2, RESTART_DELAY_MAX)
        self.restart_at = now + delay
        return delay


def how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def answers(host: str, port: int) -> bool:
    """Any HTTP answer counts: the server is up even if this Host gets a 400."""
    # Generous: the first request of a fresh worker loads the URLconf and templates.
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("HEAD", "/")
        connection.getresponse()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True


class Command(BaseCommand):
    help = "Run Procedo: a production WSGI server (gunicorn) and the Huey worker, supervised."

    def add_arguments(self, parser: CommandParser) -> None:
        # Strings, checked in handle(): argparse would answer a bad number with its usage text.
        parser.add_argument("--host", help="Address to listen on (default: $HOST or 127.0.0.1).")
        parser.add_argument("--port", help="Port to listen on (default: $PORT or 8000).")
        parser.add_argument("--web-workers", default="2", help="gunicorn worker processes.")
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo store.")

    def handle(self, *args: Any, **options: Any) -> None:
        host_name, host = (
            ("--host", options["host"])
            if options["host"] is not None
            else ("HOST", os.environ.get("HOST") or "127.0.0.1")
        )
        port_name, port_raw = (
            ("--port", options["port"])
            if options["port"] is not None
            else ("PORT", os.environ.get("PORT") or "8000")
        )
        port = port_parse(port_name, port_raw)
        web_workers = int_parse("--web-workers", options["web_workers"], low=1, high=64)
        # ConfigError goes up to procedo.cli, which prints it as one line.
        listen_check(host, port, host_name=host_name, port_name=port_name)
        database_check()
        redis_check()
        self._base_url_follow(served_url(host, port))
        # A first start takes minutes (migrations, the demo store): each step says so
        # as it begins, so that the console is never silent for long.
        pending = self._migrations_pending()
        if pending:
            self._progress(f"Preparing the database: {pending} migrations to apply…")
        call_command("migrate", interactive=False, verbosity=0)
        self._progress("Collecting static files and compiling translations…")
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("compile_locale", verbosity=0)
        if not options["no_demo"]:
            call_command("demo", verbosity=1)
        self._progress("Starting the web server and the worker…")
        exit_code = self._supervise(host, port, web_workers)
        if exit_code:
            raise SystemExit(exit_code)

    def _base_url_follow(self, url: str) -> None:
        """Links in emails point where this run serves, for --port as for PORT.

        Settings took PROCEDO_BASE_URL's default from PORT; `--port` serves elsewhere.
        Unless the variable is set (a real address behind a proxy), this process (the
        demo store's messages) and the children (the worker renders the unsubscribe
        link) use the address actually served.
        """
        if not os.environ.get("PROCEDO_BASE_URL"):
            os.environ["PROCEDO_BASE_URL"] = url
            settings.PROCEDO_BASE_URL = url

    def _migrations_pending(self) -> int:
        executor = MigrationExecutor(connection)
        return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _say(self, line: str) -> None:
        self.stderr.write(f"procedo: {line}")
        self.stderr.flush()

    def _supervise(self, host: str, port: int, web_workers: int) -> int:
        web = Child("web server", self._gunicorn_argv(host, port, web_workers))
        worker = Child("worker", [sys.executable, "-m", "procedo", "run_huey"])
        children = [web, worker]
        # The wildcard addresses cannot be visited; their loopback twin can.
        local_host = LOOPBACK_OF_WILDCARD.get(host, host)
        url = f"{served_url(host, port)}/"

        stopping = False

        def stop(_signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        # SIGHUP too: a closed terminal must not kill the supervisor and leave the children.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        preexec = die_with_parent()
        exit_code = 0
        announced = False
        try:
            for child in children:
                child.start(preexec)
            while not stopping:
                now = time.monotonic()
                for child in children:
                    if child.process is None:
                        if now >= child.restart_at:
                            child.start(preexec)
                        continue
                    returncode = child.process.poll()
                    if returncode is None:
                        continue
                    delay = child.died(now)
                    if delay is None:
                        self._say(
                            f"the {child.name} {how_it_ended(returncode)}: {CRASH_LIMIT} exits"
                            f" within {CRASH_WINDOW:g} s; stopping Procedo (exit status 1)"
                            " for the process manager to start it again"
                        )
                        stopping, exit_code = True, 1
                        break
                    self._say(
                        f"the {child.name} {how_it_ended(returncode)}; restarting it in {delay:g} s"
                    )
                if not stopping and web.process is not None and not web.answered:
                    web.answered = answers(local_host, port)
                    if web.answered and not announced:
                        announced = True
                        self._announce(url)
                    elif web.answered:
                        self._say(f"the web server answers again at {url}")
                time.sleep(POLL_SECONDS)
        finally:
            self._stop(children)
        self.stdout.write("Procedo stopped.")
        return exit_code

    def _gunicorn_argv(self, host: str, port: int, web_workers: int) -> list[str]:
        # gunicorn's own default is one control socket per user ($XDG_RUNTIME_DIR or
        # ~/.gunicorn): a second installation would take it over, and stopping either one
        # would delete it. Each installation keeps its own beside its data.
        control = settings.VAR_DIR / "gunicorn.ctl"
        control_args = (
            ["--control-socket", str(control)]
            if len(os.fsencode(control)) <= UNIX_SOCKET_PATH_MAX
            else ["--no-control-socket"]
        )
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            host_port(host, port),
            "--workers",
            str(web_workers),
            "--threads",
            "4",
            "--graceful-timeout",
            str(STOP_GRACE_SECONDS - 5),
            "--access-logfile",
            "-",
            *control_args,
        ]

    def _announce(self, url: str) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"Procedo is running at {url}")
            + "  (Ctrl-C stops the web server and the worker)"
        )
        login_file = settings.VAR_DIR / "demo-login.txt"
        if login_file.exists():
            self.stdout.write(login_file.read_text().strip())
        self.stdout.flush()

    def _stop(self, children: list[Child]) -> None:
        running = [(child, child.process) for child in children if child.process is not None]
        for _child, process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child, process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            child.kill_leftovers()
