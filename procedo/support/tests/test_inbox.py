"""One inbox: email through a real SMTP server, SMS through Twilio's webhook, Telegram through
its webhook and a local Bot API; replies out on the customer's channel, once."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.test import Client

from procedo.accounts.models import User
from procedo.customers.models import Customer
from procedo.customers.services.customers import customer_create
from procedo.events.models import Event
from procedo.messaging.models import Message
from procedo.messaging.services.sending import messages_send_due
from procedo.messaging.sms import twilio_signature
from procedo.support import telegram
from procedo.support.models import Conversation, Entry, TelegramUpdate
from procedo.support.services.conversations import (
    conversation_assign,
    conversation_note_add,
    conversation_reply,
)
from procedo.support.services.intake import Incoming, inbox_consume, message_receive
from procedo.support.smtp import InboxHandler
from procedo.support.tests.helpers import BOT_TOKEN, SECRET, BotApi, bot_api, post_update, update
from procedo.testing import SmtpServer, consumer_catch_up, free_port

SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "secret-token"


@pytest.fixture
def inbox_smtp() -> Iterator[int]:
    """The support inbox's own SMTP server (the production handler) on loopback."""
    port = free_port()
    controller = Controller(InboxHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def telegram_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[BotApi]:
    with bot_api() as (api, url):
        monkeypatch.setattr(
            settings,
            "PROCEDO_TELEGRAM",
            {"token": BOT_TOKEN, "webhook_secret": SECRET, "api_url": url},
        )
        yield api


def _mail(sender: str, to: str, subject: str, text: str, **headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail


@pytest.mark.django_db(transaction=True)
def test_email_new_mail_opens_a_conversation_and_the_reply_to_our_answer_joins_it(
    inbox_smtp: int, smtp: SmtpServer, owner: User
) -> None:
    known = customer_create(first_name="Олена", emails=["olena@example.com"])
    with smtplib.SMTP("127.0.0.1", inbox_smtp) as client:
        client.send_message(
            _mail("Олена <Olena@Example.com>", "support@shop.test", "Де моє замовлення?",
                  "Замовлення 1042 ще не прийшло.", Message_ID="<c1@example.com>")
        )  # fmt: skip
        client.send_message(
            _mail("stranger@example.net", "support@shop.test", "Question", "Do you ship to PL?")
        )
    first, second = Conversation.objects.order_by("id")
    # Matched by the customers app's normalisation (case), and an unknown sender is a new
    # customer, never dropped.
    assert (first.customer_id, first.status, first.subject) == (
        known.pk,
        "new",
        "Де моє замовлення?",
    )
    assert second.customer_id != known.pk and second.customer.source == "support"
    assert second.customer.emails == ["stranger@example.net"]

    answer = conversation_reply(
        conversation_id=first.pk, body="Вже в дорозі.", actor=owner, idempotency_key="ui:r1"
    )
    conversation_reply(
        conversation_id=first.pk, body="Вже в дорозі.", actor=owner, idempotency_key="ui:r1"
    )
    assert Message.objects.count() == 1  # a double submit is one message
    messages_send_due()
    [sent] = smtp.recorder.received
    assert sent["To"] == "olena@example.com"
    reply_to = str(sent["Reply-To"])
    assert reply_to.startswith("noreply+") or "+" in reply_to.split("@")[0]
    first.refresh_from_db()
    assert (first.status, first.assignee_id, first.first_response_at is not None) == (
        "open",
        owner.pk,
        True,
    )

    # The customer answers to the Reply-To address (a client that drops In-Reply-To).
    with smtplib.SMTP("127.0.0.1", inbox_smtp) as client:
        client.send_message(
            _mail("olena@example.com", reply_to, "Re: Де моє замовлення?", "Дякую!"),
            to_addrs=[reply_to],
        )
        # … and one that keeps the thread by In-Reply-To.
        client.send_message(
            _mail("olena@example.com", "support@shop.test", "Re: Де моє замовлення?",
                  "Ще питання.", In_Reply_To=str(sent["Message-ID"]))
        )  # fmt: skip
    assert Conversation.objects.count() == 2
    bodies = list(Entry.objects.filter(conversation=first).values_list("kind", "body"))
    assert bodies == [
        ("inbound", "Замовлення 1042 ще не прийшло."),
        ("reply", answer.body),
        ("inbound", "Дякую!"),
        ("inbound", "Ще питання."),
    ]
    # A message without a From is refused with a 5xx naming it, so the sender bounces it.
    with (
        smtplib.SMTP("127.0.0.1", inbox_smtp) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.sendmail("x@example.com", ["support@shop.test"], b"Subject: hi\r\n\r\nno from")
    assert refused.value.smtp_code == 550 and b"From" in refused.value.smtp_error


@pytest.mark.django_db
def test_sms_through_twilio_reaches_the_inbox_by_the_event_log(
    monkeypatch: pytest.MonkeyPatch, owner: User
) -> None:
    monkeypatch.setattr(
        settings,
        "PROCEDO_SMS",
        {"provider": "twilio", "base_url": "http://127.0.0.1:9", "account_sid": SID,
         "auth_token": TOKEN, "from": "+15005550006", "timeout": 5.0},
    )  # fmt: skip
    ivan = customer_create(first_name="Іван", phones=["067 123 45 67"])
    url = f"{settings.PROCEDO_BASE_URL}/messages/sms/inbound/"
    client = Client()
    for sid, text in (("SM" + "a" * 32, "Коли доставка?"), ("SM" + "b" * 32, "Дякую")):
        form = {"MessageSid": sid, "AccountSid": SID, "From": "+380671234567",
                "To": "+15005550006", "Body": text, "NumMedia": "0"}  # fmt: skip
        signed = twilio_signature(TOKEN, url, form)
        response = client.post(
            "/messages/sms/inbound/", form, headers={"X-Twilio-Signature": signed}
        )
        assert response.status_code == 200
    consumer_catch_up(name="support.inbox", handler=inbox_consume)
    consumer_catch_up(name="support.inbox", handler=inbox_consume)  # nothing twice
    [conversation] = Conversation.objects.all()
    assert (conversation.channel, conversation.address, conversation.customer_id) == (
        "sms",
        "+380671234567",
        ivan.pk,
    )
    assert [e.body for e in conversation.entries.order_by("id")] == ["Коли доставка?", "Дякую"]
    conversation_reply(
        conversation_id=conversation.pk, body="Завтра", actor=owner, idempotency_key="ui:s1"
    )
    [out] = Message.objects.all()
    assert (out.channel, out.recipient, out.source) == (
        "sms",
        "+380671234567",
        f"support:{conversation.pk}",
    )


@pytest.mark.django_db
def test_telegram_webhook_checks_its_secret_and_replies_go_out_once(
    telegram_api: BotApi, owner: User
) -> None:
    client = Client(enforce_csrf_checks=True)
    before = Event.objects.count()
    assert post_update(client, update(1, 555, "hi"), secret="wrong") == 403
    assert post_update(client, update(1, 555, "hi"), secret="") == 403
    assert not TelegramUpdate.objects.exists() and not Entry.objects.exists()
    assert Event.objects.count() == before

    assert post_update(client, update(10, 555, "Привіт, де посилка?")) == 204
    assert post_update(client, update(10, 555, "Привіт, де посилка?")) == 204  # redelivery
    assert post_update(client, update(11, 555, "Номер 1042")) == 204
    assert post_update(client, {"update_id": 12, "my_chat_member": {}}) == 204  # kept, no entry
    assert post_update(client, {"no": "update"}) == 422
    [conversation] = Conversation.objects.all()
    assert conversation.channel == "telegram" and conversation.address == "555"
    assert Customer.objects.get(pk=conversation.customer_id).first_name == "Марко"
    assert conversation.entries.count() == 2 and TelegramUpdate.objects.count() == 3

    entry = conversation_reply(
        conversation_id=conversation.pk, body="Посилка вже у відділенні.", actor=owner,
        idempotency_key="ui:t1",
    )  # fmt: skip
    assert telegram.telegram_send_due() == {"sent": 1, "failed": 0, "unknown": 0, "queued": 0}
    assert telegram.telegram_send_due()["sent"] == 0  # a second run sends nothing again
    assert telegram_api.sent() == [{"chat_id": 555, "text": "Посилка вже у відділенні."}]
    entry.refresh_from_db()
    assert entry.delivery == "sent" and entry.external_id == "1001"

    telegram_api.fail_with = "Bad Request: chat not found"
    conversation_reply(
        conversation_id=conversation.pk, body="Ще щось?", actor=owner, idempotency_key="ui:t2"
    )
    assert telegram.telegram_send_due()["failed"] == 1
    failed = Entry.objects.get(idempotency_key="ui:t2")
    assert (failed.delivery, failed.delivery_answer) == ("failed", "Bad Request: chat not found")
    assert len(telegram_api.sent()) == 2  # the failure was one request, not retried blindly


@pytest.mark.django_db
def test_notes_stay_inside_and_assignment_names_its_field(owner: User) -> None:
    entry = message_receive(
        Incoming(channel="email", address="a@example.com", body="Hello",
                          subject="Hi", idempotency_key="t:1")
    )  # fmt: skip
    conversation_id = entry.conversation_id
    conversation_note_add(
        conversation_id=conversation_id, body="VIP", actor=owner, idempotency_key="n1"
    )
    assert not Message.objects.exists()
    from procedo.core.errors import DomainError

    with pytest.raises(DomainError) as caught:
        conversation_assign(
            conversation_id=conversation_id, assignee_id=999999, team_id=None, actor=owner
        )
    assert caught.value.field == "assignee_id"
    with pytest.raises(DomainError) as empty:
        conversation_reply(
            conversation_id=conversation_id, body="  ", actor=owner, idempotency_key="e1"
        )
    assert empty.value.field == "body"
    events = list(
        Event.objects.filter(subject_type="conversation").values_list("event_type", flat=True)
    )
    assert events == ["conversation.opened", "conversation.message_received", "conversation.noted"]
    assert (
        json.loads(json.dumps(Event.objects.get(event_type="conversation.opened").payload))["from"]
        == "a@example.com"
    )
