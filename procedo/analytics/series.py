"""A KPI over time for its own page: the period in steps against a comparison period.

Revenue, orders and average order value come from the daily rollup and can be read
through one channel; every other KPI is measured step by step from its definition, so
the number of steps is bounded (at most 62 days, 27 weeks or 37 months).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.analytics.formatting import kpi_axis_label, kpi_value
from procedo.analytics.kpis import Kpi, Measure
from procedo.analytics.periods import Period
from procedo.analytics.rollups import DaySales, sales_channels, sales_days
from procedo.analytics.selectors import (
    ROLLED_UP,
    KpiReading,
    kpi_get,
    sales_measures,
    window_clean,
)
from procedo.core.charts import BarChart, bar_chart
from procedo.core.errors import DomainError
from procedo.core.exports import Column
from procedo.orders.models import OrderChannel

# About three years: a KPI page shows at most 37 monthly steps, each measured on its own.
MAX_SERIES_DAYS = 1100
COMPARISONS = {
    "before": gettext_lazy("The period just before"),
    "year": gettext_lazy("The same days a year earlier"),
}


@dataclass(frozen=True)
class Step:
    period: Period
    measure: Measure


@dataclass(frozen=True)
class Point:
    now: Step
    then: Step  # the same step of the comparison period


@dataclass(frozen=True)
class KpiSeries:
    reading: KpiReading  # the whole period against the whole comparison period
    comparison: Period
    compare: str
    channel: str
    step: str  # day, week or month
    points: list[Point]

    @property
    def kpi(self) -> Kpi:
        return self.reading.kpi


def channel_choices() -> list[tuple[str, str]]:
    """The channels an order form offers and any other an order came through."""
    offered = {code: str(label) for code, label in OrderChannel.choices}
    for channel in sales_channels():
        offered.setdefault(channel, channel)
    return list(offered.items())


def channel_clean(kpi: Kpi, channel: str) -> str | None:
    if not channel:
        return None
    if kpi.code not in ROLLED_UP:
        raise DomainError(
            field="channel",
            message=_("This KPI is not counted by channel."),
        )
    if channel not in dict(channel_choices()):
        raise DomainError(field="channel", message=_("There is no such channel."))
    return channel


def compare_clean(compare: str) -> str:
    if compare not in COMPARISONS:
        raise DomainError(
            field="compare",
            message=_("Compare with %(choices)s.") % {"choices": " or ".join(COMPARISONS)},
        )
    return compare


def _steps(period: Period) -> tuple[str, list[Period]]:
    if period.days <= 62:
        step, size = "day", 1
    elif period.days <= 190:
        step, size = "week", 7
    else:
        months = []
        first = period.first
        while first <= period.last:
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            last = min(following - timedelta(days=1), period.last)
            months.append(Period(first=first, last=last, zone=period.zone))
            first = following
        return "month", months
    steps = []
    first = period.first
    while first <= period.last:
        last = min(first + timedelta(days=size - 1), period.last)
        steps.append(Period(first=first, last=last, zone=period.zone))
        first = last + timedelta(days=1)
    return step, steps


def _matching(step: Period, period: Period, comparison: Period, compare: str) -> Period:
    """The comparison's step that matches `step` of the period."""
    if compare == "year":
        return step.year_earlier()
    return step.shifted((comparison.first - period.first).days)


def _summed(days: dict[date, DaySales], period: Period) -> DaySales:
    return sum(
        (sales for day, sales in days.items() if period.first <= day <= period.last), DaySales()
    )


def kpi_series(
    *, code: str, period: Period, compare: str, channel: str = "", window: int | None = None
) -> KpiSeries:
    kpi = kpi_get(code)
    compare = compare_clean(compare)
    chosen = channel_clean(kpi, channel)
    window = window_clean(kpi, window)
    comparison = period.before() if compare == "before" else period.year_earlier()
    step, steps = _steps(period)
    pairs = [(one, _matching(one, period, comparison, compare)) for one in steps]
    if kpi.code in ROLLED_UP:
        days = sales_days(first=period.first, last=period.last, channel=chosen)
        days |= sales_days(first=comparison.first, last=comparison.last, channel=chosen)

        def measure(span: Period) -> Measure:
            return sales_measures(_summed(days, span))[kpi.code]
    else:

        def measure(span: Period) -> Measure:
            return kpi.measure(span, window)

    return KpiSeries(
        reading=KpiReading(
            kpi=kpi,
            period=period,
            window=window,
            now=measure(period),
            before=measure(comparison),
        ),
        comparison=comparison,
        compare=compare,
        channel=chosen or "",
        step=step,
        points=[
            Point(now=Step(now, measure(now)), then=Step(then, measure(then)))
            for now, then in pairs
        ],
    )


def _step_label(step: str, span: Period) -> str:
    if step == "month":
        return date_format(span.first, "M Y")
    return date_format(span.first, "j.m")


def _step_title(step: str, span: Period) -> str:
    if step == "day":
        return date_format(span.first, "D j E Y")
    if step == "month":
        return date_format(span.first, "F Y")
    return f"{date_format(span.first, 'j E')} – {date_format(span.last, 'j E Y')}"


def series_chart(series: KpiSeries, *, currency: str) -> BarChart:
    """Bars for the period's steps, a line for the comparison's; every value in the KPI's
    unit, each bar titled with both."""
    unit = series.kpi.unit

    def written(value: Decimal | None) -> str:
        return kpi_value(value, unit, currency)

    points = series.points
    return bar_chart(
        [
            (
                _step_label(series.step, point.now.period),
                point.now.measure.value or 0,
                _("%(when)s: %(value)s (compared with %(then_when)s: %(then)s)")
                % {
                    "when": _step_title(series.step, point.now.period),
                    "value": written(point.now.measure.value),
                    "then_when": _step_title(series.step, point.then.period),
                    "then": written(point.then.measure.value),
                },
            )
            for point in points
        ],
        value_label=kpi_axis_label(unit, currency),
        # Five labels at most: on a phone the drawing shrinks and its labels grow.
        every=max(1, -(-len(points) // 5)),
        compare=[point.then.measure.value for point in points],
    )


def series_csv_columns(series: KpiSeries) -> list[Column]:
    """One row a step: its days, the value (a plain number in the KPI's unit), how many it
    was counted from, and the comparison's step."""
    return [
        Column(_("First day"), lambda point: point.now.period.first),
        Column(_("Last day"), lambda point: point.now.period.last),
        Column(series.kpi.label, lambda point: point.now.measure.value),
        Column(_("How many it counts"), lambda point: point.now.measure.base),
        Column(_("Compared first day"), lambda point: point.then.period.first),
        Column(_("Compared last day"), lambda point: point.then.period.last),
        Column(_("Compared value"), lambda point: point.then.measure.value),
    ]
