"""B6: a campaign-style batch sent by the real sender vs a bare smtplib loop, same messages.

N marketing messages (100,000 × scale) to customers who consented are queued
through `messages_queue_many` (a stored template rendered per customer) and sent
by `messages_send_due`, the worker's send loop: claims, the consent/quiet-hours/cap
gate, the ledger's per-message commit, one SMTP connection per batch. The
baseline, in the same run, sends the same rendered messages with smtplib over one
connection (building each with the standard library's EmailMessage), writing
nothing. Both go to an aiosmtpd sink in its own process on loopback, so the server
does not share the sender's interpreter. Warm-up is a small batch (N/20), then the
median of 3 full runs.
"""

from __future__ import annotations

import smtplib
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage

from django.conf import settings
from django.db import transaction

from bench.timing import Measured, measure, report
from procedo.business.models import Business
from procedo.customers.models import Customer, Identity
from procedo.events.models import Event
from procedo.messaging.models import Message, Template
from procedo.messaging.services import queueing
from procedo.messaging.services.queueing import Outgoing, messages_queue_many
from procedo.messaging.services.sending import messages_send_due
from procedo.messaging.services.templates import template_save

TEMPLATE = Template(
    key="b6-spring-sale",
    name="Spring sale",
    channel="email",
    kind="marketing",
    subject="{{ customer.first_name }}, весняний розпродаж у {{ business.name }}",
    body_text=(
        "Вітаємо, {{ customer.first_name }}!\n\nДо неділі −20 % на все з кодом"
        " {{ discount_code }}.\n\nВідписатися: {{ unsubscribe_url }}\n"
    ),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sink(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the aiosmtpd sink did not start")


def _customers(n: int) -> list[tuple[int, str]]:
    """N customers with a granted email consent (bulk rows: a fixture, not the workload)."""
    existing = list(
        Identity.objects.filter(value__startswith="b6-", value__endswith="@example.com")
        .order_by("customer_id")
        .values_list("customer_id", "value")
    )
    if len(existing) >= n:
        return existing[:n]
    with transaction.atomic():
        Customer.objects.bulk_create(
            [Customer(first_name=f"Олена{i}", source="b6") for i in range(len(existing), n)],
            batch_size=1000,
        )
        fresh = list(
            Customer.objects.filter(source="b6", identities__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
        Identity.objects.bulk_create(
            [
                Identity(
                    customer_id=pk,
                    kind="email",
                    value=f"b6-{pk}@example.com",
                    marketing_consent="granted",
                )
                for pk in fresh
            ],
            batch_size=1000,
        )
    return _customers(n)


def _reset() -> None:
    Message.objects.all().delete()
    Event.objects.filter(event_type__startswith="message.").delete()


def run(*, scale: float) -> None:
    n = max(500, int(100_000 * scale))
    port = _free_port()
    settings.PROCEDO_EMAIL = {
        "backend": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "username": "",
        "password": "",
        "ssl": False,
        "starttls": False,
        "timeout": 20.0,
    }
    # The sender is the subject; the Huey wake-up would only enqueue a no-op here.
    queueing._wake_sender_on_commit = lambda: None
    import procedo.events.services.recording as event_services

    event_services._wake_consumers_on_commit = lambda: None
    # Quiet hours would defer the whole campaign at night; the cap would defer
    # every repeat after the second (each run mails the same customers).
    Business.objects.update_or_create(
        pk=Business.SINGLETON_ID,
        defaults={"quiet_hours_start": None, "quiet_hours_end": None, "marketing_cap_count": 0},
    )
    Template.objects.filter(key=TEMPLATE.key).delete()
    template_save(
        template_id=None,
        key=TEMPLATE.key,
        name=TEMPLATE.name,
        channel=TEMPLATE.channel,
        kind=TEMPLATE.kind,
        subject=TEMPLATE.subject,
        body_text=TEMPLATE.body_text,
    )
    recipients = _customers(n)
    _reset()
    sink = _sink(port)
    try:
        payloads = _rendered(recipients)
        warm = max(n // 20, 100)
        _campaign(recipients[:warm])  # warm-up: connections, caches, the sink
        _reset()
        runs = []
        for _ in range(3):
            runs.append(_campaign(recipients))
            _reset()
        _smtplib_loop(port, payloads[:warm])
        baseline = measure(lambda: _smtplib_loop(port, payloads), warmup=False)
    finally:
        sink.kill()
        sink.wait(timeout=10)
        _reset()
    queued = statistics.median(queue for queue, _send in runs)
    sent = Measured(seconds=statistics.median(send for _queue, send in runs), work=n)
    report("B6", f"campaign sent by the worker's sender (N={n})", sent, baseline, ">= 0.5", "msg/s")
    print(
        f"  {'B6':<4} {'queued by messages_queue_many':<44} {n / queued:>12,.0f} msg/s    (report)"
    )


def _queue(recipients: list[tuple[int, str]]) -> int:
    return messages_queue_many(
        channel="email",
        kind="marketing",
        template_key=TEMPLATE.key,
        source="campaign:b6",
        items=(
            Outgoing(
                recipient=email,
                customer_id=customer_id,
                idempotency_key=f"campaign:b6:customer:{customer_id}",
                context={"discount_code": "SPRING20"},
            )
            for customer_id, email in recipients
        ),
    )


def _campaign(recipients: list[tuple[int, str]]) -> tuple[float, float]:
    """Queue, then send everything due; returns (seconds queueing, seconds sending)."""
    started = time.perf_counter()
    queued = _queue(recipients)
    middle = time.perf_counter()
    sent = messages_send_due(channels=("email",), budget=timedelta(hours=6)).sent
    finished = time.perf_counter()
    if queued != len(recipients) or sent != len(recipients):
        raise RuntimeError(f"B6: queued {queued}, sent {sent} of {len(recipients)}")
    return middle - started, finished - middle


def _rendered(recipients: list[tuple[int, str]]) -> list[tuple[str, str, str, str]]:
    """The messages the sender will send, as the service renders them (for the baseline)."""
    _queue(recipients)
    rows = list(
        Message.objects.order_by("id").values_list("from_email", "recipient", "subject", "body")
    )
    _reset()
    return rows


def _smtplib_loop(port: int, payloads: list[tuple[str, str, str, str]]) -> int:
    conn = smtplib.SMTP("127.0.0.1", port, timeout=20)
    try:
        for index, (from_email, recipient, subject, body) in enumerate(payloads):
            message = EmailMessage()
            message["From"] = from_email
            message["To"] = recipient
            message["Subject"] = subject
            message["Message-ID"] = f"<b6-{index}@localhost>"
            message.set_content(body)
            conn.sendmail(from_email, [recipient], message.as_bytes())
    finally:
        conn.quit()
    return len(payloads)
