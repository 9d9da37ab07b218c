"""The KPI catalog over the API: what each KPI means, its value for a period, the cohorts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.analytics import services
from procedo.analytics.kpis import KPIS, Kpi
from procedo.analytics.models import Goal
from procedo.analytics.periods import Period, period_clean
from procedo.analytics.selectors import (
    MAX_WINDOW_DAYS,
    CountryFigure,
    cohort_retention,
    customer_value_of,
    goal_get,
    goal_progress,
    goals_list,
    kpi_read,
    revenue_by_country,
    value_forecast_latest,
)
from procedo.analytics.series import (
    MAX_SERIES_DAYS,
    KpiSeries,
    kpi_series,
    series_csv_columns,
)
from procedo.business.selectors import business_get
from procedo.core.bounds import MAX_AMOUNT, Day, PathId, ShortText
from procedo.core.errors import NotFound
from procedo.core.exports import export_response
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import Schema
from procedo.customers.selectors import customer_get

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
def kpi_catalog(request: ApiRequest) -> list[dict[str, Any]]:
    """Every KPI Procedo measures, with how it is counted."""
    return [_kpi_out(kpi) for kpi in KPIS.values()]


@router.get("/kpis/{code}", response=ReadingOut, auth=requires_api("analytics.view"))
def kpi_reading(
    request: ApiRequest, code: Annotated[str, Path(max_length=40)], query: Query[ReadingQuery]
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


class SeriesQuery(ReadingQuery):
    compare: Literal["before", "year"] = Field(
        default="before",
        description="before: the period of the same length just before; year: the same "
        "days a year earlier.",
    )
    channel: str = Field(
        default="",
        max_length=40,
        description="Only orders through this channel (revenue, orders and average order "
        "value only); empty: all.",
    )


class SeriesStepOut(Schema):
    first: date
    last: date
    value: Decimal | None
    base: int
    compared_first: date
    compared_last: date
    compared_value: Decimal | None


class SeriesOut(Schema):
    kpi: KpiOut
    window: int | None
    currency: str
    channel: str
    compare: str
    now: MeasureOut
    compared: MeasureOut
    change: Decimal | None = Field(description="Percent change against `compared`.")
    enough: bool
    step: Literal["day", "week", "month"] = Field(
        description="day up to 62 days, week up to 190, month beyond."
    )
    steps: list[SeriesStepOut]


def _series(query: SeriesQuery, code: str) -> KpiSeries:
    last = query.last or timezone.localdate()
    first = query.first or last - timedelta(days=29)
    period = period_clean(
        first=first, last=last, zone=business_get().zone, max_days=MAX_SERIES_DAYS
    )
    return kpi_series(
        code=code,
        period=period,
        compare=query.compare,
        channel=query.channel,
        window=query.window,
    )


@router.get("/kpis/{code}/series", response=SeriesOut, auth=requires_api("analytics.view"))
def kpi_series_read(
    request: ApiRequest, code: Annotated[str, Path(max_length=40)], query: Query[SeriesQuery]
) -> dict[str, Any]:
    """A KPI step by step over a period (at most 1,100 days) against a comparison period,
    through one channel where the KPI has channels."""
    series = _series(query, code)
    reading = series.reading
    return {
        "kpi": _kpi_out(reading.kpi),
        "window": reading.window,
        "currency": business_get().currency,
        "channel": series.channel,
        "compare": series.compare,
        "now": {
            "first": reading.period.first,
            "last": reading.period.last,
            "value": reading.now.value,
            "base": reading.now.base,
        },
        "compared": {
            "first": series.comparison.first,
            "last": series.comparison.last,
            "value": reading.before.value,
            "base": reading.before.base,
        },
        "change": reading.change,
        "enough": reading.enough,
        "step": series.step,
        "steps": [
            {
                "first": point.now.period.first,
                "last": point.now.period.last,
                "value": point.now.measure.value,
                "base": point.now.measure.base,
                "compared_first": point.then.period.first,
                "compared_last": point.then.period.last,
                "compared_value": point.then.measure.value,
            }
            for point in series.points
        ],
    }


CSV_RESPONSE: dict[str, Any] = {
    "responses": {
        200: {
            "description": "The steps, streamed: CSV in UTF-8 with a BOM, one row a step.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


@router.get(
    "/kpis/{code}/series.csv", auth=requires_api("analytics.view"), openapi_extra=CSV_RESPONSE
)
def kpi_series_csv(
    request: ApiRequest, code: Annotated[str, Path(max_length=40)], query: Query[SeriesQuery]
) -> StreamingHttpResponse:
    """The same steps as a streamed CSV file, one row a step."""
    series = _series(query, code)
    return export_response(
        request=request,
        name=f"kpi-{code}",
        fmt="csv",
        columns=series_csv_columns(series),
        rows=series.points,
        finished=lambda _rows, _complete: None,
    )


@router.get("/cohorts", response=list[CohortOut], auth=requires_api("analytics.view"))
def cohorts(request: ApiRequest, query: Query[PeriodQuery]) -> list[dict[str, Any]]:
    """Customers by the month of their first order in the period, and the share of each group
    ordering in each month after."""
    return [
        {"month": c.month, "customers": c.customers, "retained": c.retained}
        for c in cohort_retention(period=_period(query))
    ]


class CountryOut(Schema):
    country: str = Field(description="ISO 3166-1 alpha-2; empty when not known.")
    name: str
    revenue: Decimal
    orders: int


@router.get("/countries", response=list[CountryOut], auth=requires_api("analytics.view"))
def countries(request: ApiRequest, query: Query[PeriodQuery]) -> list[CountryFigure]:
    """Revenue and orders of the period by the country orders ship to (the customer's when
    the order does not say), largest first; names in Accept-Language's language."""
    return revenue_by_country(period=_period(query))


