"""SMS through Twilio's Messages API, against a local stand-in that answers as documented."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from procedo.accounts.models import User
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.customers.services.customers import customer_create
from procedo.events.models import Event
from procedo.messaging.models import Message, MessageKind, MessageState
from procedo.messaging.services.queueing import message_mark_sent, message_queue, message_resend
from procedo.messaging.services.sending import messages_send_batch, messages_send_due
from procedo.messaging.sms import twilio_signature
from procedo.testing import SmtpServer, free_port

pytestmark = pytest.mark.django_db
SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "secret-token"


class Twilio(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    reply: tuple[int, dict[str, Any]] | None = None
    # After taking the request: "slow" answers only once `released` is set (the
    # sender has timed out by then), "drop" closes the connection unanswered.
    lose_answer: str = ""
    released = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        Twilio.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], "form": form}
        )
        if Twilio.lose_answer == "drop":
            self.close_connection = True
            return
        if Twilio.lose_answer == "slow":
            Twilio.released.wait(timeout=30)
        status, body = Twilio.reply or (
            201,
            {
                "sid": f"SM{len(Twilio.requests):032d}",
                "status": "queued",
                "to": form["To"],
                "from": form.get("From"),
                "body": form["Body"],
                "error_code": None,
                "error_message": None,
                "account_sid": SID,
                "api_version": "2010-04-01",
            },
        )
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Twilio]]:
    Twilio.requests, Twilio.reply, Twilio.lose_answer = [], None, ""
    Twilio.released = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Twilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(
        settings,
        "PROCEDO_SMS",
        {
            "provider": "twilio",
            "base_url": f"http://127.0.0.1:{server.server_port}",
            "account_sid": SID,
            "auth_token": TOKEN,
            "from": "+15005550006",
            "timeout": 5.0,
        },
    )
    yield Twilio
    Twilio.released.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def impatient(twilio: type[Twilio], monkeypatch: pytest.MonkeyPatch) -> type[Twilio]:
    """The same provider; the sender gives up waiting for an answer after a second."""
    assert settings.PROCEDO_SMS is not None
    monkeypatch.setitem(settings.PROCEDO_SMS, "timeout", 1.0)
    return twilio


def sms(key: str = "s:1", to: str = "+380671234567") -> Message:
    return message_queue(
        channel="sms", recipient=to, body="Ваше замовлення вже в дорозі", idempotency_key=key
    )


def test_an_sms_goes_to_twilio_as_documented(twilio: type[Twilio]) -> None:
    message = sms()
    assert messages_send_due(channels=("sms",)).sent == 1
    [request] = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request["form"] == {
        "To": "+380671234567",
        "From": "+15005550006",
        "Body": "Ваше замовлення вже в дорозі",
        "StatusCallback": f"{settings.PROCEDO_BASE_URL}/messages/sms/status/",
    }
    message.refresh_from_db()
    assert message.state == MessageState.SENT and message.provider_ref == "SM" + "0" * 31 + "1"
    assert message.answer == "201 queued"


def test_a_twilio_error_fails_and_a_5xx_retries(twilio: type[Twilio]) -> None:
    bad, busy = sms("s:1"), sms("s:2", "+380671234568")
    twilio.reply = (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    messages_send_batch(channel="sms", limit=1)
    twilio.reply = (503, {"code": 20503, "message": "Service unavailable", "status": 503})
    messages_send_batch(channel="sms", limit=1)
    bad.refresh_from_db()
    busy.refresh_from_db()
    assert bad.state == MessageState.FAILED and bad.answer == "400 21211 Invalid 'To' Phone Number"
    assert busy.state == MessageState.QUEUED and busy.deferred_until is not None


def test_a_number_not_in_e164_is_refused_with_a_clear_error() -> None:
    for number in ("0671234567", "+0671234567", "380 67 123 45 67", ""):
        with pytest.raises(DomainError) as caught:
            sms(to=number)
        assert caught.value.field == "recipient"
        assert number == "" or "E.164" in caught.value.message
    assert not Message.objects.exists()


def test_a_signed_delivery_callback_updates_the_ledger(twilio: type[Twilio]) -> None:
    message = sms()
    messages_send_due(channels=("sms",))
    message.refresh_from_db()
    url = f"{settings.PROCEDO_BASE_URL}/messages/sms/status/"
    client = Client(enforce_csrf_checks=True)

    def callback(status: str, signature: str | None = None, **extra: str) -> int:
        params = {"MessageSid": message.provider_ref, "MessageStatus": status, "AccountSid": SID}
        params.update(extra)
        signature = signature or twilio_signature(TOKEN, url, params)
        return client.post(
            "/messages/sms/status/", params, headers={"X-Twilio-Signature": signature}
        ).status_code

    assert callback("delivered", signature="forged") == 403
    assert callback("delivered") == 204
    message.refresh_from_db()
    assert (message.state, message.delivery_status) == ("sent", "delivered")
    assert callback("undelivered", ErrorCode="30003") == 204
    message.refresh_from_db()
    assert message.state == MessageState.FAILED and message.answer == "undelivered 30003"


def recover_for_hours(hours: int = 12) -> None:
    """What the ticks of the coming hours do: every lease and backoff runs out on the way."""
    for hour in range(1, hours + 1):
        messages_send_due(now=timezone.now() + timedelta(hours=hour))


@pytest.mark.parametrize("lost", ["timeout", "drop", "500", "502", "504"])
def test_an_sms_whose_answer_is_lost_is_unknown_and_never_sent_again_by_itself(
    impatient: type[Twilio], lost: str
) -> None:
    message, after = sms("s:1"), sms("s:2", "+380671234568")
    if lost in ("timeout", "drop"):
        impatient.lose_answer = "slow" if lost == "timeout" else lost
    else:
        impatient.reply = (int(lost), {"code": 20500, "message": "Internal error", "status": lost})
    report = messages_send_batch(channel="sms", limit=1)
    assert report.unknown == 1
    impatient.released.set()
    impatient.lose_answer, impatient.reply = "", None
    recover_for_hours()
    message.refresh_from_db()
    assert message.state == MessageState.UNKNOWN and message.deferred_until is None
    assert message.answer  # what was lost, and how: for the person who decides
    # The provider got it once; the message after it went normally.
    assert [r["form"]["To"] for r in impatient.requests] == [message.recipient, after.recipient]
    assert not Event.objects.filter(event_type="message.requeued").exists()
    assert Event.objects.filter(event_type="message.unknown", subject_id=message.pk).count() == 1


def test_429_and_503_are_refusals_and_retried(twilio: type[Twilio]) -> None:
    for status in (429, 503):
        message = sms(f"s:{status}")
        twilio.reply = (status, {"code": 20429, "message": "Too Many Requests", "status": status})
        messages_send_batch(channel="sms", limit=1)
        message.refresh_from_db()
        assert message.state == MessageState.QUEUED and message.deferred_until is not None


def test_sms_handed_over_by_a_sender_that_died_stays_unknown_email_receipts_go_again(
    twilio: type[Twilio], smtp: SmtpServer
) -> None:
    customer = customer_create(
        first_name="Ірина", phones=["+380671234569"], phone_consent="granted"
    )
    receipt, promo = (
        sms("s:1"),
        message_queue(
            channel="sms",
            recipient="+380671234569",
            body="Знижка 10 %",
            idempotency_key="s:2",
            kind=MessageKind.MARKETING,
            customer_id=customer.pk,
        ),
    )
    email = message_queue(
        channel="email", recipient="o@example.com", body="Чек", idempotency_key="e:1"
    )
    past = timezone.now() - timedelta(seconds=1)
    Message.objects.update(
        state=MessageState.SENDING,
        claim_token="dead",
        claimed_until=past,
        handed_over_at=past,
        attempts=1,
    )
    recover_for_hours()
    for m in (receipt, promo, email):
        m.refresh_from_db()
    assert (receipt.state, promo.state, email.state) == ("unknown", "unknown", "sent")
    assert twilio.requests == []
    requeued = Event.objects.filter(event_type="message.requeued")
    assert list(requeued.values_list("subject_id", flat=True)) == [email.pk]


def test_a_person_marks_an_unknown_sms_sent_or_sends_it_again(
    impatient: type[Twilio], owner: User
) -> None:
    checked, again = sms("s:1"), sms("s:2", "+380671234568")
    impatient.lose_answer = "slow"
    assert messages_send_due(channels=("sms",)).unknown == 2
    impatient.released.set()
    impatient.lose_answer = ""

    for _ in range(2):  # a double click, or the same answer twice: one decision
        message_mark_sent(message_id=checked.pk, actor=owner, idempotency_key="ui:a")
    message_mark_sent(message_id=checked.pk, actor=owner)  # already sent: as is
    for _ in range(2):
        message_resend(message_id=again.pk, actor=owner, idempotency_key="ui:b")
    checked.refresh_from_db()
    again.refresh_from_db()
    assert checked.state == MessageState.SENT and checked.sent_at is not None
    assert checked.reason == "marked sent by owner"
    assert again.state == MessageState.QUEUED and again.handed_over_at is None
    decisions = Event.objects.filter(
        event_type__in=["message.marked_sent", "message.resend_requested"]
    )
    assert sorted(decisions.values_list("event_type", "subject_id", "actor_id")) == [
        ("message.marked_sent", checked.pk, owner.pk),
        ("message.resend_requested", again.pk, owner.pk),
    ]
    # Sent again because a person said so: the provider gets it a second time, once.
    assert messages_send_due(channels=("sms",)).sent == 1
    recover_for_hours(3)
    assert [r["form"]["To"] for r in impatient.requests].count(again.recipient) == 2
    assert [r["form"]["To"] for r in impatient.requests].count(checked.recipient) == 1

    with pytest.raises(Conflict) as refused:  # it is sent now: nothing to decide
        message_resend(message_id=again.pk, actor=owner, idempotency_key="ui:c")
    assert refused.value.field == "state"
    with pytest.raises(DomainError) as reused:  # a key of another decision
        message_resend(message_id=checked.pk, actor=owner, idempotency_key="ui:a")
    assert reused.value.field == "Idempotency-Key" and reused.value.code == "idempotency_key_reused"
    with pytest.raises(NotFound):
        message_mark_sent(message_id=again.pk + 100, actor=owner)
