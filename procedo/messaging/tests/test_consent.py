"""Marketing mail: consent, the one-click unsubscribe end to end, quiet hours, the cap."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from procedo.customers.models import Identity
from procedo.customers.services.customers import customer_create
from procedo.messaging.models import Message, MessageKind, MessageState
from procedo.messaging.services import unsubscribe
from procedo.messaging.services.queueing import message_queue
from procedo.messaging.services.sending import messages_send_due
from procedo.testing import SmtpServer

pytestmark = pytest.mark.django_db
KYIV = zoneinfo.ZoneInfo("Europe/Kyiv")
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=KYIV)


def customer(email: str, consent: str = "granted") -> int:
    return customer_create(first_name="Олена", emails=[email], email_consent=consent).pk


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
    assert messages_send_due(now=NOON).sent == 2
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
    messages_send_due(now=NOON)
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
    messages_send_due(now=NOON)
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
    messages_send_due(now=late)
    promo = Message.objects.get(idempotency_key="m1")
    assert promo.state == MessageState.QUEUED and promo.reason == "quiet hours"
    assert promo.deferred_until == datetime(2026, 11, 25, 9, 0, tzinfo=KYIV)
    assert Message.objects.get(idempotency_key="t1").state == MessageState.SENT
    messages_send_due(now=datetime(2026, 11, 25, 9, 1, tzinfo=KYIV))
    promo.refresh_from_db()
    assert promo.state == MessageState.SENT


def test_the_frequency_cap_defers_the_third_promotion(smtp: SmtpServer) -> None:
    olena = customer("olena@example.com")
    for i in range(3):
        queue("olena@example.com", f"m{i}", MessageKind.MARKETING, olena)
    messages_send_due(now=NOON)
    third = Message.objects.get(idempotency_key="m2")
    assert third.state == MessageState.QUEUED and third.reason == "frequency cap"
    assert third.deferred_until == NOON + timedelta(days=1)
    assert messages_send_due(now=NOON + timedelta(hours=1)).sent == 0
    assert len(smtp.recorder.received) == 2


def limits(**values: Any) -> None:
    from procedo.business.services import business_update

    business_update(
        name="Крамниця", time_zone="Europe/Kyiv", currency="UAH", actor_id=None, **values
    )


def test_quiet_hours_and_the_cap_are_the_stores_settings(smtp: SmtpServer) -> None:
    # A lunch break instead of the night, and one promotion per customer in two days.
    limits(
        quiet_hours_start=time(13, 0),
        quiet_hours_end=time(14, 0),
        marketing_cap_count=1,
        marketing_cap_days=2,
    )
    olena = customer("olena@example.com")
    for i in range(2):
        queue("olena@example.com", f"m{i}", MessageKind.MARKETING, olena)
    lunch = datetime(2026, 11, 24, 13, 30, tzinfo=KYIV)
    messages_send_due(now=lunch)
    first = Message.objects.get(idempotency_key="m0")
    assert first.reason == "quiet hours"
    assert first.deferred_until == datetime(2026, 11, 24, 14, 0, tzinfo=KYIV)
    late = datetime(2026, 11, 24, 22, 30, tzinfo=KYIV)  # night is no longer quiet
    assert messages_send_due(now=late).sent == 1
    second = Message.objects.get(idempotency_key="m1")
    assert second.state == MessageState.QUEUED and second.reason == "frequency cap"
    assert second.deferred_until == late + timedelta(days=2)
    # No cap at all: it goes.
    limits(marketing_cap_count=0)
    assert messages_send_due(now=second.deferred_until).sent == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"quiet_hours_start": time(21, 0), "quiet_hours_end": None}, "quiet_hours_end"),
        ({"quiet_hours_start": None, "quiet_hours_end": time(9, 0)}, "quiet_hours_start"),
        ({"quiet_hours_start": time(9, 0), "quiet_hours_end": time(9, 0)}, "quiet_hours_end"),
        ({"marketing_cap_count": -1}, "marketing_cap_count"),
        ({"marketing_cap_count": 101}, "marketing_cap_count"),
        ({"marketing_cap_days": 0}, "marketing_cap_days"),
    ],
)
def test_bad_limits_are_refused_naming_the_field(values: dict[str, Any], field: str) -> None:
    from procedo.business.selectors import business_get
    from procedo.core.errors import DomainError

    with pytest.raises(DomainError) as caught:
        limits(**values)
    assert caught.value.field == field
    business = business_get()
    assert (business.quiet_hours_start, business.marketing_cap_count) == (time(21, 0), 2)


def test_the_business_page_edits_the_limits(owner_client: Client) -> None:
    from procedo.business.selectors import business_get

    form = {"name": "Крамниця", "time_zone": "Europe/Kyiv", "currency": "UAH"}
    bad = owner_client.post("/settings/", {**form, "quiet_hours_start": "22:00"})
    assert bad.status_code == 422
    assert "Give quiet hours both a start and an end" in bad.content.decode()
    good = owner_client.post(
        "/settings/",
        {
            **form,
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "08:30",
            "marketing_cap_count": "3",
            "marketing_cap_days": "7",
        },
    )
    assert good.status_code == 302
    business = business_get()
    assert (business.quiet_hours_start, business.quiet_hours_end) == (time(22, 0), time(8, 30))
    assert (business.marketing_cap_count, business.marketing_cap_days) == (3, 7)
    page = owner_client.get("/settings/").content.decode()
    assert 'value="22:00"' in page and 'value="08:30"' in page
