"""`procedo run` as a real process tree: children killed, restarted, crash-looping; two at once.

Each test starts its own installation (SQLite under tmp_path, a free port) and kills real
processes with real signals; the children are found through /proc.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gunicorn.ctl.client import ControlClient

from procedo.testing import free_port, process_alive, process_children

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds children via /proc"),
]

WEB, WORKER = "gunicorn", "run_huey"


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


@dataclass
class Procedo:
    process: subprocess.Popen[bytes]
    port: int
    var: Path
    log: Path

    def children(self) -> dict[int, str]:
        """Live child processes of the supervisor: pid → command line."""
        return process_children(self.process.pid)

    def child(self, marker: str) -> int | None:
        pids = [pid for pid, cmdline in self.children().items() if marker in cmdline]
        assert len(pids) <= 1, pids
        return pids[0] if pids else None

    def answers(self) -> bool:
        # No redirect following: the login page's 302 is an answer.
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(f"http://127.0.0.1:{self.port}/", timeout=5)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def stdout(self) -> str:
        return (self.log / "stdout").read_text()

    def stderr(self) -> str:
        return (self.log / "stderr").read_text()

    def wait_until_up(self) -> None:
        _wait_for(
            lambda: "Procedo is running at" in self.stdout() or self.process.poll() is not None,
            "the start-up banner",
            timeout=60,
        )
        assert self.process.poll() is None, self.stderr()
        assert f"Procedo is running at http://127.0.0.1:{self.port}/" in self.stdout()
        assert self.answers()
        _wait_for(lambda: self.child(WORKER), "the worker")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PORT"}}
    env.update(PROCEDO_VAR=str(var), DJANGO_SETTINGS_MODULE="config.settings")
    return env


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installation's var/ after its first start, copied for each test: `procedo run` then
    has little to migrate or collect, and the tests spend their time on the faults."""
    var = tmp_path_factory.mktemp("template") / "var"
    for command in (["migrate"], ["collectstatic", "--no-input"]):
        subprocess.run(
            [sys.executable, "-m", "procedo", *command, "--verbosity", "0"],
            env=_env(var),
            check=True,
            timeout=120,
        )
    return var


@pytest.fixture
def start(migrated: Path, tmp_path: Path) -> Iterator[Callable[[str], Procedo]]:
    started: list[Procedo] = []

    def _start(name: str = "a") -> Procedo:
        var, log = tmp_path / name / "var", tmp_path / name / "log"
        shutil.copytree(migrated, var)
        log.mkdir(parents=True)
        port = free_port()
        argv = ["run", "--no-demo", "--port", str(port), "--web-workers", "1"]
        with (log / "stdout").open("wb") as out, (log / "stderr").open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "procedo", *argv],
                env=_env(var),
                stdout=out,
                stderr=err,
            )
        procedo = Procedo(process, port, var, log)
        started.append(procedo)
        return procedo

    yield _start
    for procedo in started:
        if procedo.process.poll() is None:
            procedo.process.terminate()
            try:
                procedo.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                procedo.process.kill()
                procedo.process.wait()


def test_a_killed_worker_is_restarted_while_the_web_server_keeps_answering(
    start: Callable[[str], Procedo],
) -> None:
    procedo = start("a")
    procedo.wait_until_up()
    web, worker = procedo.child(WEB), procedo.child(WORKER)
    assert web and worker

    os.kill(worker, signal.SIGKILL)
    _wait_for(lambda: "the worker was killed by SIGKILL" in procedo.stderr(), "the report")
    assert procedo.answers()
    _wait_for(lambda: procedo.child(WORKER) not in {None, worker}, "a new worker")
    assert "procedo: the worker was killed by SIGKILL; restarting it in 1 s" in procedo.stderr()
    assert procedo.child(WEB) == web

    procedo.process.send_signal(signal.SIGTERM)
    assert procedo.process.wait(timeout=30) == 0
    assert "Procedo stopped." in procedo.stdout()
    assert not procedo.children()


def test_a_killed_web_server_comes_back(start: Callable[[str], Procedo]) -> None:
    procedo = start("a")
    procedo.wait_until_up()
    web, worker = procedo.child(WEB), procedo.child(WORKER)
    assert web and worker

    os.kill(web, signal.SIGKILL)
    _wait_for(lambda: procedo.child(WEB) not in {None, web}, "a new web server")
    _wait_for(lambda: "the web server answers again" in procedo.stderr(), "the web server")
    assert procedo.answers()
    assert "procedo: the web server was killed by SIGKILL; restarting it in 1 s" in (
        procedo.stderr()
    )
    assert procedo.child(WORKER) == worker
    assert procedo.process.poll() is None


