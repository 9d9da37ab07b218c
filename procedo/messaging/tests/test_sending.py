"""The sender against a real SMTP server on loopback: never a double send, nothing lost."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from procedo.business.models import Business
from procedo.customers.services.customers import customer_create
from procedo.events.models import Event
from procedo.messaging.models import Message, MessageKind, MessageState
from procedo.messaging.services import queueing
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.services.sending import CONNECT_RETRY, messages_send_batch, messages_send_due
from procedo.testing import Recorder, SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_quiet_hours(db: None) -> None:
    # These tests are about SMTP; quiet hours would defer marketing mail at night.
    Business.objects.update_or_create(
        pk=Business.SINGLETON_ID, defaults={"quiet_hours_start": None, "quiet_hours_end": None}
    )


def queue(n: int = 1, *, kind: str = MessageKind.TRANSACTIONAL, prefix: str = "k") -> list[Message]:
    messages = []
    for i in range(n):
        recipient = f"buyer{i}@example.com" if prefix == "k" else f"{prefix}{i}@example.com"
        customer_id = None
        if kind == MessageKind.MARKETING:
            customer_id = customer_create(
                first_name="Тарас", emails=[recipient], email_consent="granted"
            ).pk
        messages.append(
            message_queue(
                channel="email",
                recipient=recipient,
                subject=f"Замовлення №{i}",
                body=f"Дякуємо за покупку, Тарасе! #{i}",
                idempotency_key=f"{prefix}:{i}",
                kind=kind,
                customer_id=customer_id,
            )
        )
    return messages


def states() -> list[str]:
    return list(Message.objects.order_by("id").values_list("state", flat=True))


def test_sends_over_smtp_with_the_stored_message_id_and_answer(smtp: SmtpServer) -> None:
    [message] = queue()
    report = messages_send_due()
    assert report.sent == 1
    message.refresh_from_db()
    assert message.state == MessageState.SENT and message.attempts == 1
    assert message.answer.startswith("250")
    [got] = smtp.recorder.received
    assert got["Message-ID"] == message.message_id
    assert got["To"] == "buyer0@example.com"
    assert got["Subject"] == "Замовлення №0"
    assert got.get_content().strip() == "Дякуємо за покупку, Тарасе! #0"
    assert Event.objects.filter(event_type="message.sent", subject_id=message.pk).count() == 1


def test_the_same_key_twice_is_one_message_sent_once(smtp: SmtpServer) -> None:
    queue(1)
    queue(1)
    messages_send_due()
    messages_send_due()
    assert Message.objects.count() == 1
    assert len(smtp.recorder.received) == 1


def test_server_down_messages_wait_queued_and_go_when_it_returns(smtp_port: int) -> None:
    queue(3)
    report = messages_send_due()
    assert report.released == 3 and states() == ["queued"] * 3
    assert Message.objects.filter(attempts=0, answer__contains="Connection").count() == 3
    server = SmtpServer(smtp_port)
    server.start()
    try:
        # Still deferred (connection retry): nothing goes before its time ...
        assert messages_send_due().sent == 0
        later = timezone.now() + CONNECT_RETRY + timedelta(seconds=1)
        assert messages_send_due(now=later).sent == 3
    finally:
        server.stop()
    assert states() == ["sent"] * 3 and len(server.recorder.received) == 3


def test_a_451_is_retried_later_with_the_same_message_id(smtp: SmtpServer) -> None:
    [message] = queue()
    smtp.recorder.script = lambda msg: "451 4.3.0 Try again later"
    messages_send_due()
    message.refresh_from_db()
    assert message.state == MessageState.QUEUED and message.attempts == 1
    assert message.answer.startswith("451") and message.deferred_until is not None
    smtp.recorder.script = lambda msg: None
    assert messages_send_due().sent == 0  # backing off
    messages_send_due(now=message.deferred_until + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.state == MessageState.SENT and message.attempts == 2
    assert smtp.recorder.message_ids() == [message.message_id]


def test_a_550_fails_with_the_answer_stored(smtp: SmtpServer) -> None:
    first, second = queue(2)
    smtp.recorder.rcpt_reply = lambda a: "550 5.1.1 No such user" if a == first.recipient else None
    report = messages_send_due()
    assert (report.failed, report.sent) == (1, 1)
    first.refresh_from_db()
    assert first.state == MessageState.FAILED and first.answer == "550 5.1.1 No such user"
    # The connection stays usable after a refused recipient: the next one went out.
    assert smtp.recorder.message_ids() == [second.message_id]


def test_a_drop_after_data_is_unknown_then_transactional_resent_marketing_not(
    smtp: SmtpServer,
) -> None:
    [receipt] = queue(kind=MessageKind.TRANSACTIONAL, prefix="t")
    [promo] = queue(kind=MessageKind.MARKETING, prefix="m")
    smtp.recorder.script = lambda msg: "drop"
    report = messages_send_due()
    assert report.unknown == 2
    smtp.recorder.script = lambda msg: None
    assert messages_send_due().sent == 0  # not at once: after a pause
    messages_send_due(now=timezone.now() + timedelta(minutes=2))
    receipt.refresh_from_db()
    promo.refresh_from_db()
    assert receipt.state == MessageState.SENT and promo.state == MessageState.UNKNOWN
    # The server got the receipt twice under one Message-ID (the receiver can dedupe),
    # the promotion once.
    assert sorted(smtp.recorder.message_ids()) == sorted(
        [receipt.message_id, receipt.message_id, promo.message_id]
    )


def test_a_row_stuck_sending_past_its_lease(smtp: SmtpServer) -> None:
    """A sender killed after handing messages over: transactional re-sent, marketing not."""
    [receipt] = queue(kind=MessageKind.TRANSACTIONAL, prefix="t")
    [promo] = queue(kind=MessageKind.MARKETING, prefix="m")
    [never] = queue(kind=MessageKind.MARKETING, prefix="n")
    past = timezone.now() - timedelta(seconds=1)
    Message.objects.exclude(pk=never.pk).update(
        state=MessageState.SENDING,
        claim_token="dead",
        claimed_until=past,
        handed_over_at=past,
        attempts=1,
    )
    # Claimed by the dead sender but never handed over: it never left, so it is sent.
    Message.objects.filter(pk=never.pk).update(
        state=MessageState.SENDING, claim_token="dead", claimed_until=past
    )
    report = messages_send_due()
    assert report.recovered == {"released": 1, "unknown": 2, "resent": 1}
    for m in (receipt, promo, never):
        m.refresh_from_db()
    assert (receipt.state, promo.state, never.state) == ("sent", "unknown", "sent")
    assert sorted(smtp.recorder.message_ids()) == sorted([receipt.message_id, never.message_id])


def test_a_live_lease_is_left_alone(smtp: SmtpServer) -> None:
    [message] = queue()
    Message.objects.update(
        state=MessageState.SENDING,
        claim_token="alive",
        claimed_until=timezone.now() + timedelta(minutes=1),
        handed_over_at=timezone.now(),
    )
    messages_send_due()
    message.refresh_from_db()
    assert message.state == MessageState.SENDING and smtp.recorder.received == []


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_each_row_once(smtp: SmtpServer) -> None:
    queue(120)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def sender() -> None:
        try:
            start.wait()
            for _ in range(6):
                messages_send_batch(limit=10)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    ids = smtp.recorder.message_ids()
    assert len(ids) == len(set(ids)) == 120
    assert states() == ["sent"] * 120


def test_queue_wakes_the_worker_once_per_transaction_on_commit(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    woken: list[int] = []
    monkeypatch.setattr(queueing, "_wake_sender", lambda: woken.append(1))
    settings.HUEY = {**settings.HUEY, "immediate": False}
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        queue(3)
    assert woken == [1]
    assert len(callbacks) == 2  # ours and the event log's, not one per message
    # With an eager Huey the task would run inside the caller: it is left to the tick.
    settings.HUEY = {**settings.HUEY, "immediate": True}
    with django_capture_on_commit_callbacks(execute=True):
        queue(1, prefix="x")
    assert woken == [1]


@pytest.mark.parametrize("address", ["", "olena", "olena@", "o lena@example.com", "a@b@c"])
def test_a_bad_email_address_is_refused_naming_the_recipient(address: str) -> None:
    from procedo.core.errors import DomainError

    with pytest.raises(DomainError) as caught:
        message_queue(channel="email", recipient=address, body="x", idempotency_key="bad")
    assert caught.value.field == "recipient"
    assert not Message.objects.exists()


def test_a_campaign_batch_queues_each_key_once_and_refuses_a_bad_address_whole(
    smtp: SmtpServer,
) -> None:
    from procedo.core.errors import DomainError
    from procedo.messaging.services.queueing import Outgoing, messages_queue_many

    items = [
        Outgoing(recipient=f"c{i}@example.com", idempotency_key=f"campaign:1:{i}", body=f"#{i}")
        for i in range(5)
    ]
    with pytest.raises(DomainError) as caught:
        messages_queue_many(
            channel="email",
            kind=MessageKind.TRANSACTIONAL,
            items=[*items, Outgoing(recipient="nope", idempotency_key="campaign:1:x", body="x")],
        )
    assert caught.value.field == "items.5.recipient" and not Message.objects.exists()
    for _ in range(2):  # started twice: the second queues nothing
        queued = messages_queue_many(channel="email", kind=MessageKind.TRANSACTIONAL, items=items)
    assert queued == 0 and Message.objects.count() == 5
    assert Event.objects.filter(event_type="message.queued").count() == 5
    assert messages_send_due().sent == 5 and len(smtp.recorder.received) == 5


class OneBadReply(Recorder):
    """Refuses one message of a batch at one phase; then the session goes on as `after` says.

    after: "clean" (the server is fine), "closes" (it drops the connection at the
    next command), "broken" (it answers 500 to everything in that session, RSET
    included, until the sender connects again).
    """

    BAD = "bad@example.com"

    def __init__(self, phase: str, after: str) -> None:
        super().__init__()
        self.phase, self.after = phase, after
        self.connections: set[int] = set()

    def _spoilt(self, server: Any, session: Any) -> str | None:
        self.connections.add(id(session))
        state = getattr(session, "spoilt", "")
        if state == "closes":
            server.transport.close()
            return "421 never read"
        if state == "broken":
            return "500 5.5.1 Error: session is broken"
        return None

    def _refused(self, session: Any, reply: str) -> str:
        if self.after != "clean":
            session.spoilt = self.after
        return reply

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        spoilt = self._spoilt(server, session)
        if spoilt:
            return spoilt
        # The bad message is the 4th: MAIL FROM does not say which message it is.
        self.mails = getattr(self, "mails", 0) + 1
        if self.phase == "mail" and self.mails == 4:
            return self._refused(session, "500 5.5.2 Error: bad syntax")
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        spoilt = self._spoilt(server, session)
        if spoilt:
            return spoilt
        if address == self.BAD and self.phase == "rcpt":
            return self._refused(session, "550 5.1.1 No such user")
        if address == self.BAD and self.phase == "data-command":
            # Taken, yet not kept: the DATA command is answered 503 (no recipients).
            self._refused(session, "")
            return "250 OK"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        return self._spoilt(server, session) or "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.phase == "data-end" and envelope.rcpt_tos == [self.BAD]:
            return self._refused(session, "554 5.7.1 Message rejected")
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("after", ["clean", "closes", "broken"])
@pytest.mark.parametrize("phase", ["mail", "rcpt", "data-command", "data-end"])
def test_one_refused_message_fails_alone_and_the_rest_of_the_batch_is_sent(
    smtp_port: int, phase: str, after: str
) -> None:
    messages = [
        message_queue(
            channel="email",
            recipient=OneBadReply.BAD if i == 3 else f"buyer{i}@example.com",
            subject=f"Замовлення №{i}",
            body="Дякуємо!",
            idempotency_key=f"k:{i}",
        )
        for i in range(20)
    ]
    server = SmtpServer(smtp_port)
    server.recorder = handler = OneBadReply(phase, after)
    server.start()
    try:
        report = messages_send_due()
    finally:
        server.stop()
    bad = messages.pop(3)
    bad.refresh_from_db()
    # Its own outcome: refused before the server took it, so failed, never unknown.
    assert bad.state == MessageState.FAILED and bad.answer[:3] in {"500", "550", "503", "554"}
    assert (report.sent, report.failed, report.retrying, report.unknown) == (19, 1, 0, 0)
    # Every other message went at its first attempt, none charged for the bad one's session.
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert set(rows.values_list("state", "attempts")) == {(MessageState.SENT, 1)}
    assert sorted(handler.message_ids()) == sorted(m.message_id for m in messages)
    # A spoilt session was left for a new connection; a clean one was kept.
    assert len(handler.connections) == (1 if after == "clean" else 2)


def test_an_internationalised_domain_goes_in_punycode_and_does_not_stop_the_batch(
    smtp: SmtpServer,
) -> None:
    first = message_queue(
        channel="email", recipient="olena@приклад.укр", body="Привіт", idempotency_key="idn"
    )
    second = message_queue(
        channel="email", recipient="taras@example.com", body="Привіт", idempotency_key="ascii"
    )
    assert messages_send_due().sent == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == second.state == MessageState.SENT
    assert smtp.recorder.message_ids() == [first.message_id, second.message_id]
    assert smtp.recorder.received[0]["To"] == "olena@xn--80aikifvh.xn--j1amh"
