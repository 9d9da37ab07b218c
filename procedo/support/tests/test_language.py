"""The survey reaches the customer in the store's language, not in the language of the
operator who solved the conversation."""

from __future__ import annotations

import pytest

from procedo.accounts.models import User
from procedo.business.services import business_update
from procedo.messaging.models import Message
from procedo.support.services.conversations import conversation_change_status
from procedo.support.services.intake import Incoming, message_receive
from procedo.support.services.tickets import ticket_open

pytestmark = pytest.mark.django_db


def test_the_survey_goes_out_in_ukrainian_for_a_ukrainian_store(owner: User) -> None:
    business_update(
        name="Крамниця", time_zone="Europe/Kyiv", currency="UAH", language="uk", actor_id=None
    )
    entry = message_receive(
        Incoming(
            channel="email", address="olena@example.com", body="Де посилка?", idempotency_key="in:1"
        )
    )
    conversation_id = entry.conversation_id
    ticket_open(conversation_id=conversation_id, actor=owner)
    conversation_change_status(conversation_id=conversation_id, to_status="solved", actor=owner)
    survey = Message.objects.filter(recipient="olena@example.com").order_by("id").last()
    assert survey is not None
    assert survey.subject == "Як ми впоралися?"
    assert survey.body.startswith("Ваше звернення вирішено.")
