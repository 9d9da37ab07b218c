"""Helpers the tests of every app share: people and their clients, draining a consumer,
real processes on the test database, a real SMTP server on loopback.

Test code only: nothing in the product imports this module. Fixtures live in the root
conftest.py; these are plain functions a test calls with what it has made.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller
from django.core.servers.basehttp import WSGIServer
from django.db import connection, connections
from django.test import Client

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.events import selectors as event_selectors
from procedo.events.registry import EventHandler
from procedo.events.services.consumers import consumer_drain

PASSWORD = "correct-horse-battery-staple"
_people = itertools.count(1)


def person(role: str = Role.MANAGER, **extra: Any) -> User:
    """A member of staff made by the service, who logs in with PASSWORD."""
    return account_services.user_create(
        username=extra.pop("username", f"{role}-{next(_people)}"),
        password=PASSWORD,
        role=role,
        **extra,
    )


def logged_in(user: User) -> Client:
    """A browser session of `user` (pages, htmx, and the API's session auth)."""
    client = Client()
    client.force_login(user)
    return client


def token_of(user: User) -> str:
    """A fresh API token of `user` (its plaintext, as the profile page shows it once)."""
    issued = account_services.api_token_issue(user=user, name="t", expires_in_days=None, actor=user)
    return issued.plaintext


def bearer(user: User) -> dict[str, Any]:
    """The header that authenticates `user` to the API, to pass as `**bearer(user)`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token_of(user)}"}


def token_client(user: User) -> Client:
    """A client that sends `user`'s API token with every request, as a script would."""
    return Client(headers={"Authorization": f"Bearer {token_of(user)}"})


def api_caller(user: User, prefix: str = "/api") -> Callable[..., Any]:
    """`call(method, path, body=None, **headers)`: JSON to `prefix + path` with `user`'s token;
    `headers` are named as in HTTP (`**{"Idempotency-Key": "k"}`)."""
    client = token_client(user)

    def call(method: str, path: str, body: Any = None, **headers: str) -> Any:
        if method == "get":
            return client.get(f"{prefix}{path}", body or {}, headers=headers)
        return getattr(client, method)(
            f"{prefix}{path}", body or {}, content_type="application/json", headers=headers
        )

    return call


def browser_log_in(page: Any, live_server: Any, username: str) -> None:
    """Log in through the real form in chromium, as a person does; returns once the app shows."""
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".topbar")


def consumer_catch_up(
    *, name: str, handler: EventHandler, timeout: float = 120.0, **options: Any
) -> int:
    """Drain consumer `name` until it has read every event committed so far; the events read.

    On PostgreSQL a drain reads only transactions older than the oldest one still running
    in this database (`VisibleHorizon`): a transaction open elsewhere holds it back for a
    while. It never skips, so draining again until nothing committed is left behind proves
    the same as one drain on an idle server.

    A test that is one transaction (`django_db` without `transaction=True`) reads the events
    it wrote itself: the horizon passes its own transaction only once a newer one has ended
    on the server (`pg_snapshot_xmax`), which on an idle server is a minute away (the next
    autovacuum). So while held back it ends one, on a connection of its own.
    """
    deadline = time.monotonic() + timeout
    read = 0
    while True:
        read += consumer_drain(name=name, handler=handler, **options)
        if not event_selectors.events_held_back(names=[name]):
            return read
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            _end_a_newer_transaction()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the consumer {name} did not catch up with the log in {timeout:.0f} s; "
                f"the oldest transaction on the server: {oldest_transaction()}"
            )
        time.sleep(0.05)


def side_connection(*, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A second PostgreSQL connection to the tests' database: another worker or process."""
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key not in ("cursor_factory", "context", "prepare_threshold")
    }
    return psycopg.connect(**params, autocommit=autocommit)


def _end_a_newer_transaction() -> None:
    with side_connection(autocommit=True) as side:
        side.execute("SELECT pg_current_xact_id()")  # takes a transaction id and commits


def oldest_transaction() -> str:
    """What holds a PostgreSQL reader's horizon back: the oldest transaction on the server
    with a transaction id, whichever database it is in."""
    if connection.vendor != "postgresql":
        return "none (SQLite)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # this transaction's copy may be old
        cursor.execute(
            "SELECT datname, pid, state, now() - xact_start, left(query, 120)"
            " FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            " ORDER BY xact_start LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        return "none"
    database, pid, state, age, query = row
    return f"database {database}, pid {pid}, {state} for {age}: {query}"


def child_env(var: Path, **extra: str) -> dict[str, str]:
    """The environment of a real process (worker, sender, `procedo …`) on the test database,
    with its own PROCEDO_VAR; on Huey's SQLite queue unless `extra` names a REDIS_URL."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{settings['NAME']}"
    else:
        database_url = (
            f"postgresql://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}"
        )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        PROCEDO_VAR=str(var),
        **extra,
    )
    return env


def in_threads(*targets: Callable[[], None], timeout: float = 10) -> None:
    """Each target at once in a thread of its own, on its own database connection (closed
    as it ends), as two requests or two workers race; back when all have ended or
    `timeout` has passed. A target reports its outcome by what it writes down."""

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)


def process_alive(pid: int) -> bool:
    """The process runs (a zombie, dead but not yet reaped, does not); Linux's /proc."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def process_children(pid: int) -> dict[int, str]:
    """The live child processes of `pid`: pid → command line (Linux's /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


@contextmanager
def worker_process(env: dict[str, str], *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker (`procedo run_huey` with `options`) on `env`, stopped at the end."""
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "procedo", "run_huey", *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Recorder:
    """The SMTP server's handler: keeps what it accepted; `script` decides the reply to each
    DATA (default 250)."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.script: Callable[[EmailMessage], str | None] = lambda msg: None
        self.rcpt_reply: Callable[[str], str | None] = lambda address: None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_reply(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        reply = self.script(message)
        if reply == "drop":
            # Accepted, then the connection dies before the sender reads the 250.
            with self.lock:
                self.received.append(message)
            server.transport.close()
            return "250 OK"
        if reply:
            return reply
        with self.lock:
            self.received.append(message)
        return "250 2.0.0 Ok: queued"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.received]


class SmtpServer:
    """aiosmtpd on loopback (the `smtp` fixture); `recorder` scripts its answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.recorder = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class PooledWSGIServer(WSGIServer):
    """The tests' live server, its requests served by a fixed pool of threads that keep their
    database connections between requests, as gunicorn's threads do in production.

    Django's ThreadedWSGIServer starts a thread per request and closes its connections
    after it: on PostgreSQL each request of a browser test or of schemathesis then
    opened a connection (a new backend process), which cost more than its queries.
    """

    THREADS = 8

    def __init__(self, *args: Any, connections_override: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections_override = connections_override or {}
        self._requests: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"live-server-{n}", daemon=True)
            for n in range(self.THREADS)
        ]
        for thread in self._threads:
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._requests.put((request, client_address))

    def _serve(self) -> None:
        for alias, conn in self.connections_override.items():
            connections[alias] = conn
        try:
            while (item := self._requests.get()) is not None:
                request, client_address = item
                try:
                    self.finish_request(request, client_address)
                except Exception:
                    self.handle_error(request, client_address)
                finally:
                    self.shutdown_request(request)
        finally:
            connections.close_all()

    def server_close(self) -> None:
        for _thread in self._threads:
            self._requests.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        super().server_close()
