"""R3: the sender as real processes, SIGKILLed every ~2 s, against servers that misbehave.

The SMTP server (aiosmtpd on loopback) answers 451 or 421 to about 2 % of DATA
commands and, on about 0.5 %, takes the message and drops the connection before
its reply (the RFC 1047 window, injected and counted). The SMS provider (a local
server answering as Twilio's Messages API does) takes some requests and answers
too late for the sender's timeout, or not at all, or with a 500; refuses some
(503, retried; 400, failed). Two sender processes run the worker's send loop;
one of them is SIGKILLed every 1.5–2.5 s and restarted. Then the leases of the
killed senders run out (the clock is moved on, as a later tick would see it)
and the rows are handled as the design says.

Must hold: every message ends sent, failed or unknown; a Message-ID reaches the
server twice only when its first delivery was an injected drop or a killed
sender's hand-over (both counted); marketing mail is never re-sent from unknown;
no SMS reaches the provider twice, and none leaves `unknown` once there.

The full R3 is 5,000 messages (`PROCEDO_R3_MESSAGES=5000`); the suite runs 1,500
(1,250 emails, 250 SMS) so it stays well under a minute on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from procedo.business.models import Business
from procedo.customers.services.customers import customer_create
from procedo.events.models import Event
from procedo.messaging.models import Channel, Message, MessageKind, MessageState
from procedo.messaging.services.queueing import Outgoing, messages_queue_many
from procedo.messaging.services.sending import MAX_ATTEMPTS, RESENT_AUTOMATICALLY, messages_send_due
from procedo.testing import child_env, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MESSAGES = int(os.environ.get("PROCEDO_R3_MESSAGES", "1500"))
SMS_MESSAGES = MESSAGES // 6  # a sixth of them SMS, the rest email
EMAILS = MESSAGES - SMS_MESSAGES
MARKETING_SHARE = 3  # every third message is marketing
SID = "AC0123456789abcdef0123456789abcdef"
# The senders' SMS timeout: a provider answering later than this leaves the SMS unknown.
SMS_TIMEOUT = 0.3


class FaultyServer:
    """Answers DATA with 451/421 on ~2 % and drops the connection after DATA on ~0.5 %."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.accepted: list[str] = []  # Message-IDs answered 250
        self.dropped: list[str] = []  # Message-IDs taken, then the connection dropped
        self.refused: Counter[str] = Counter()  # "451", "421"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = BytesHeaderParser().parsebytes(envelope.content)
        message_id = str(headers["Message-ID"])
        with self.lock:
            roll = self.rng.random()
            if roll < 0.01:
                self.refused["451"] += 1
                return "451 4.3.0 Try again later"
            if roll < 0.02:
                self.refused["421"] += 1
                return "421 4.3.2 Service shutting down"
            if roll < 0.025:
                # The server has the message; the sender never reads the reply.
                self.dropped.append(message_id)
                server.transport.close()
                return "250 OK"
            self.accepted.append(message_id)
        return "250 2.0.0 Ok: queued"