class GoalIn(Schema):
    name: ShortText
    kpi: Annotated[str, Field(max_length=40, description="A code of `GET /api/analytics/kpis`.")]
    target: Annotated[
        Decimal,
        Field(
            ge=-MAX_AMOUNT,
            le=MAX_AMOUNT,
            decimal_places=2,
            description="In the KPI's unit: percent 0-100, minutes, the business's currency.",
        ),
    ]
    deadline: Day
    kpi_window_days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS)
    focus_reason: Annotated[
        str, Field(max_length=300, description="Needed with three goals active already.")
    ] = ""


class GoalPatch(Schema):
    name: ShortText | None = None
    target: Annotated[Decimal, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, decimal_places=2)] | None = None
    deadline: Day | None = None
    kpi_window_days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS)
    state: Literal["active", "achieved", "dropped"] | None = None
    focus_reason: Annotated[str, Field(max_length=300)] | None = None


class MonthOut(Schema):
    month: date
    value: Decimal | None


class GoalOut(Schema):
    id: int
    name: str
    kpi: str
    kpi_window_days: int | None
    target: Decimal
    deadline: date
    state: str
    focus_reason: str
    current: Decimal | None = Field(description="The KPI over the last 30 days.")
    reached: bool | None
    days_left: int
    months: list[MonthOut] = Field(description="The KPI each of the last six months.")


def _goal_out(goal: Goal) -> dict[str, Any]:
    progress = goal_progress(goal, today=timezone.localdate(), zone=business_get().zone)
    return {
        "id": goal.pk,
        "name": goal.name,
        "kpi": goal.kpi,
        "kpi_window_days": goal.kpi_window_days,
        "target": goal.target,
        "deadline": goal.deadline,
        "state": goal.state,
        "focus_reason": goal.focus_reason,
        "current": progress.now.value,
        "reached": progress.reached,
        "days_left": progress.days_left,
        "months": [{"month": m.month, "value": m.value} for m in progress.months],
    }


class GoalQuery(Schema):
    state: Literal["active", "achieved", "dropped", ""] = "active"


@router.get("/goals", response=list[GoalOut], auth=requires_api("analytics.view"))
def goals(request: ApiRequest, query: Query[GoalQuery]) -> list[dict[str, Any]]:
    """Goals (the active ones unless asked otherwise) with their KPI against the target."""
    return [_goal_out(goal) for goal in goals_list(state=query.state)]


