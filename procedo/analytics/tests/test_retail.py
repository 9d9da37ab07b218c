"""The catalog on real history: a tenth of the retail file's customers, imported as any shop's
file would be, and every figure computed again straight from the CSV in plain Python."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from procedo.analytics.kpis import KPIS
from procedo.analytics.models import SalesDay
from procedo.analytics.periods import Period
from procedo.analytics.rollups import CONSUMER, sales_days, sales_days_consume
from procedo.analytics.selectors import (
    ROLLED_UP,
    cohort_retention,
    kpi_read,
    revenue_by_country,
    sales_readings,
)
from procedo.business.services import business_update
from procedo.core.countries import country_code
from procedo.imports.models import ImportJob
from procedo.testing import consumer_catch_up

RETAIL = next(
    (
        found
        for parent in Path(__file__).resolve().parents
        if (found := parent / "shared" / "data" / "retail" / "online_retail.csv.gz").exists()
    ),
    Path("shared/data/retail/online_retail.csv.gz"),
)
LONDON = ZoneInfo("Europe/London")
CENT = Decimal("0.01")
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not RETAIL.exists(), reason="../shared/data/retail is not beside the project"
    ),
]


def _subset(path: Path) -> list[dict[str, str]]:
    """The rows of customers whose number ends in 7: every month, a tenth of the file."""
    with gzip.open(RETAIL, "rt", encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        rows = [row for row in reader if row["CustomerID"].endswith("7")]
        fields = reader.fieldnames or []
    with open(path, "w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return rows


@dataclass
class Invoice:
    when: datetime
    customer: str
    amount: Decimal
    country: str = ""


def _invoices(rows: list[dict[str, str]], rejected: set[int]) -> dict[str, Invoice]:
    invoices: dict[str, Invoice] = {}
    for line, row in enumerate(rows, start=2):
        if line in rejected:
            continue
        amount = (Decimal(row["Quantity"]) * Decimal(row["UnitPrice"])).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        when = datetime.strptime(row["InvoiceDate"][:16], "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)
        invoice = invoices.setdefault(
            row["InvoiceNo"],
            Invoice(
                when=when,
                customer=row["CustomerID"],
                amount=Decimal(0),
                country=country_code(row["Country"]),
            ),
        )
        invoice.when = min(invoice.when, when)
        invoice.amount += amount
    return invoices


def _month_of(when: datetime) -> date:
    return when.astimezone(LONDON).date().replace(day=1)


def test_revenue_aov_repeat_rate_and_cohorts_match_the_csv(tmp_path: Path) -> None:
    business_update(name="Gift shop", time_zone="Europe/London", currency="GBP", actor_id=None)
    path = tmp_path / "retail-tenth.csv"
    rows = _subset(path)
    call_command(
        "import", "orders", str(path), "--source", "retail", "--currency", "GBP",
        "--timezone", "Europe/London",
    )  # fmt: skip
    job = ImportJob.objects.get()
    with open(job.report_path, newline="", encoding="utf-8") as report:
        rejected = {int(row["line"]) for row in csv.DictReader(report)}
    invoices = _invoices(rows, rejected)
    sales = [i for number, i in invoices.items() if not number.startswith("C") and i.amount > 0]
    returns = [i for number, i in invoices.items() if number.startswith("C")]
    assert len(sales) > 1_500 and len(returns) > 200

    # Revenue month by month: sales minus credit notes, to the penny.
    expected: dict[date, Decimal] = defaultdict(Decimal)
    for invoice in sales:
        expected[_month_of(invoice.when)] += invoice.amount
    for invoice in returns:  # a credit note's quantities are negative in the file
        expected[_month_of(invoice.when)] += invoice.amount
    for month, amount in sorted(expected.items()):
        last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        period = Period(first=month, last=last, zone=LONDON)
        assert kpi_read(code="revenue", period=period).now.value == amount, month

    year = Period(first=date(2010, 12, 1), last=date(2011, 12, 31), zone=LONDON)
    # The daily rollup, built by its consumer from the import's events: each day's revenue
    # equals the file's, and a year of it the catalog's figures straight from the orders.
    consumer_catch_up(name=CONSUMER, handler=sales_days_consume)
    by_day: dict[date, Decimal] = defaultdict(Decimal)
    for invoice in sales + returns:
        by_day[invoice.when.astimezone(LONDON).date()] += invoice.amount
    kept = {row.day: row.revenue_cents for row in SalesDay.objects.all()}
    assert kept == {day: int(amount * 100) for day, amount in by_day.items()}
    assert {
        day: sales.revenue for day, sales in sales_days(first=year.first, last=year.last).items()
    } == dict(by_day)
    rolled = sales_readings(period=year)
    for code in ROLLED_UP:
        assert rolled[code].now == KPIS[code].measure(year, None), code
    # By country: where each invoice ships (the file's Country), credit notes subtracted.
    by_country: dict[str, Decimal] = defaultdict(Decimal)
    orders_in: dict[str, int] = defaultdict(int)
    for invoice in sales + returns:
        by_country[invoice.country] += invoice.amount
    for invoice in sales:
        orders_in[invoice.country] += 1
    countries = revenue_by_country(period=year)
    assert {row.country: row.revenue for row in countries} == dict(by_country)
    assert {row.country: row.orders for row in countries} == {c: orders_in[c] for c in by_country}
    assert countries[0].country == "GB" and countries[0].name == "United Kingdom"
    assert len(countries) > 10

    total = sum((i.amount for i in sales), Decimal(0))
    aov = kpi_read(code="average_order_value", period=year)
    assert aov.now.base == len(sales)
    assert aov.now.value == (total / len(sales)).quantize(CENT)

    # Repeat purchase within 90 days of the first order, for those who started in 2011.
    by_customer: dict[str, list[datetime]] = defaultdict(list)
    for number, invoice in invoices.items():
        if not number.startswith("C"):
            by_customer[invoice.customer].append(invoice.when)
    paid: dict[str, list[datetime]] = defaultdict(list)
    for invoice in sales:
        paid[invoice.customer].append(invoice.when)
    first = {customer: min(moments) for customer, moments in by_customer.items()}
    started_2011 = [c for c, moment in first.items() if moment.astimezone(LONDON).year == 2011]
    again = [
        c
        for c in started_2011
        if any(first[c] < m <= first[c] + timedelta(days=90) for m in paid[c])
    ]
    y2011 = Period(first=date(2011, 1, 1), last=date(2011, 12, 31), zone=LONDON)
    repeat = kpi_read(code="repeat_purchase_rate", period=y2011, window=90)
    assert repeat.now.base == len(started_2011)
    assert repeat.now.value == (Decimal(len(again)) * 100 / len(started_2011)).quantize(CENT)

    # Monthly cohorts: who ordered in each month after their first.
    active: dict[date, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for customer, moments in paid.items():
        cohort = _month_of(first[customer])
        for moment in moments:
            month = _month_of(moment)
            offset = (month.year - cohort.year) * 12 + month.month - cohort.month
            active[cohort][offset].add(customer)
    cohorts = cohort_retention(period=year)
    assert [c.month for c in cohorts] == sorted(active)
    for found in cohorts:
        size = len(active[found.month][0])
        assert found.customers == size
        assert found.retained == [
            (Decimal(len(active[found.month].get(k, set()))) * 100 / size).quantize(Decimal("0.1"))
            for k in range(len(found.retained))
        ]
        assert len(found.retained) == max(active[found.month]) + 1