def test_a_worker_that_keeps_dying_stops_procedo_whole_with_status_1(
    start: Callable[[str], Procedo],
) -> None:
    procedo = start("a")
    procedo.wait_until_up()
    web = procedo.child(WEB)
    assert web
    killed: set[int] = set()
    deadline = time.monotonic() + 60
    while procedo.process.poll() is None and time.monotonic() < deadline:
        worker = procedo.child(WORKER)
        if worker and worker not in killed:
            os.kill(worker, signal.SIGKILL)
            killed.add(worker)
        time.sleep(0.05)

    assert procedo.process.wait(timeout=30) == 1
    assert len(killed) == 5
    lines = [line for line in procedo.stderr().splitlines() if line.startswith("procedo:")]
    assert lines == [
        *(
            f"procedo: the worker was killed by SIGKILL; restarting it in {delay} s"
            for delay in (1, 2, 4, 8)
        ),
        "procedo: the worker was killed by SIGKILL: 5 exits within 60 s; stopping Procedo"
        " (exit status 1) for the process manager to start it again",
    ]
    # Not half-alive: the web server went down with it.
    assert not process_alive(web)


def test_two_installations_on_one_machine_keep_to_themselves(
    start: Callable[[str], Procedo],
) -> None:
    first, second = start("first"), start("second")
    first.wait_until_up()
    second.wait_until_up()
    first_web, second_web = first.child(WEB), second.child(WEB)
    first_worker = first.child(WORKER)

    # Each gunicorn's control socket is its own, beside its own data.
    for procedo, web in ((first, first_web), (second, second_web)):
        with ControlClient(str(procedo.var / "gunicorn.ctl"), timeout=10) as client:
            assert client.send_command("show stats")["pid"] == web

    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(timeout=30) == 0
    assert first.answers()
    assert (first.child(WEB), first.child(WORKER)) == (first_web, first_worker)
    with ControlClient(str(first.var / "gunicorn.ctl"), timeout=10) as client:
        assert client.send_command("show stats")["pid"] == first_web

    # A supervisor killed outright takes its children with it: nothing keeps the port.
    assert first_web and first_worker
    first.process.kill()
    first.process.wait(timeout=10)
    _wait_for(
        lambda: not process_alive(first_web) and not process_alive(first_worker), "orphans to exit"
    )
    _wait_for(lambda: not first.answers(), "the port to close")


# Run by `procedo shell` in a process of its own, which does not know the port served.
QUEUE_A_NEWSLETTER = """
from django.db import transaction
from procedo.business import services as business
from procedo.customers.services import customers
from procedo.messaging.services.queueing import message_queue
with transaction.atomic():
    business.business_update(name="Shop", time_zone="Europe/Kyiv", currency="UAH",
                             actor_id=None, quiet_hours_start=None, quiet_hours_end=None)
    olena = customers.customer_create(first_name="Olena", emails=["olena@example.com"],
                                      email_consent="granted")
    message = message_queue(channel="email", kind="marketing", recipient="olena@example.com",
                            subject="Spring", body="Ten per cent off", idempotency_key="port:1",
                            customer_id=olena.pk)
print(message.pk)
"""


def test_the_first_start_says_what_it_does_and_email_links_follow_the_port_served(
    start: Callable[[str], Procedo],
) -> None:
    procedo = start("a")
    procedo.wait_until_up()
    said = procedo.stdout()
    assert said.index("Starting the web server and the worker") < said.index(
        "Procedo is running at"
    )

    queued = subprocess.run(
        [sys.executable, "-m", "procedo", "shell", "-c", QUEUE_A_NEWSLETTER],
        env=_env(procedo.var),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    # The worker builds the email and its unsubscribe link; with nothing configured it
    # delivers to the outbox under PROCEDO_VAR.
    outbox = procedo.var / "outbox" / f"{int(queued.stdout.split()[-1])}.eml"
    _wait_for(outbox.exists, "the worker to deliver the email to the outbox", timeout=120)
    delivered = email.message_from_bytes(outbox.read_bytes(), policy=email.policy.default)
    assert procedo.port != 8000
    link = str(delivered["List-Unsubscribe"]).strip()
    assert link.startswith(f"<http://127.0.0.1:{procedo.port}/messages/unsubscribe/")
