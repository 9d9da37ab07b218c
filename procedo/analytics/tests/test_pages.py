"""The analytics page and its API: who may read them, what they show, what they refuse."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from procedo.accounts.models import User
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.tests.factories import customer_create, order_create
from procedo.testing import api_caller

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def store() -> None:
    order_pipeline_defaults_install()
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    olena = customer_create("Олена")
    for days_ago, price in ((2, "1250.50"), (3, "800.00"), (40, "300.00")):
        order_create(
            (sku_create(price=price, on_hand=10), 1),
            customer=olena,
            placed_at=timezone.now() - timedelta(days=days_ago),
            status="delivered",
        )


def _login(make_user: Callable[..., User], role: str) -> Client:
    client = Client()
    client.force_login(make_user(role=role))
    return client


def test_the_owner_reads_revenue_in_the_business_currency_against_the_month_before(
    owner_client: Client,
) -> None:
    page = owner_client.get("/analytics/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "2\u202f050.50\xa0₴" in text  # two orders in the last 30 days
    assert "Not enough data yet" in text  # one customer is no repeat-purchase rate
    assert "+583.5 %" in text  # 2,050.50 against 300.00 in the 30 days before
    assert "{{" not in text and "None" not in text


def test_the_page_speaks_ukrainian(owner_client: Client) -> None:
    page = owner_client.get("/analytics/", HTTP_ACCEPT_LANGUAGE="uk")
    text = page.content.decode()
    assert "Аналітика" in text and "Виручка" in text and "Недостатньо даних" in text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days=custom&first=2026-02-01&last=2026-01-01", "last"),
        ("days=custom&first=1800-01-01&last=2026-01-01", "first"),
        ("days=custom&first=2026-01-01", "last"),
        ("days=forever", "days"),
        ("days=custom&first=2000-01-01&last=2026-01-01", "last"),
    ],
)
def test_a_period_that_makes_no_sense_is_a_form_error_on_its_field(
    owner_client: Client, query: str, field: str
) -> None:
    page = owner_client.get(f"/analytics/?{query}")
    assert page.status_code == 422
    assert field in page.context["form"].errors


def test_operators_do_not_see_the_business_numbers(make_user: Callable[..., User]) -> None:
    assert _login(make_user, "operator").get("/analytics/").status_code == 403
    assert _login(make_user, "marketer").get("/analytics/").status_code == 200
    assert _login(make_user, "support").get("/api/analytics/kpis").status_code == 403


def test_the_api_reads_a_kpi_with_its_definition_and_the_period_before(
    owner_client: Client,
) -> None:
    catalog = owner_client.get("/api/analytics/kpis").json()
    assert {"revenue", "repeat_purchase_rate", "task_on_time_rate"} <= {k["code"] for k in catalog}
    assert all(k["definition"] for k in catalog)
    today = timezone.localdate()
    reading = owner_client.get(
        f"/api/analytics/kpis/revenue?first={today - timedelta(days=29)}&last={today}"
    ).json()
    assert Decimal(reading["now"]["value"]) == Decimal("2050.50")
    assert Decimal(reading["before"]["value"]) == Decimal("300.00")
    assert reading["currency"] == "UAH" and reading["enough"] is True
    cohorts = owner_client.get(f"/api/analytics/cohorts?first={today - timedelta(days=60)}").json()
    assert [c["customers"] for c in cohorts] == [1]


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/analytics/kpis/happiness", 404, "kpi"),
        ("/api/analytics/kpis/revenue?first=2026-02-01&last=2026-01-01", 422, "last"),
        ("/api/analytics/kpis/churn_rate?window=0", 422, "window"),
        ("/api/analytics/kpis/revenue?first=1066-10-14", 422, "first"),
    ],
)
def test_the_api_refuses_what_makes_no_sense_naming_the_field(
    owner_client: Client, url: str, status: int, field: str
) -> None:
    response = owner_client.get(url)
    assert response.status_code == status
    assert response.json()["field"] == field


def test_revenue_by_country_names_countries_in_the_readers_language(owner_client: Client) -> None:
    from procedo.orders.models import Order

    newest = Order.objects.order_by("-placed_at").first()
    assert newest is not None
    Order.objects.filter(pk=newest.pk).update(ship_country="UA")
    text = owner_client.get("/analytics/", HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    section = text[text.index('id="countries"') :]
    assert "Україна" in section and "Країна невідома" in section
    assert section.index("Україна") < section.index("Країна невідома")  # 1,250.50 before 800

    owner = User.objects.get(username="owner")
    rows = api_caller(owner)("get", "/analytics/countries").json()
    assert [(row["country"], row["name"], row["orders"]) for row in rows] == [
        ("UA", "Ukraine", 1),
        ("", "Country not known", 1),
    ]
    assert rows[0]["revenue"] == "1250.50"
