"""Replies: an email through `procedo inbound-email`, an SMS through Twilio's signed webhook."""

from __future__ import annotations

import io
import sys
from email.message import EmailMessage

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from procedo.customers.services.customers import customer_create
from procedo.customers.services.merging import customer_merge
from procedo.events.models import Event
from procedo.messaging.models import InboundMessage, Message
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.services.sending import messages_send_due
from procedo.messaging.sms import twilio_signature
from procedo.testing import SmtpServer

pytestmark = pytest.mark.django_db
SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "secret-token"


def pipe(monkeypatch: pytest.MonkeyPatch, raw: bytes) -> str:
    """Run the command as a mail server's pipe would: the message on stdin."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("inbound-email", stdout=out)
    return out.getvalue()


def reply_to(original: EmailMessage, *, sender: str, text: str, message_id: str) -> bytes:
    reply = EmailMessage()
    reply["From"] = f"Олена <{sender}>"
    reply["To"] = str(original["From"])
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Message-ID"] = message_id
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply["References"] = str(original["Message-ID"])
    reply.set_content(text)
    return reply.as_bytes()


def test_an_email_reply_lands_on_the_customer_timeline_once(
    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    olena = customer_create(first_name="Олена", emails=["olena@example.com"])
    sent = message_queue(
        channel="email",
        recipient="olena@example.com",
        subject="Ваше звернення №12",
        body="Ми отримали ваше звернення.",
        idempotency_key="ticket:12:ack",
        customer_id=olena.pk,
        source="ticket:12",
    )
    messages_send_due()
    [original] = smtp.recorder.received
    # She answers from another address: the thread, not the address, finds her.
    raw = reply_to(
        original, sender="o.work@example.org", text="Дякую, чекаю.", message_id="<r1@mail.example>"
    )
    out = pipe(monkeypatch, raw)
    assert f"customer #{olena.pk}" in out and f"reply to message #{sent.pk}" in out
    pipe(monkeypatch, raw)  # the mail server delivers it again
    [inbound] = InboundMessage.objects.all()
    assert inbound.in_reply_to_id == sent.pk and inbound.customer_id == olena.pk
    assert inbound.is_support_reply and inbound.body.strip() == "Дякую, чекаю."
    assert bytes(inbound.raw) == raw  # kept as it came
    [event] = Event.objects.filter(event_type="message.received")
    assert event.customer_id == olena.pk and event.payload["support"] is True


def test_without_a_thread_the_sender_address_finds_the_customer_and_strangers_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taras = customer_create(first_name="Тарас", emails=["taras@example.com"])
    mail = EmailMessage()
    mail["From"] = "TARAS@example.com"
    mail["Subject"] = "Питання"
    mail["In-Reply-To"] = "<not-ours@elsewhere>"
    mail.set_content("Коли буде знижка?")
    pipe(monkeypatch, mail.as_bytes())
    mail.replace_header("From", "stranger@example.net")
    pipe(monkeypatch, mail.as_bytes())
    found, stranger = InboundMessage.objects.order_by("id")
    assert (found.customer_id, found.in_reply_to_id, found.is_support_reply) == (
        taras.pk,
        None,
        False,
    )
    assert stranger.customer_id is None and stranger.body.strip() == "Коли буде знижка?"
    assert Event.objects.filter(event_type="message.received").count() == 2


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b"", "message"), (b"just some words\n", "From"), (b"From: nobody\n\nhi\n", "From")],
)
def test_unreadable_input_exits_65_naming_the_problem_and_stores_nothing(
    monkeypatch: pytest.MonkeyPatch, raw: bytes, field: str
) -> None:
    with pytest.raises(CommandError) as caught:
        pipe(monkeypatch, raw)
    assert caught.value.returncode == 65 and str(caught.value).startswith(f"{field}: ")
    assert not InboundMessage.objects.exists() and not Event.objects.exists()


@pytest.fixture
def twilio_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        settings,
        "PROCEDO_SMS",
        {
            "provider": "twilio",
            "base_url": "http://127.0.0.1:9",
            "account_sid": SID,
            "auth_token": TOKEN,
            "from": "+15005550006",
            "timeout": 5.0,
        },
    )


def test_an_sms_reply_through_the_signed_webhook_is_stored_once(
    twilio_settings: None, owner_client: Client
) -> None:
    ivan = customer_create(first_name="Іван", phones=["+380671234567"])
    ours = message_queue(
        channel="sms",
        recipient="+380671234567",
        body="Ваше замовлення готове",
        idempotency_key="s:1",
        customer_id=ivan.pk,
    )
    url = f"{settings.PROCEDO_BASE_URL}/messages/sms/inbound/"
    # The fields Twilio documents for an incoming message.
    params = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": SID,
        "From": "+380671234567",
        "To": "+15005550006",
        "Body": "Заберу завтра",
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    client = Client(enforce_csrf_checks=True)

    def post(signature: str | None = None, **changes: str) -> int:
        form = {**params, **changes}
        signed = signature or twilio_signature(TOKEN, url, form)
        response = client.post(
            "/messages/sms/inbound/", form, headers={"X-Twilio-Signature": signed}
        )
        if response.status_code == 200:
            assert response["Content-Type"].startswith("text/xml")
            assert b"<Response></Response>" in response.content
        return response.status_code

    assert post(signature="forged") == 403
    assert not InboundMessage.objects.exists()
    assert post() == 200
    assert post() == 200  # Twilio retries: the same MessageSid is one message
    assert post(MessageSid="") == 422
    [inbound] = InboundMessage.objects.all()
    assert (inbound.customer_id, inbound.in_reply_to_id, inbound.body) == (
        ivan.pk,
        ours.pk,
        "Заберу завтра",
    )
    assert Event.objects.filter(event_type="message.received", customer_id=ivan.pk).count() == 1

    card = owner_client.get(f"/customers/{ivan.pk}/").content.decode()
    assert "Заберу завтра" in card
    log = owner_client.get("/messages/", {"direction": "inbound"}).content.decode()
    assert "Заберу завтра" in log and "+380671234567" in log
    detail = owner_client.get(f"/messages/inbound/{inbound.pk}/").content.decode()
    assert "NumSegments" in detail  # the webhook's form as it came


def test_an_inbound_sms_without_a_provider_is_refused(client: Client) -> None:
    assert client.post("/messages/sms/inbound/", {"MessageSid": "SM1"}).status_code == 404
    assert not InboundMessage.objects.exists()


def test_replies_follow_a_merge(twilio_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    one = customer_create(first_name="Олена", emails=["a@example.com"])
    two = customer_create(first_name="Олена", emails=["b@example.com"])
    mail = EmailMessage()
    mail["From"] = "b@example.com"
    mail.set_content("Привіт")
    pipe(monkeypatch, mail.as_bytes())
    customer_merge(survivor_id=one.pk, duplicate_id=two.pk, actor=None)
    assert InboundMessage.objects.get().customer_id == one.pk
    assert Message.objects.count() == 0
