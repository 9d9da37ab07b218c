"""The language the store writes to its customers in: set on the settings page or the API,
kept when not sent, a language Procedo has not refused naming the field."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.business.selectors import business_get, business_language
from procedo.events.models import Event
from procedo.testing import api_caller

pytestmark = pytest.mark.django_db


def test_the_owner_sets_the_customers_language_and_a_later_save_keeps_it(
    owner_client: Client, owner: User
) -> None:
    assert business_language() == "en"
    form = {"name": "Крамниця", "time_zone": "Europe/Kyiv", "currency": "UAH", "language": "uk"}
    assert owner_client.post(reverse("home:business"), form).status_code == 302
    assert business_language() == "uk"
    recorded = Event.objects.filter(event_type="business.updated").last()
    assert recorded is not None and recorded.payload["language"] == "uk"
    # A save that does not send it (an older form) keeps it.
    form.pop("language")
    assert owner_client.post(reverse("home:business"), form).status_code == 302
    assert business_get().language == "uk"

    call = api_caller(owner)
    assert call("get", "/business").json()["language"] == "uk"
    refused = call("patch", "/business", {"language": "xx"})
    assert refused.status_code == 422 and refused.json()["field"] == "language"
    assert call("patch", "/business", {"language": "en"}).json()["language"] == "en"
