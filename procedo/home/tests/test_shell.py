from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from procedo.accounts.models import User
from procedo.business.selectors import business_get
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import DomainError
from procedo.core.money import money_format
from procedo.core.paging import keyset_page
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.home.consumers import daily_counts
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.tests.factories import order_create
from procedo.testing import consumer_catch_up

pytestmark = pytest.mark.django_db


def test_money_is_shown_with_its_currency() -> None:
    assert money_format(Decimal("1234567.5"), "UAH") == "1\u202f234\u202f567.50\u00a0₴"
    assert money_format(Decimal("-0.005"), "EUR") == "−0.01\u00a0€"
    assert money_format(Decimal("12"), "JPY") == "12\u00a0JPY"
    assert money_format(None, "UAH") == "—"
    # One decimal mark per language: a Ukrainian reader gets the comma.
    with translation.override("uk"):
        assert money_format(Decimal("1234.5"), "UAH") == "1\u202f234,50\u00a0₴"


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
def test_the_dashboard_is_the_morning_page(
    owner_client: Client, make_user: Callable[..., User]
) -> None:
    order_pipeline_defaults_install()
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    sku = sku_create(price="1200.00", on_hand=50)
    # Placed within the last hour, and today in Kyiv even just after midnight there.
    kyiv = ZoneInfo("Europe/Kyiv")
    today_began = datetime.combine(timezone.now().astimezone(kyiv).date(), time.min, tzinfo=kyiv)
    placed = max(today_began, timezone.now() - timedelta(hours=1))
    order_create((sku, 1), placed_at=placed)  # new, waiting
    order_create((sku, 2), placed_at=timezone.now() - timedelta(days=10), status="delivered")
    consumer_catch_up(name="events.daily_counts", handler=daily_counts)
    response = owner_client.get(reverse("home:dashboard"))
    assert response.status_code == 200
    body = response.content.decode()
    morning = response.context["morning"]
    today, week, month = morning.sales
    assert (week.orders.now.value, week.orders.before.value) == (1, 1)
    assert today.revenue.now.value == Decimal("1200.00")
    assert month.revenue.now.value == Decimal("3600.00") and month.orders.now.value == 2
    assert "3\u202f600.00\xa0₴" in body and "<svg" in body
    assert [(w.status.code, w.orders) for w in morning.waiting] == [("new", 1)]
    assert "the oldest for" in body and "as Owner" in body
    assert response.context["counts"].total == Event.objects.count()
    # An operator works the orders but does not see the business's revenue.
    operator = Client()
    operator.force_login(make_user(role="operator"))
    page = operator.get(reverse("home:dashboard"))
    assert page.context["morning"].sales is None
    assert "Revenue, last 30 days" not in page.content.decode()


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
