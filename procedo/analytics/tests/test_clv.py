"""Predicted lifetime value: the numbers each customer is fitted on, the honest refusal of a
small shop, and a fit on real history checked against the library run straight on the CSV."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client

from procedo.accounts.models import User
from procedo.analytics.clv import MIN_REPEAT_CUSTOMERS, PENALIZER, Skip, customer_summaries
from procedo.analytics.kpis import KPIS
from procedo.analytics.models import CustomerValue
from procedo.analytics.periods import Period
from procedo.analytics.services import value_forecast_refresh
from procedo.analytics.tests.test_retail import LONDON, RETAIL, _invoices, _subset
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.imports.models import ImportJob
from procedo.orders.models import Order, OrderKind
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.tests.factories import customer_create, move, order_create
from procedo.testing import api_caller

KYIV = ZoneInfo("Europe/Kyiv")
pytestmark = pytest.mark.django_db


def _at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=KYIV)


def _sale(customer: Customer, price: str, when: datetime, status: str = "delivered") -> Order:
    return order_create(
        (sku_create(price=price, on_hand=10), 1), customer=customer, placed_at=when, status=status
    )


def test_a_small_shop_gets_its_numbers_and_an_honest_no(owner: User, owner_client: Client) -> None:
    order_pipeline_defaults_install()
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    anna, bohdan, vira = customer_create("Анна"), customer_create("Богдан"), customer_create("Віра")
    _sale(anna, "100.00", _at("2025-03-01"))
    _sale(anna, "40.00", _at("2025-03-11", 9))
    _sale(anna, "20.00", _at("2025-03-11", 18))  # the same day: one purchase day of 60
    # 23:30 on 20 March in Kyiv is 21:30 UTC: still the 20th, the business's day.
    _sale(anna, "30.00", _at("2025-03-20", 23).replace(minute=30))
    _sale(anna, "999.00", _at("2025-03-25"), status="returned")  # returned whole: not kept
    move(_sale(anna, "999.00", _at("2025-03-26"), status="new"), "cancelled")
    credit = _sale(anna, "15.00", _at("2025-03-27"))
    Order.objects.filter(pk=credit.pk).update(kind=OrderKind.RETURN)  # a return document
    _sale(bohdan, "0.00", _at("2025-03-02"))  # a free sample is no purchase
    _sale(bohdan, "70.00", _at("2025-03-05"))
    _sale(vira, "55.00", _at("2025-04-02"))  # after the history's end

    summaries = customer_summaries(as_of=date(2025, 3, 31), zone=KYIV)
    assert summaries.customer_ids == [anna.pk, bohdan.pk]
    assert summaries.frequency == [2, 0]
    assert summaries.recency == [19, 0]
    assert summaries.age == [30, 26]
    assert summaries.monetary == [45.0, 0.0]  # (60 + 30) / 2: the first day left out

    forecast = value_forecast_refresh(as_of=date(2025, 3, 31))
    assert (forecast.outcome, forecast.reason) == ("skipped", Skip.TOO_FEW_REPEAT)
    assert (forecast.customers, forecast.repeat_customers) == (2, 1)
    assert forecast.predicted_cents is None and not CustomerValue.objects.exists()
    event = Event.objects.get(event_type="value_forecast.skipped")
    assert event.payload["reason"] == Skip.TOO_FEW_REPEAT
    assert event.payload["repeat_customers"] == 1 < MIN_REPEAT_CUSTOMERS

    march = Period(first=date(2025, 3, 1), last=date(2025, 3, 31), zone=KYIV)
    measure = KPIS["predicted_lifetime_value"].measure(march, None)
    assert (measure.value, measure.base) == (None, 0)

    page = owner_client.get(f"/customers/{anna.pk}/", HTTP_ACCEPT_LANGUAGE="uk")
    assert "менше ніж 50 покупців" in page.content.decode()
    call = api_caller(owner)
    body = call("get", "/analytics/value-forecast").json()
    assert (body["outcome"], body["reason"], body["average"]) == (
        "skipped",
        Skip.TOO_FEW_REPEAT,
        None,
    )
    body = call("get", f"/analytics/customers/{anna.pk}/predicted-value").json()
    assert (body["expected_spend"], body["reason"]) == (None, Skip.TOO_FEW_REPEAT)
    assert call("get", "/analytics/customers/999999/predicted-value").status_code == 404


def _library_run(rows: list[dict[str, str]], rejected: set[int]) -> tuple[dict, dict]:
    """The library from end to end on the file's invoices: its own summary, fits, predictions."""
    import numpy as np
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    invoices = _invoices(rows, rejected)
    sales = [i for n, i in invoices.items() if not n.startswith("C") and i.amount > 0]
    frame = pd.DataFrame(
        {
            "customer": [f"retail:{i.customer}" for i in sales],
            "day": [i.when.astimezone(LONDON).replace(tzinfo=None) for i in sales],
            "amount": [float(i.amount) for i in sales],
        }
    )
    data = summary_data_from_transaction_data(
        frame, "customer", "day", "amount", observation_period_end="2011-12-09"
    )
    back = data[data["frequency"] > 0]
    with np.errstate(all="ignore"):  # the optimiser's probes overflow; clv.py says the same
        bgf = BetaGeoFitter(penalizer_coef=PENALIZER).fit(
            data["frequency"], data["recency"], data["T"]
        )
        ggf = GammaGammaFitter(penalizer_coef=PENALIZER).fit(
            back["frequency"], back["monetary_value"]
        )
    orders = bgf.conditional_expected_number_of_purchases_up_to_time(
        365, data["frequency"], data["recency"], data["T"]
    )
    spend = ggf.conditional_expected_average_profit(data["frequency"], data["monetary_value"])
    params = {**bgf.params_.to_dict(), **ggf.params_.to_dict()}
    return params, (orders * spend).to_dict()


