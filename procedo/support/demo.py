"""A little support desk for the demo store: policies, categories and three conversations."""

from __future__ import annotations

from typing import Any

from procedo.customers.models import Identity
from procedo.support.services.conversations import conversation_reply
from procedo.support.services.intake import Incoming, message_receive
from procedo.support.services.tickets import (
    sla_policy_save,
    support_settings_save,
    ticket_category_create,
    ticket_open,
)


def demo_support_load(*, owner: Any, agent: Any, team_id: int) -> None:
    """SLA policies, categories and the standard; an email, an SMS and a Telegram
    conversation, one of them a ticket already answered (through the services)."""
    support_settings_save(first_answer_minutes=60, default_team_id=team_id, actor=owner)
    for priority, answer, solution in (
        ("normal", 120, 960),
        ("high", 60, 480),
        ("urgent", 15, 120),
    ):
        sla_policy_save(
            priority=priority,
            first_response_minutes=answer,
            resolution_minutes=solution,
            escalate_to_id=team_id if priority == "urgent" else None,
            actor=owner,
        )
    delivery = ticket_category_create(name="Доставка", actor=owner)
    ticket_category_create(name="Повернення", actor=owner)
    emails = list(Identity.objects.filter(kind="email").values_list("value", flat=True)[:1])
    phones = list(Identity.objects.filter(kind="phone").values_list("value", flat=True)[:1])
    first = message_receive(
        Incoming(
            channel="email",
            address=emails[0] if emails else "olha.demo@example.com",
            subject="Де моє замовлення?",
            body="Добрий день! Замовлення досі не прийшло, хоча обіцяли вчора.",
            idempotency_key="demo:support:1",
        )
    )
    ticket_open(
        conversation_id=first.conversation_id, priority="high", category_id=delivery.pk, actor=agent
    )
    conversation_reply(
        conversation_id=first.conversation_id,
        body="Перепрошуємо за затримку! Посилка вже у відділенні, номер ТТН надішлемо за годину.",
        actor=agent,
        idempotency_key="demo:support:reply:1",
    )
    message_receive(
        Incoming(
            channel="sms",
            address=phones[0] if phones else "+380671112233",
            body="Чи можна змінити адресу доставки?",
            idempotency_key="demo:support:2",
        )
    )
    message_receive(
        Incoming(
            channel="telegram",
            address="700100200",
            name="Богдан",
            body="Привіт! Чи є чайник у білому кольорі?",
            idempotency_key="demo:support:3",
        )
    )