@router.post("/goals", response={201: GoalOut}, auth=requires_api("goals.manage"))
def goal_create(
    request: ApiRequest, payload: GoalIn, idempotency_key: str | None = idempotency_header()
) -> Status[dict[str, Any]]:
    """Set a goal. A fourth active goal needs `focus_reason` (422 naming it)."""
    goal = services.goal_create(
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _goal_out(goal))


@router.get("/goals/{int:goal_id}", response=GoalOut, auth=requires_api("analytics.view"))
def goal_detail(request: ApiRequest, goal_id: PathId) -> dict[str, Any]:
    return _goal_out(goal_get(goal_id))


@router.patch("/goals/{int:goal_id}", response=GoalOut, auth=requires_api("goals.manage"))
def goal_update(request: ApiRequest, goal_id: PathId, payload: GoalPatch) -> dict[str, Any]:
    """Change the aim, target, deadline or window, or close the goal (achieved, dropped)."""
    changes = payload.dict(exclude_unset=True)
    goal = services.goal_update(goal_id=goal_id, actor=request.auth, **changes)
    return _goal_out(goal)


class ForecastOut(Schema):
    as_of: date = Field(description="The last day of history the models saw.")
    computed_at: datetime
    outcome: Literal["fitted", "skipped"]
    reason: str = Field(
        description="Why skipped: too_few_repeat_customers (fewer than 50 bought on a second "
        "day), did_not_converge, unbounded_spend; empty when fitted."
    )
    customers: int
    repeat_customers: int
    params: dict[str, float] = Field(description="BG/NBD r, alpha, a, b; Gamma-Gamma p, q, v.")
    average: Decimal | None = Field(description="Predicted 12-month spend per customer.")
    currency: str


@router.get("/value-forecast", response=ForecastOut, auth=requires_api("analytics.view"))
def value_forecast(request: ApiRequest) -> dict[str, Any]:
    """The last refresh of the predicted lifetime value, fitted or the reason it was not."""
    forecast = value_forecast_latest()
    if forecast is None:
        raise NotFound(field="forecast", message=_("No lifetime-value forecast has been made yet."))
    average = None
    if forecast.predicted_cents is not None and forecast.customers:
        average = (Decimal(forecast.predicted_cents) / 100 / forecast.customers).quantize(
            Decimal("0.01")
        )
    return {
        "as_of": forecast.as_of,
        "computed_at": forecast.computed_at,
        "outcome": forecast.outcome,
        "reason": forecast.reason,
        "customers": forecast.customers,
        "repeat_customers": forecast.repeat_customers,
        "params": forecast.params,
        "average": average,
        "currency": forecast.currency,
    }


class CustomerValueOut(Schema):
    customer_id: int
    expected_spend: Decimal | None = Field(
        description="Predicted spend over the next 12 months; null when there is no prediction."
    )
    expected_orders: float | None = Field(description="Purchase days expected in 365 days.")
    probability_alive: float | None
    currency: str | None
    as_of: date | None
    reason: str = Field(
        description="Why null: the last refresh's reason, or not_predicted (no order when the "
        "models were last fitted)."
    )


@router.get(
    "/customers/{int:customer_id}/predicted-value",
    response=CustomerValueOut,
    auth=requires_api("analytics.view"),
)
def customer_predicted_value(request: ApiRequest, customer_id: PathId) -> dict[str, Any]:
    """A customer's predicted spend over the next 12 months, from the last fitted forecast."""
    customer_get(customer_id=customer_id)
    value = customer_value_of(customer_id)
    if value is None:
        latest = value_forecast_latest()
        return {
            "customer_id": customer_id,
            "expected_spend": None,
            "expected_orders": None,
            "probability_alive": None,
            "currency": None,
            "as_of": latest.as_of if latest else None,
            "reason": (latest.reason if latest else "") or "not_predicted",
        }
    return {
        "customer_id": customer_id,
        "expected_spend": Decimal(value.expected_cents) / 100,
        "expected_orders": value.expected_orders,
        "probability_alive": value.probability_alive,
        "currency": value.forecast.currency,
        "as_of": value.forecast.as_of,
        "reason": "",
    }
