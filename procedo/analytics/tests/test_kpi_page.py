"""A KPI's own page and its API twin: a period against a comparison, by channel, a chart, the
definition in words, the series as CSV, and what it refuses."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from procedo.analytics.periods import Period
from procedo.analytics.series import kpi_series
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.orders.tests.factories import customer_create, order_create

KYIV = ZoneInfo("Europe/Kyiv")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def store() -> None:
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    olena = customer_create("Олена")
    for when, price, channel in (
        ("2025-03-02", "100.10", "instagram"),
        ("2025-03-02", "50.00", "phone"),
        ("2025-03-20", "200.00", "instagram"),
        ("2025-02-10", "70.00", "instagram"),  # the days just before
        ("2024-03-05", "40.00", "phone"),  # a year earlier
    ):
        order_create(
            (sku_create(price=price, on_hand=10), 1),
            customer=olena,
            placed_at=datetime.fromisoformat(when).replace(hour=12, tzinfo=KYIV),
            status="delivered",
            channel=channel,
        )


MARCH = "first=2025-03-01&last=2025-03-31"


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_the_page_shows_the_period_against_the_one_before_with_a_chart_and_the_definition(
    owner_client: Client,
) -> None:
    page = owner_client.get(f"/analytics/kpi/revenue/?{MARCH}")
    assert page.status_code == 200
    series = page.context["series"]
    assert series.step == "day" and len(series.points) == 31
    assert series.reading.now.value == Decimal("350.10")
    assert series.reading.before.value == Decimal("70.00")
    assert series.comparison == Period(date(2025, 1, 29), date(2025, 2, 28), KYIV)
    text = page.content.decode()
    assert "Sales placed in the period, minus return documents" in text
    assert "350.10\xa0₴" in text and "+400.1 %" in text
    assert 'class="chart"' in text and '<polyline class="compare"' in text
    assert "Sun 2 March 2025: 150.10\xa0₴ (compared with Thu 30 January 2025: 0.00\xa0₴)" in text
    assert f'href="/analytics/kpi/revenue/csv/?{MARCH.replace("&", "&amp;")}"' in text


def test_a_year_earlier_and_one_channel(owner_client: Client) -> None:
    page = owner_client.get(f"/analytics/kpi/orders/?{MARCH}&compare=year&channel=phone")
    reading = page.context["series"].reading
    assert (reading.now.value, reading.before.value) == (1, 1)
    assert page.context["series"].comparison.first == date(2024, 3, 1)
    aov = owner_client.get(f"/analytics/kpi/average_order_value/?{MARCH}&channel=instagram")
    assert aov.context["series"].reading.now.value == Decimal("150.05")


def test_a_long_period_is_read_month_by_month_for_any_kpi() -> None:
    year = Period(date(2024, 4, 1), date(2025, 3, 31), KYIV)
    series = kpi_series(code="lifetime_value", period=year, compare="before")
    assert series.step == "month" and len(series.points) == 12
    assert series.points[-1].now.measure.value == Decimal("460.10")
    weeks = kpi_series(code="revenue", period=Period(date(2025, 1, 1), date(2025, 3, 31), KYIV),
                       compare="before")  # fmt: skip
    assert weeks.step == "week" and len(weeks.points) == 13


def test_the_csv_is_the_series_in_plain_numbers(owner_client: Client) -> None:
    response = owner_client.get(f"/analytics/kpi/revenue/csv/?{MARCH}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert rows[0] == [
        "First day", "Last day", "Revenue", "How many it counts", "Compared first day",
        "Compared last day", "Compared value",
    ]  # fmt: skip
    assert len(rows) == 32
    assert rows[2] == [
        "2025-03-02",
        "2025-03-02",
        "150.10",
        "2",
        "2025-01-30",
        "2025-01-30",
        "0.00",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("first=2025-03-31&last=2025-03-01", "last"),
        ("first=2020-01-01&last=2025-03-01", "last"),  # longer than 1,100 days
        (f"{MARCH}&channel=carrier-pigeon", "channel"),
        (f"{MARCH}&compare=forever", "compare"),
    ],
)
def test_bad_input_is_a_form_error_on_its_field(
    owner_client: Client, query: str, field: str
) -> None:
    page = owner_client.get(f"/analytics/kpi/revenue/?{query}")
    assert page.status_code == 422
    assert field in page.context["form"].errors
    assert "series" not in page.context
    download = owner_client.get(f"/analytics/kpi/revenue/csv/?{query}")
    assert download.status_code == 422


def test_a_kpi_without_channels_refuses_one_and_an_unknown_kpi_is_not_found(
    owner_client: Client,
) -> None:
    page = owner_client.get(f"/analytics/kpi/churn_rate/?{MARCH}&channel=phone")
    assert page.status_code == 422
    assert "not counted by channel" in page.content.decode()
    assert owner_client.get("/analytics/kpi/happiness/").status_code == 404


def test_the_api_twin_reads_the_series_and_names_a_refused_field(owner_client: Client) -> None:
    body = owner_client.get(
        f"/api/analytics/kpis/revenue/series?{MARCH}&compare=year&channel=instagram"
    ).json()
    assert body["step"] == "day" and len(body["steps"]) == 31
    assert Decimal(body["now"]["value"]) == Decimal("300.10")
    assert body["compared"]["first"] == "2024-03-01" and body["channel"] == "instagram"
    assert Decimal(body["steps"][1]["value"]) == Decimal("100.10")
    download = owner_client.get(f"/api/analytics/kpis/revenue/series.csv?{MARCH}")
    assert b"150.10" in _body(download)
    for query, field in (
        ("first=2025-03-31&last=2025-03-01", "last"),
        (f"{MARCH}&channel=carrier-pigeon", "channel"),
        (f"{MARCH}&compare=forever", "compare"),
        ("first=2020-01-01&last=2025-03-01", "last"),
    ):
        refused = owner_client.get(f"/api/analytics/kpis/revenue/series?{query}")
        assert refused.status_code == 422 and refused.json()["field"] == field, query


def test_the_morning_and_analytics_figures_link_to_their_kpi_page(owner_client: Client) -> None:
    assert 'href="/analytics/kpi/revenue/?first=' in owner_client.get("/").content.decode()
    overview = owner_client.get(f"/analytics/?days=custom&{MARCH}").content.decode()
    assert f'href="/analytics/kpi/orders/?{MARCH.replace("&", "&amp;")}"' in overview
