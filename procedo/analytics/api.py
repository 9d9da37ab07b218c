"""The KPI catalog over the API: what each KPI means, its value for a period, the cohorts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Path, Query, Router

from procedo.accounts.auth import requires_api
from procedo.analytics.kpis import KPIS, Kpi
from procedo.analytics.periods import Period, period_clean
from procedo.analytics.selectors import MAX_WINDOW_DAYS, cohort_retention, kpi_read
from procedo.business.selectors import business_get
from procedo.core.bounds import Day
from procedo.core.schemas import Schema

router = Router(tags=["analytics"])


class KpiOut(Schema):
    code: str
    label: str
    unit: str = Field(
        description="money (the business's currency), percent, minutes, hours or count"
    )
    higher_is_better: bool
    definition: str = Field(description="What is counted, in the caller's language.")
    default_window: int | None = Field(description="N of a KPI 'within N days'; null if none.")


def _kpi_out(kpi: Kpi) -> dict[str, Any]:
    return {
        "code": kpi.code,
        "label": str(kpi.label),
        "unit": kpi.unit,
        "higher_is_better": kpi.higher_is_better,
        "definition": str(kpi.definition),
        "default_window": kpi.default_window,
    }


class PeriodQuery(Schema):
    first: Day | None = Field(
        default=None,
        description="First day, in the business's time zone; default 29 days before `last`.",
    )
    last: Day | None = Field(default=None, description="Last day, included; default today.")


class ReadingQuery(PeriodQuery):
    window: int | None = Field(
        default=None, ge=1, le=MAX_WINDOW_DAYS, description="N days, for a KPI with a window."
    )


class MeasureOut(Schema):
    first: date
    last: date
    value: Decimal | None = Field(description="null when there is nothing to count from.")
    base: int = Field(description="How many orders, customers, tasks… it is computed from.")


class ReadingOut(Schema):
    kpi: KpiOut
    window: int | None
    currency: str
    now: MeasureOut
    before: MeasureOut = Field(description="The period of the same length just before.")
    change: Decimal | None = Field(description="Percent change against `before`.")
    enough: bool = Field(description="False when too few subjects for a rate to mean much.")


class CohortOut(Schema):
    month: date
    customers: int
    retained: list[Decimal] = Field(description="Percent of the cohort ordering in month 0, 1, 2…")


def _period(query: PeriodQuery) -> Period:
    business = business_get()
    last = query.last or timezone.localdate()
    first = query.first or last - timedelta(days=29)
    return period_clean(first=first, last=last, zone=business.zone)


@router.get("/kpis", response=list[KpiOut], auth=requires_api("analytics.view"))
def kpi_catalog(request: HttpRequest) -> list[dict[str, Any]]:
    """Every KPI Procedo measures, with how it is counted."""
    return [_kpi_out(kpi) for kpi in KPIS.values()]


@router.get("/kpis/{code}", response=ReadingOut, auth=requires_api("analytics.view"))
def kpi_reading(
    request: HttpRequest, code: Annotated[str, Path(max_length=40)], query: Query[ReadingQuery]
) -> dict[str, Any]:
    """A KPI over a period and the period of the same length before it."""
    reading = kpi_read(code=code, period=_period(query), window=query.window)
    before = reading.period.before()
    return {
        "kpi": _kpi_out(reading.kpi),
        "window": reading.window,
        "currency": business_get().currency,
        "now": {
            "first": reading.period.first,
            "last": reading.period.last,
            "value": reading.now.value,
            "base": reading.now.base,
        },
        "before": {
            "first": before.first,
            "last": before.last,
            "value": reading.before.value,
            "base": reading.before.base,
        },
        "change": reading.change,
        "enough": reading.enough,
    }


@router.get("/cohorts", response=list[CohortOut], auth=requires_api("analytics.view"))
def cohorts(request: HttpRequest, query: Query[PeriodQuery]) -> list[dict[str, Any]]:
    """Customers by the month of their first order in the period, and the share of each group
    ordering in each month after."""
    return [
        {"month": c.month, "customers": c.customers, "retained": c.retained}
        for c in cohort_retention(period=_period(query))
    ]
