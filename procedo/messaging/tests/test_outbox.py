"""The embedded default: email is delivered to the outbox, and the Messages pages show it there."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from procedo.business import services as business_services
from procedo.customers.services.customers import customer_create
from procedo.messaging.emailconfig import email_from_env
from procedo.messaging.models import Message, MessageKind, MessageState
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.services.sending import messages_send_due

pytestmark = pytest.mark.django_db


def queue(key: str = "o1", **extra: object) -> Message:
    fields: dict[str, object] = {
        "channel": "email",
        "recipient": "olena@example.com",
        "subject": "Ваше замовлення 10137",
        "body": "Дякуємо! Замовлення вже пакуємо.",
        "body_html": "<p>Дякуємо! Замовлення вже <b>пакуємо</b>.</p>",
        "idempotency_key": key,
        **extra,
    }
    return message_queue(**fields)  # type: ignore[arg-type]


def test_without_email_url_email_goes_to_the_outbox_under_procedo_var(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("EMAIL_URL", raising=False)
    assert email_from_env(tmp_path) == {
        "backend": "outbox",
        "directory": str(tmp_path / "outbox"),
    }
    monkeypatch.setenv("EMAIL_URL", "smtp://mail.example.com:587/?tls=1")
    assert email_from_env(tmp_path)["backend"] == "smtp"


def test_the_default_settings_deliver_to_the_outbox_and_the_messages_pages_say_so(
    email_outbox: Path, owner_client: Client
) -> None:
    assert settings.PROCEDO_EMAIL["backend"] == "outbox"  # the settings as shipped
    message = queue()

    report = messages_send_due()

    assert (report.sent, report.released) == (1, 0)
    message.refresh_from_db()
    assert (message.state, message.provider) == (MessageState.SENT, "outbox")
    delivered = email.message_from_bytes(
        (email_outbox / f"{message.pk}.eml").read_bytes(), policy=email.policy.default
    )
    assert delivered["Subject"] == "Ваше замовлення 10137"
    assert delivered["To"] == "olena@example.com"
    assert delivered["Message-ID"] == message.message_id

    listing = owner_client.get("/messages/").content.decode()
    assert "Email goes to the demo outbox." in listing
    assert "Delivered to the demo outbox" in listing
    assert "<code>EMAIL_URL</code>" in listing  # how to send real email instead

    page = owner_client.get(f"/messages/{message.pk}/").content.decode()
    assert 'id="outbox-copy"' in page
    assert str(email_outbox / f"{message.pk}.eml") in page
    assert "Дякуємо! Замовлення вже пакуємо." in page  # the text part, read from the file
    assert "Demo outbox" in page  # the provider


def test_sending_again_replaces_the_one_file(email_outbox: Path) -> None:
    message = queue()
    messages_send_due()
    Message.objects.filter(pk=message.pk).update(state=MessageState.QUEUED)
    messages_send_due()
    assert [p.name for p in email_outbox.iterdir()] == [f"{message.pk}.eml"]


def test_links_in_outbox_mail_point_at_the_base_url(
    email_outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "PROCEDO_BASE_URL", "http://127.0.0.1:8123")
    business_services.business_update(
        name="Shop",
        time_zone="Europe/Kyiv",
        currency="UAH",
        actor_id=None,
        quiet_hours_start=None,
        quiet_hours_end=None,
    )
    olena = customer_create(
        first_name="Олена", emails=["olena@example.com"], email_consent="granted"
    )
    message = queue(kind=MessageKind.MARKETING, customer_id=olena.pk)
    messages_send_due()
    raw = (email_outbox / f"{message.pk}.eml").read_bytes()
    delivered = email.message_from_bytes(raw, policy=email.policy.default)
    link = str(delivered["List-Unsubscribe"]).strip()
    assert link.startswith("<http://127.0.0.1:8123/messages/unsubscribe/")


def test_an_outbox_that_cannot_be_written_keeps_the_mail_queued_and_says_why(
    email_outbox: Path, owner_client: Client
) -> None:
    email_outbox.parent.mkdir(parents=True, exist_ok=True)
    email_outbox.write_text("a file where the directory should be")
    message = queue()

    report = messages_send_due()

    assert (report.sent, report.released) == (0, 1)
    message.refresh_from_db()
    assert message.state == MessageState.QUEUED and message.attempts == 0
    assert message.answer.startswith(f"cannot write to the outbox {email_outbox}")
    # The reason is on the list, not only on the message's own page.
    assert "cannot write to the outbox" in owner_client.get("/messages/").content.decode()
