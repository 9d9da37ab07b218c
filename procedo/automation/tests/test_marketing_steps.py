"""A message step says what it is: an offer is marketing (consent, quiet hours, the cap, an
unsubscribe link), and an offer saved as transactional needs a reason written down."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import customer, engine_drain, event_trigger, order, sop_live
from procedo.core.errors import DomainError
from procedo.messaging.models import Message, MessageKind
from procedo.sops.validation import definition_clean

pytestmark = pytest.mark.django_db

OFFER = {
    "kind": "email",
    "key": "offer",
    "title": "Offer",
    "subject": "−15% for you, {{ customer.first_name }}",
    "body": "Use the code COMEBACK15.",
}


def _clean(step: dict[str, Any]) -> dict[str, Any]:
    return definition_clean(
        {"triggers": [event_trigger()], "steps": [step]}, subject_type="order", sop_id=None
    )


def test_an_offer_saved_as_transactional_asks_for_a_reason() -> None:
    for step in (OFFER, {**OFFER, "purpose": "transactional"}):
        with pytest.raises(DomainError) as refused:
            _clean(step)
        assert refused.value.field == "steps.0.purpose"
        assert "−15%" in refused.value.message
    ukrainian = {**OFFER, "subject": "Знижка для вас", "body": "Промокод ПОВЕРНИСЬ"}
    with pytest.raises(DomainError):
        _clean(ukrainian)

    assert _clean({**OFFER, "purpose": "marketing"})["steps"][0]["purpose"] == "marketing"
    reasoned = _clean({**OFFER, "purpose": "transactional", "transactional_reason": "Warranty"})
    assert reasoned["steps"][0]["transactional_reason"] == "Warranty"
    plain = {**OFFER, "subject": "Your order {{ order.number }}", "body": "It is on its way."}
    assert _clean(plain)["steps"][0]["purpose"] == ""


def test_a_marketing_step_queues_marketing_mail_with_an_unsubscribe_line(quiet: None) -> None:
    sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [{**OFFER, "purpose": "marketing"}],
        }
    )
    buyer = customer(first_name="Тарас", email="taras@example.com")
    order(customer_id=buyer.pk)
    engine_drain()
    executor.runs_advance_all()
    message = Message.objects.get()
    assert message.kind == MessageKind.MARKETING
    assert message.body.startswith("Use the code COMEBACK15.")
    assert "/messages/unsubscribe/" in message.body.rsplit("-- \n", 1)[1]
