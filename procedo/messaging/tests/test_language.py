"""What the store writes to its customers goes out in the business's language, whatever the
language of the person (or the worker) that caused it."""

from __future__ import annotations

import pytest
from django.utils import translation

from procedo.business.services import business_update
from procedo.customers.services.customers import customer_create
from procedo.messaging.models import Message
from procedo.messaging.services.queueing import Outgoing, message_queue, messages_queue_many
from procedo.messaging.services.templates import template_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def ukrainian_store() -> None:
    business_update(
        name="Крамниця", time_zone="Europe/Kyiv", currency="UAH", language="uk", actor_id=None
    )
    template_save(
        template_id=None,
        key="invite",
        name="Invite a friend",
        channel="email",
        kind="marketing",
        subject="Запросіть друга",
        body_text="Друг отримає: {{ customer.friend_reward }}",
    )


def test_a_marketing_email_and_its_variables_are_in_the_stores_language(
    ukrainian_store: None,
) -> None:
    buyer = customer_create(first_name="Олена", emails=["olena@example.com"])
    assert translation.get_language() == "en"  # the person (or worker) queuing reads English
    message = message_queue(
        channel="email",
        recipient="olena@example.com",
        body="",
        template_key="invite",
        customer_id=buyer.pk,
        idempotency_key="invite:1",
    )
    assert message.body.startswith("Друг отримає: нічого")
    assert "Відписатися: " in message.body and "Unsubscribe" not in message.body


def test_a_campaign_batch_is_in_the_stores_language(ukrainian_store: None) -> None:
    buyer = customer_create(first_name="Тарас", emails=["taras@example.com"])
    queued = messages_queue_many(
        channel="email",
        kind="marketing",
        template_key="invite",
        items=[
            Outgoing(recipient="taras@example.com", idempotency_key="c:1", customer_id=buyer.pk)
        ],
    )
    assert queued == 1
    assert Message.objects.get().body == "Друг отримає: нічого"