class FaultyProvider(BaseHTTPRequestHandler):
    """Twilio's Messages API, counting every request it takes by (To, Body).

    Of the requests: ~3 % are taken and answered after the sender's timeout; ~1 %
    taken and the connection closed unanswered; ~1 % taken and answered 500 (the
    sender cannot know: unknown); ~0.5 % taken and answered so slowly, a byte at
    a time, that the sender is still reading when the test kills it (`holding`);
    ~2 % refused 503 (retried), ~1 % refused 400 (failed); the rest answered 201.
    """

    # Each fault with the cumulative share of requests up to it.
    # With the fixture's seed the 7th request is held (and the 15th slow): every run has both.
    FAULTS = (
        ("slow", 0.03),
        ("drop", 0.04),
        ("500", 0.05),
        ("hold", 0.055),
        ("503", 0.075),
        ("400", 0.085),
    )
    rng = random.Random(0)
    lock = threading.Lock()
    taken: Counter[tuple[str, str]] = Counter()
    faults: Counter[str] = Counter()
    released = threading.Event()  # the test is over: nothing is held any longer
    # The sender processes (by pid) reading a held answer, each with its release;
    # `held` wakes the test when one is added.
    holding: dict[int, threading.Event] = {}
    held = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        # A sender process says who it is (sender.py); the test's own recovery does not.
        agent = self.headers.get("User-Agent", "")
        pid = int(agent.removeprefix("r3-sender/")) if agent.startswith("r3-sender/") else 0
        with self.lock:
            roll = self.rng.random()
            fault = next((name for name, upto in self.FAULTS if roll < upto), "")
            if fault == "hold" and not pid:
                fault = ""
            if fault not in ("503", "400"):
                self.taken[(form["To"], form["Body"])] += 1
            if fault:
                self.faults[fault] += 1
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "slow":
            # Answered, but after the sender gave up (or when the test ends).
            self.released.wait(timeout=10 * SMS_TIMEOUT)
        if fault == "hold":
            self._hold(pid)
            return
        status, body = {
            "500": (500, {"code": 20500, "message": "Internal Server Error", "status": 500}),
            "503": (503, {"code": 20503, "message": "Service Unavailable", "status": 503}),
            "400": (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
        }.get(fault, (201, {"sid": f"SM{random.getrandbits(128):032x}", "status": "queued"}))
        raw = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            pass  # the sender gave up on a slow answer, or was killed

    def _hold(self, pid: int) -> None:
        """A 201 whose body comes a space at a time, each well inside the sender's timeout,
        until the test has killed that sender: it dies with the SMS handed over."""
        release = threading.Event()
        with self.lock:
            self.holding[pid] = release
        self.held.set()
        try:
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            while not (release.wait(SMS_TIMEOUT / 6) or self.released.is_set()):
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            pass  # killed
        self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The fake provider's port; this process's own sender (recovery) uses it too."""
    FaultyProvider.rng = random.Random(20261221)
    FaultyProvider.taken, FaultyProvider.faults = Counter(), Counter()
    FaultyProvider.released, FaultyProvider.holding = threading.Event(), {}
    FaultyProvider.held = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FaultyProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(
        settings,
        "PROCEDO_SMS",
        {
            "provider": "twilio",
            "base_url": f"http://127.0.0.1:{server.server_port}",
            "account_sid": SID,
            "auth_token": "r3-token",
            "from": "+15005550006",
            "timeout": SMS_TIMEOUT,
        },
    )
    yield server.server_port
    FaultyProvider.released.set()
    server.shutdown()
    server.server_close()


class Senders:
    """Sender processes that the test kills and restarts."""

    def __init__(self, tmp_path: Path, smtp_port: int, sms_port: int, count: int) -> None:
        self.env = child_env(
            tmp_path,
            EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}/?timeout=5",
            SMS_URL=f"twilio+http://{SID}:r3-token@127.0.0.1:{sms_port}/"
            f"?from=%2B15005550006&timeout={SMS_TIMEOUT}",
        )
        self.procs = [self._start() for _ in range(count)]
        self.kills = 0
        self.killed_holding = 0  # kills of a sender the provider held an answer for

    def _start(self) -> subprocess.Popen[bytes]:
        # Batches of 25 emails and 10 SMS: the SMS are spread over most of the run.
        return subprocess.Popen(
            [sys.executable, "-m", "procedo.messaging.tests.sender", "25", "10"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill_one(self, rng: random.Random) -> None:
        self._kill(rng.randrange(len(self.procs)))

    def kill_holders(self) -> None:
        """Kill each sender the provider holds an answer for; then let the provider go on."""
        with FaultyProvider.lock:
            held = dict(FaultyProvider.holding)
            FaultyProvider.holding.clear()
            FaultyProvider.held.clear()
        for pid, release in held.items():
            index = next((i for i, proc in enumerate(self.procs) if proc.pid == pid), None)
            if index is not None:  # else a random kill got it first: it died reading all the same
                self._kill(index)
            self.killed_holding += 1
            release.set()

    def _kill(self, index: int) -> None:
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait(timeout=10)
        self.kills += 1
        self.procs[index] = self._start()

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=10)
        with FaultyProvider.lock:  # a sender held at the very end died reading too
            self.killed_holding += len(FaultyProvider.holding)
            for release in FaultyProvider.holding.values():
                release.set()
            FaultyProvider.holding.clear()


def _queue(n: int) -> None:
    marketing = list(range(0, n, MARKETING_SHARE))
    customers = {
        i: customer_create(
            first_name="Ірина", emails=[f"r3-{i}@example.com"], email_consent="granted"
        ).pk
        for i in marketing
    }
    for kind, indexes in (
        (MessageKind.MARKETING, marketing),
        (MessageKind.TRANSACTIONAL, [i for i in range(n) if i not in customers]),
    ):
        messages_queue_many(
            channel="email",
            kind=kind,
            source="r3",
            items=(
                Outgoing(
                    recipient=f"r3-{i}@example.com",
                    customer_id=customers.get(i),
                    idempotency_key=f"r3:{i}",
                    subject=f"R3 №{i}",
                    body=f"Повідомлення {i}",
                )
                for i in indexes
            ),
        )


def _queue_sms(n: int) -> None:
    """SMS to numbers of their own, a third of them marketing (to customers who agreed)."""
    marketing = list(range(0, n, MARKETING_SHARE))
    customers = {
        i: customer_create(
            first_name="Ірина", phones=[f"+38067{i:07d}"], phone_consent="granted"
        ).pk
        for i in marketing
    }
    for kind, indexes in (
        (MessageKind.MARKETING, marketing),
        (MessageKind.TRANSACTIONAL, [i for i in range(n) if i not in customers]),
    ):
        messages_queue_many(
            channel="sms",
            kind=kind,
            source="r3",
            items=(
                Outgoing(
                    recipient=f"+38067{i:07d}",
                    customer_id=customers.get(i),
                    idempotency_key=f"r3:sms:{i}",
                    body=f"R3 SMS №{i}",
                )
                for i in indexes
            ),
        )


def _due_left() -> bool:
    now = timezone.now()
    return (
        Message.objects.filter(state=MessageState.QUEUED)
        .filter(Q(deferred_until__isnull=True) | Q(deferred_until__lte=now))
        .exists()
    )


def _settle() -> int:
    """What later ticks do once the killed senders' leases and the backoffs have run out."""
    clock = timezone.now()
    for rounds in range(1, 40):
        clock += timedelta(hours=2)  # past every lease and the longest backoff
        messages_send_due(now=clock, budget=timedelta(minutes=5))
        open_rows = Message.objects.filter(
            Q(state__in=[MessageState.QUEUED, MessageState.SENDING])
            | Q(RESENT_AUTOMATICALLY, state=MessageState.UNKNOWN)
        )
        if not open_rows.filter(attempts__lt=MAX_ATTEMPTS).exists():
            return rounds
    raise AssertionError("messages still open after 40 rounds of recovery")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_r3_killed_senders_and_a_faulty_server_never_double_send_outside_the_window(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_port: int, provider: int
) -> None:
    if connection.vendor != backend:
        pytest.skip(f"runs on {backend}; this run's database is {connection.vendor}")
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    Business.objects.update_or_create(
        pk=Business.SINGLETON_ID,
        defaults={"quiet_hours_start": None, "quiet_hours_end": None, "marketing_cap_count": 0},
    )
    _queue(EMAILS)
    _queue_sms(SMS_MESSAGES)
    assert Message.objects.count() == MESSAGES

    server = FaultyServer(seed=20261124)
    port = smtp_port  # the same server for the sender processes and the recovery below
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    rng = random.Random(7)
    senders = Senders(tmp_path, port, provider, count=2)
    try:
        deadline = time.monotonic() + 30  # then the in-process recovery sends the rest
        while time.monotonic() < deadline and (_due_left() or senders.kills < 2):
            # A held answer cuts the wait short: its sender is killed while reading it.
            if FaultyProvider.held.wait(timeout=rng.uniform(1.5, 2.5)):
                senders.kill_holders()
            else:
                senders.kill_one(rng)
    finally:
        senders.stop()
    try:
        rounds = _settle()
    finally:
        controller.stop()

    rows = {m.message_id: m for m in Message.objects.filter(channel=Channel.EMAIL)}
    states = Counter(m.state for m in rows.values())
    # Every message ends sent / failed / unknown, and only marketing stays unknown.
    assert set(states) <= {MessageState.SENT, MessageState.FAILED, MessageState.UNKNOWN}
    assert all(m.kind == MessageKind.MARKETING for m in rows.values() if m.state == "unknown")
    assert all(m.answer for m in rows.values() if m.state == MessageState.FAILED)

    received = Counter(server.accepted) + Counter(server.dropped)
    dropped = Counter(server.dropped)
    # Rows a killed sender had handed over when it died: the server may have them.
    by_pk = {m.pk: m.message_id for m in rows.values()}
    killed = Counter(
        by_pk[pk]
        for pk in Event.objects.filter(
            event_type="message.unknown",
            payload__reason__startswith="the sender stopped",
            subject_id__in=list(by_pk),
        ).values_list("subject_id", flat=True)
        if pk is not None
    )
    duplicates_outside = {
        message_id: count
        for message_id, count in received.items()
        if count - 1 > dropped[message_id] + killed[message_id]
    }
    assert duplicates_outside == {}
    assert set(received) <= set(rows)  # nothing the ledger does not know
    # Nothing lost: every row marked sent reached the server.
    assert {mid for mid, m in rows.items() if m.state == MessageState.SENT} <= set(received)
    # Marketing is never re-sent from unknown: at most one delivery each.
    marketing = {mid for mid, m in rows.items() if m.kind == MessageKind.MARKETING}
    assert all(received[mid] <= 1 for mid in marketing)
    assert not Event.objects.filter(
        event_type="message.requeued",
        subject_id__in=[m.pk for m in rows.values() if m.kind == MessageKind.MARKETING],
    ).exists()
    # The faults did happen, and the senders were killed mid-stream.
    assert senders.kills >= 2
    assert server.dropped and server.refused["451"] and server.refused["421"]

    sms = _sms_checked(senders)
    print(
        f"\nR3 {connection.vendor}: {EMAILS} emails, {senders.kills} kills,"
        f" {sum(server.refused.values())} refused ({dict(server.refused)}),"
        f" {len(server.dropped)} dropped after DATA, {sum(killed.values())} handed over by a"
        f" killed sender, {sum(received.values()) - len(received)} duplicate deliveries (all in"
        f" those windows), states {dict(states)}, {rounds} recovery rounds;"
        f" {SMS_MESSAGES} SMS, provider faults {dict(FaultyProvider.faults)},"
        f" {sms['killed']} handed over by a killed sender ({senders.killed_holding} killed"
        f" while reading a held answer), states {sms['states']},"
        f" {sms['duplicates']} duplicates"
    )


def _sms_checked(senders: Senders) -> dict[str, Any]:
    """Every SMS ended sent / failed / unknown, reached the provider at most once, and
    none left `unknown` once there: nothing sends an SMS again by itself."""
    rows = {(m.recipient, m.body): m for m in Message.objects.filter(channel=Channel.SMS)}
    states = Counter(m.state for m in rows.values())
    assert set(states) <= {MessageState.SENT, MessageState.FAILED, MessageState.UNKNOWN}
    taken = FaultyProvider.taken
    assert set(taken) <= set(rows)  # nothing the ledger does not know
    duplicates = {key: n for key, n in taken.items() if n > 1}
    assert duplicates == {}
    # Nothing lost: every SMS marked sent reached the provider.
    assert all(taken[key] == 1 for key, m in rows.items() if m.state == MessageState.SENT)
    by_pk = {m.pk: m for m in rows.values()}
    events = Event.objects.filter(subject_type="message", subject_id__in=list(by_pk))
    assert not events.filter(event_type="message.requeued").exists()
    became_unknown = events.filter(event_type="message.unknown").values_list(
        "subject_id", flat=True
    )
    assert all(by_pk[pk].state == MessageState.UNKNOWN for pk in became_unknown if pk is not None)
    # The provider's faults and the kills did make SMS unknown, both ways.
    killed = events.filter(
        event_type="message.unknown", payload__reason__startswith="the sender stopped"
    ).count()
    assert FaultyProvider.faults["slow"] and senders.killed_holding
    assert killed >= senders.killed_holding
    return {"states": dict(states), "killed": killed, "duplicates": len(duplicates)}
