from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.money import money_format
from procedo.core.paging import keyset_page
from procedo.events.models import Event
from procedo.events.services import consumer_drain, event_record
from procedo.home.consumers import daily_counts

pytestmark = pytest.mark.django_db


def test_money_is_shown_with_its_currency() -> None:
    assert money_format(Decimal("1234567.5"), "UAH") == "1\u202f234\u202f567.50\u00a0₴"
    assert money_format(Decimal("-0.005"), "EUR") == "−0.01\u00a0€"
    assert money_format(Decimal("12"), "JPY") == "12\u00a0JPY"
    assert money_format(None, "UAH") == "—"


def test_keyset_paging_walks_every_row_once_in_order() -> None:
    with transaction.atomic():
        for i in range(23):
            event_record(event_type=f"t{i % 3}", payload={"i": i})
    seen: list[int] = []
    cursor = None
    while True:
        page = keyset_page(Event.objects.all(), order=["event_type", "-id"], cursor=cursor, limit=5)
        seen.extend(e.payload["i"] for e in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = sorted(range(23), key=lambda i: (f"t{i % 3}", -i))
    assert seen == expected
    with pytest.raises(DomainError) as caught:
        keyset_page(Event.objects.all(), order=["-id"], cursor="%%%", limit=5)
    assert caught.value.field == "cursor"


@pytest.mark.django_db(transaction=True)
def test_dashboard_shows_event_counts_and_recent_events(owner_client: Client) -> None:
    consumer_drain(name="events.daily_counts", handler=daily_counts)
    response = owner_client.get(reverse("home:dashboard"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "events recorded" in body and "as Owner" in body
    assert response.context["counts"].total == Event.objects.count()


def test_business_settings_validate_and_record_the_change(owner_client: Client) -> None:
    bad = owner_client.post(
        reverse("home:business"),
        {"name": "Крамниця", "time_zone": "Mars/Olympus", "currency": "UAH"},
    )
    assert bad.status_code == 422
    assert not Event.objects.filter(event_type="business.updated").exists()
    good = owner_client.post(
        reverse("home:business"),
        {"name": "Крамниця", "time_zone": "America/New_York", "currency": "usd"},
    )
    assert good.status_code == 302
    business = business_get()
    assert (business.name, business.time_zone, business.currency) == (
        "Крамниця",
        "America/New_York",
        "USD",
    )
    assert Event.objects.filter(event_type="business.updated").count() == 1


def test_pages_show_times_in_the_business_time_zone(owner_client: Client) -> None:
    from datetime import UTC, datetime

    with transaction.atomic():
        event_record(
            event_type="clock.ticked", occurred_at=datetime(2026, 7, 1, 21, 30, tzinfo=UTC)
        )
    body = owner_client.get(reverse("home:activity")).content.decode()
    # Kyiv is UTC+3 in summer: 21:30 UTC is past midnight there.
    assert "2 Jul 2026, 00:30" in body


def test_search_needs_two_characters_and_finds_people_in_cyrillic(owner_client: Client) -> None:
    assert owner_client.get(reverse("home:search"), {"q": "о"}).context["results"] == []
    response = owner_client.get(reverse("home:search"), {"q": "ОКСАНА"})
    people = [
        hits for provider, hits in response.context["results"] if str(provider.label) == "People"
    ]
    assert [hit.title for hit in people[0]] == ["Оксана Литвиненко"]


def test_a_database_outage_answers_503_not_a_page(
    owner_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from procedo.home import views

    def broken(**kwargs: object) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(views.event_selectors, "event_counts", broken)
    response = owner_client.get(reverse("home:dashboard"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
