"""Deliveries from the log to a real HTTP server on loopback: signed, retried, in order."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone, translation

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.collab.models import Notification
from procedo.events.models import ConsumerCursor, Event
from procedo.orders.tests.factories import customer_create, move, order_create
from procedo.outbound import services
from procedo.outbound.models import Delivery, DeliveryState, Subscription, SubscriptionState
from procedo.outbound.services import RETRY_PERIOD, deliveries_make, deliveries_send_due
from procedo.outbound.tests.receiver import Received, Receiver
from procedo.testing import consumer_catch_up, free_port, person

pytestmark = pytest.mark.django_db(transaction=True)

CONSUMER = "outbound.webhooks"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


@pytest.fixture(autouse=True)
def driven_by_the_test(quiet: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No wake-ups after commit: each test drains the log and sends when it says so."""
    monkeypatch.setattr(services, "_wake_sender_on_commit", lambda: None)


def _drain() -> None:
    consumer_catch_up(name=CONSUMER, handler=deliveries_make, ordered_by_subject=True)


def _webhook(receiver: Receiver, owner: User, *event_types: str) -> Subscription:
    return services.subscription_create(
        name="Warehouse",
        url=receiver.url,
        event_types=list(event_types or ["order.created", "order.status_changed"]),
        actor=owner,
    )


def _documented_verify() -> Callable[..., bool]:
    """The Python snippet of docs/webhooks.md, run as a receiver would paste it."""
    from config.api import api

    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/webhooks.md shows one verification snippet"
    assert blocks[0] in api.description, "the API document shows the same snippet"
    namespace: dict[str, Any] = {}
    exec(blocks[0], namespace)
    return namespace["procedo_verify"]


def test_a_delivery_carries_the_order_and_passes_the_documented_check(
    receiver: Receiver,
) -> None:
    owner = person(Role.OWNER)
    order_create()  # in the log before the webhook was made: never sent to it
    webhook = _webhook(receiver, owner)
    customer = customer_create("Олена", last_name="Коваль")
    order = order_create(customer=customer)
    _drain()
    assert deliveries_send_due() == 1

    [request] = receiver.received
    verify = _documented_verify()
    assert verify(request.body, request.headers["Procedo-Signature"], webhook.secret)
    assert not verify(request.body + b" ", request.headers["Procedo-Signature"], webhook.secret)
    assert not verify(request.body, request.headers["Procedo-Signature"], "whsec_other")
    body = json.loads(request.body)
    event = Event.objects.get(event_type="order.created", subject_id=order.pk)
    assert request.headers["Procedo-Event-Id"] == body["id"] == str(event.pk)
    assert request.headers["Procedo-Event-Type"] == body["type"] == "order.created"
    assert body["subject"] == {"type": "order", "id": order.pk}
    assert body["occurred_at"].startswith(str(event.occurred_at.year))
    assert body["data"]["number"] == order.number
    assert len(body["data"]["lines"]) == 1 and body["data"]["lines"][0]["quantity"] == 1
    assert body["data"]["customer"]["first_name"] == "Олена"
    delivery = Delivery.objects.get()
    assert request.headers["Procedo-Delivery-Id"] == str(delivery.uid)
    assert (delivery.state, delivery.response_code, delivery.attempts) == ("delivered", 200, 1)


def test_a_500_is_retried_with_the_same_ids_and_a_replayed_batch_makes_no_second_delivery(
    receiver: Receiver,
) -> None:
    answers = iter([500, 200])
    receiver.answer = lambda _request: next(answers)
    _webhook(receiver, person(Role.MANAGER))
    order_create()
    _drain()
    start = timezone.now()
    deliveries_send_due(now=start)
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.response_code, delivery.attempts) == ("pending", 500, 1)
    assert delivery.problem == "The server answered 500."
    # Exponential backoff with jitter: the first pause is half to all of 30 s.
    assert delivery.next_attempt_at is not None
    assert timedelta(seconds=15) <= delivery.next_attempt_at - start <= timedelta(seconds=30)
    assert deliveries_send_due(now=start + timedelta(seconds=10)) == 0  # not due yet

    # The consumer reads the same batch again (a crash before its cursor moved): no new row.
    ConsumerCursor.objects.filter(name=CONSUMER).update(txid=0, event_id=0)
    _drain()
    assert Delivery.objects.count() == 1

    # A worker took it and died mid-send: nobody sends it until its lease runs out.
    due = delivery.next_attempt_at
    Delivery.objects.update(claimed_until=due + timedelta(seconds=30))
    assert deliveries_send_due(now=due) == 0
    deliveries_send_due(now=due + timedelta(seconds=31))
    delivery.refresh_from_db()
    assert (delivery.state, delivery.response_code, delivery.attempts) == ("delivered", 200, 2)
    first, second = receiver.received
    assert [r.status for r in receiver.received] == [500, 200]
    for header in ("Procedo-Delivery-Id", "Procedo-Event-Id"):
        assert first.headers[header] == second.headers[header]
    assert first.body == second.body


