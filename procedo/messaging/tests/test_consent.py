"""Marketing mail: consent, the one-click unsubscribe end to end, quiet hours, the cap."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client

from procedo.customers import services as customer_services
from procedo.customers.models import Identity
from procedo.messaging import sending, unsubscribe
from procedo.messaging.models import Message, MessageKind, MessageState
from procedo.messaging.services import message_queue
from procedo.messaging.tests.conftest import SmtpServer

pytestmark = pytest.mark.django_db
KYIV = zoneinfo.ZoneInfo("Europe/Kyiv")
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=KYIV)


def customer(email: str, consent: str = "granted") -> int:
    return customer_services.customer_create(
        first_name="Олена", emails=[email], email_consent=consent
    ).pk


def queue(email: str, key: str, kind: str, customer_id: int | None) -> Message:
    return message_queue(
        channel="email",
        recipient=email,
        subject="Весняний розпродаж" if kind == MessageKind.MARKETING else "Ваше замовлення",
        body="Привіт!",
        idempotency_key=key,
        kind=kind,
        customer_id=customer_id,
    )


def test_unsubscribe_headers_only_on_marketing_and_the_link_works(smtp: SmtpServer) -> None:
    olena = customer("olena@example.com")
    queue("olena@example.com", "m1", MessageKind.MARKETING, olena)
    queue("olena@example.com", "t1", MessageKind.TRANSACTIONAL, olena)
    assert sending.messages_send_due(now=NOON).sent == 2
    promo, receipt = smtp.recorder.received
    assert receipt["List-Unsubscribe"] is None and receipt["List-Unsubscribe-Post"] is None
    assert promo["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(promo["List-Unsubscribe"]).strip().strip("<>")
    path = urlsplit(url).path
    client = Client(enforce_csrf_checks=True)

    page = client.get(path)  # a link scanner's GET changes nothing
    assert page.status_code == 200 and "olena@example.com" in page.content.decode()
    assert Identity.objects.get().marketing_consent == "granted"

    # The mail client's one-click POST: no cookie, no CSRF token.
    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert Identity.objects.get().marketing_consent == "denied"
    assert Identity.objects.get().consent_source == "unsubscribe link"
    assert client.post(path).status_code == 200  # a second click is harmless

    queue("olena@example.com", "m2", MessageKind.MARKETING, olena)
    queue("olena@example.com", "t2", MessageKind.TRANSACTIONAL, olena)
    sending.messages_send_due(now=NOON)
    promo2 = Message.objects.get(idempotency_key="m2")
    assert promo2.state == MessageState.SUPPRESSED
    assert promo2.reason == "unsubscribed or refused marketing"
    assert Message.objects.get(idempotency_key="t2").state == MessageState.SENT
    assert len(smtp.recorder.received) == 3


def test_a_forged_token_is_refused() -> None:
    token = unsubscribe.unsubscribe_token("a@example.com")
    response = Client().post(f"/messages/unsubscribe/{token[:-2]}xx/")
    assert response.status_code == 400


def test_no_consent_or_no_identity_is_suppressed_with_the_reason(smtp: SmtpServer) -> None:
    unknown = customer("unknown@example.com", consent="unknown")
    queue("unknown@example.com", "m1", MessageKind.MARKETING, unknown)
    queue("stranger@example.com", "m2", MessageKind.MARKETING, None)
    sending.messages_send_due(now=NOON)
    reasons = dict(Message.objects.values_list("idempotency_key", "reason"))
    assert set(Message.objects.values_list("state", flat=True)) == {"suppressed"}
    assert reasons == {
        "m1": "no marketing consent",
        "m2": "not a customer's identity: no marketing consent",
    }
    assert smtp.recorder.received == []


def test_quiet_hours_defer_marketing_until_morning_not_transactional(smtp: SmtpServer) -> None:
    olena = customer("olena@example.com")
    queue("olena@example.com", "m1", MessageKind.MARKETING, olena)
    queue("olena@example.com", "t1", MessageKind.TRANSACTIONAL, olena)
    late = datetime(2026, 11, 24, 22, 30, tzinfo=KYIV)
    sending.messages_send_due(now=late)
    promo = Message.objects.get(idempotency_key="m1")
    assert promo.state == MessageState.QUEUED and promo.reason == "quiet hours"
    assert promo.deferred_until == datetime(2026, 11, 25, 9, 0, tzinfo=KYIV)
    assert Message.objects.get(idempotency_key="t1").state == MessageState.SENT
    sending.messages_send_due(now=datetime(2026, 11, 25, 9, 1, tzinfo=KYIV))
    promo.refresh_from_db()
    assert promo.state == MessageState.SENT


def test_the_frequency_cap_defers_the_third_promotion(smtp: SmtpServer) -> None:
    olena = customer("olena@example.com")
    for i in range(3):
        queue("olena@example.com", f"m{i}", MessageKind.MARKETING, olena)
    sending.messages_send_due(now=NOON)
    third = Message.objects.get(idempotency_key="m2")
    assert third.state == MessageState.QUEUED and third.reason == "frequency cap"
    assert third.deferred_until == NOON + unsubscribe.CAP_WINDOW
    assert sending.messages_send_due(now=NOON + timedelta(hours=1)).sent == 0
    assert len(smtp.recorder.received) == 2