@pytest.mark.slow
@pytest.mark.skipif(not RETAIL.exists(), reason="../shared/data/retail is not beside the project")
def test_the_fit_on_the_retail_file_is_the_library_s_own(tmp_path: Path) -> None:
    """A tenth of the file's customers (fewer give BG/NBD too little to converge on), imported
    as any shop's history would be."""
    business_update(name="Gift shop", time_zone="Europe/London", currency="GBP", actor_id=None)
    path = tmp_path / "retail-tenth.csv"
    rows = _subset(path)
    call_command(
        "import", "orders", str(path), "--source", "retail", "--currency", "GBP",
        "--timezone", "Europe/London",
    )  # fmt: skip
    with open(ImportJob.objects.get().report_path, newline="", encoding="utf-8") as report:
        rejected = {int(row["line"]) for row in csv.DictReader(report)}

    forecast = value_forecast_refresh(as_of=date(2011, 12, 9))
    params, expected = _library_run(rows, rejected)
    assert forecast.outcome == "fitted", forecast.reason
    assert forecast.repeat_customers >= MIN_REPEAT_CUSTOMERS
    assert forecast.params == pytest.approx(params, rel=1e-6)
    refs = dict(Customer.objects.values_list("pk", "external_ref"))
    kept = {refs[v.customer_id]: v.expected_cents for v in CustomerValue.objects.all()}
    assert len(kept) == forecast.customers == len(expected) > 400
    assert kept == {ref: pytest.approx(value * 100, abs=1) for ref, value in expected.items()}
    assert Event.objects.filter(event_type="value_forecast.fitted").count() == 1

    year = Period(first=date(2011, 1, 1), last=date(2011, 12, 31), zone=LONDON)
    measure = KPIS["predicted_lifetime_value"].measure(year, None)
    assert measure.base == forecast.customers
    average = sum(expected.values()) / len(expected)
    assert float(measure.value or 0) == pytest.approx(average, abs=0.01)
