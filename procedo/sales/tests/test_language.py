"""A meeting's message reaches the customer in the store's language, not the manager's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.business.services import business_update
from procedo.messaging.models import Message
from procedo.sales.services.leads import LeadIn, lead_create, lead_qualify
from procedo.sales.services.meetings import meeting_book
from procedo.testing import person

pytestmark = pytest.mark.django_db


def test_the_meeting_message_is_in_ukrainian_for_a_ukrainian_store() -> None:
    business_update(
        name="Крамниця", time_zone="Europe/Kyiv", currency="UAH", language="uk", actor_id=None
    )
    manager = person(Role.MANAGER)
    lead = lead_create(
        data=LeadIn(name="Ірина Бондар", email="iryna@example.com", consent=True), actor=manager
    )
    deal = lead_qualify(lead_id=lead.pk, actor=manager)
    meeting_book(deal_id=deal.pk, starts_at=timezone.now() + timedelta(days=2), actor=manager)
    booked = Message.objects.get()
    assert booked.subject.startswith("Зустріч ")
    assert booked.body.startswith("Нашу зустріч щодо")