def test_after_the_retry_period_the_delivery_fails_the_webhook_pauses_and_its_owner_is_told(
    receiver: Receiver,
) -> None:
    receiver.answer = lambda _request: 503
    owner = person(Role.MANAGER)
    webhook = _webhook(receiver, owner)
    order_create()
    _drain()
    start = timezone.now()
    deliveries_send_due(now=start)
    deliveries_send_due(now=start + RETRY_PERIOD - timedelta(minutes=1))
    assert Delivery.objects.get().state == DeliveryState.PENDING
    deliveries_send_due(now=start + RETRY_PERIOD + timedelta(minutes=1))

    delivery = Delivery.objects.get()
    webhook.refresh_from_db()
    assert (delivery.state, delivery.response_code, delivery.attempts) == ("failed", 503, 3)
    assert webhook.state == SubscriptionState.PAUSED
    assert webhook.pause_reason.endswith("failed for 24 hours: The server answered 503.")
    with translation.override("uk"):  # each reader in their language, whoever wrote it
        assert webhook.pause_reason.endswith("24 год: Сервер відповів 503.")
    [told] = Notification.objects.filter(kind="webhook_paused")
    assert told.recipient_id == owner.pk and "Warehouse" in told.title
    assert Event.objects.filter(
        event_type="webhook.delivery_failed", subject_id=webhook.pk
    ).exists()

    # Paused: a new event is queued, not sent, until a person resumes the webhook.
    order_create()
    _drain()
    receiver.answer = lambda _request: 200
    assert deliveries_send_due(now=start + RETRY_PERIOD + timedelta(hours=1)) == 0
    services.subscription_resume(subscription_id=webhook.pk, actor=owner)
    assert deliveries_send_due() == 1
    assert Delivery.objects.filter(state=DeliveryState.DELIVERED).count() == 1


def test_events_of_one_order_arrive_in_order_when_the_first_delivery_fails(
    receiver: Receiver,
) -> None:
    failed_once: set[str] = set()
    first = order_create()
    other = order_create()
    Event.objects.all().delete()  # the test is about the events below, not the placing

    def answer(request: Received) -> int:
        subject = json.loads(request.body)["subject"]["id"]
        if subject == first.pk and "first" not in failed_once:
            failed_once.add("first")
            return 500
        return 200

    receiver.answer = answer
    _webhook(receiver, person(Role.OWNER), "order.status_changed")
    move(first, "confirmed")
    move(other, "confirmed")
    move(first, "cancelled")
    _drain()
    start = timezone.now()
    deliveries_send_due(now=start)
    sent = [(json.loads(r.body)["subject"]["id"], r.status) for r in receiver.received]
    # The first order's first event failed: its second waits; the other order goes on.
    assert sent == [(first.pk, 500), (other.pk, 200)]

    deliveries_send_due(now=start + timedelta(minutes=1))
    sent = [(json.loads(r.body)["subject"]["id"], r.status) for r in receiver.received]
    assert sent[2:] == [(first.pk, 200), (first.pk, 200)]
    tos = [json.loads(r.body)["payload"]["to"] for r in receiver.received if r.status == 200]
    assert tos == ["confirmed", "confirmed", "cancelled"]


def test_a_server_that_is_down_is_retried_and_the_page_says_why(receiver: Receiver) -> None:
    webhook = _webhook(receiver, person(Role.OWNER))
    Subscription.objects.filter(pk=webhook.pk).update(
        url=f"http://127.0.0.1:{free_port()}/nobody-listens"
    )
    order_create()
    _drain()
    deliveries_send_due()
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.response_code, delivery.attempts) == ("pending", None, 1)
    assert delivery.problem.startswith("Not delivered: ") and "refused" in delivery.problem
