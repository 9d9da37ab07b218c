"""Reading the KPI catalog: a KPI over a period against the period before, and cohorts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, IntegerField, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from procedo.analytics.formatting import kpi_value
from procedo.analytics.kpis import KPIS, SIGNED_CENTS, Kpi, Measure, sale_orders, valued_orders
from procedo.analytics.models import CustomerValue, Goal, ValueForecast
from procedo.analytics.periods import Period
from procedo.analytics.rollups import DaySales, sales_days
from procedo.core.bounds import number_check
from procedo.core.charts import BarChart, bar_chart
from procedo.core.countries import country_name
from procedo.core.errors import NotFound
from procedo.customers.models import Customer
from procedo.orders.models import Order, OrderKind, OrderStatus

# Fewer subjects than this and a rate or an average says more about chance than about
# the store: pages show "not enough data yet" instead of the number.
ENOUGH = 20
MAX_WINDOW_DAYS = 3650


def kpi_get(code: str) -> Kpi:
    kpi = KPIS.get(code)
    if kpi is None:
        raise NotFound(field="kpi", message=_("There is no such KPI."))
    return kpi


def window_clean(kpi: Kpi, window: int | None) -> int | None:
    if not kpi.has_window:
        return None
    number_check(window, field="window", low=1, high=MAX_WINDOW_DAYS)
    return window or kpi.default_window


@dataclass(frozen=True)
class KpiReading:
    kpi: Kpi
    period: Period
    window: int | None
    now: Measure
    before: Measure

    @property
    def enough(self) -> bool:
        return self.now.value is not None and (self.kpi.code in _SUMS or self.now.base >= ENOUGH)

    @property
    def change(self) -> Decimal | None:
        """The change against the period before, in percent of the earlier value."""
        if self.now.value is None or not self.before.value:
            return None
        return ((self.now.value - self.before.value) * 100 / abs(self.before.value)).quantize(
            Decimal("0.1")
        )

    @property
    def better(self) -> bool | None:
        change = self.change
        if change is None or change == 0:
            return None
        return (change > 0) == self.kpi.higher_is_better


# Totals are facts at any size; rates and averages need a base to mean something.
_SUMS = frozenset({"revenue", "orders"})
# The KPIs the daily rollup holds: read from it, and the ones a channel filter applies to.
ROLLED_UP = ("revenue", "orders", "average_order_value")


def kpi_read(*, code: str, period: Period, window: int | None = None) -> KpiReading:
    kpi = kpi_get(code)
    window = window_clean(kpi, window)
    return KpiReading(
        kpi=kpi,
        period=period,
        window=window,
        now=kpi.measure(period, window),
        before=kpi.measure(period.before(), window),
    )


def kpis_read(*, period: Period, codes: list[str] | None = None) -> list[KpiReading]:
    return [kpi_read(code=code, period=period) for code in codes or list(KPIS)]


@dataclass(frozen=True)
class Cohort:
    month: date
    customers: int
    # Share of the cohort (percent) that ordered in its month, the month after, …
    retained: list[Decimal]


def _month_starts(first: date, last: date, zone: ZoneInfo) -> list[datetime]:
    """The first moment of each month from `first`'s to `last`'s, and of the month after."""
    starts, month = [], first.replace(day=1)
    while True:
        starts.append(datetime.combine(month, time.min, tzinfo=zone))
        if month > last:
            return starts
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_number(field: str, starts: list[datetime]) -> Case:
    """Which of the months a moment falls in (0, 1, …; NULL outside them), compared as
    stored: SQLite has no time zones, and turning every row's moment into the business's
    local time there is a Python call per row (make bench, B4: 6.5× DuckDB before)."""
    return Case(
        When(**{f"{field}__lt": starts[0]}, then=Value(None)),
        *(When(**{f"{field}__lt": end}, then=Value(n)) for n, end in enumerate(starts[1:])),
        default=Value(None),
        output_field=IntegerField(),
    )


def cohort_retention(*, period: Period) -> list[Cohort]:
    """Customers grouped by the month of their first order (in the period), and the share of
    each group that ordered in each month from then: three grouped queries."""
    latest = sale_orders().aggregate(latest=Max("placed_at"))["latest"]
    until = max(period.last, latest.astimezone(period.zone).date() if latest else period.last)
    starts = _month_starts(period.first, until, period.zone)
    in_period = {"first_order_at__gte": period.start, "first_order_at__lt": period.end}
    rows = (
        sale_orders()
        .filter(**{f"customer__{name}": moment for name, moment in in_period.items()})
        .annotate(
            cohort=_month_number("customer__first_order_at", starts),
            month=_month_number("placed_at", starts),
        )
        .values_list("cohort", "month")
        .annotate(customers=Count("customer_id", distinct=True))
        .order_by()
    )
    sizes = {
        starts[row[0]].date(): row[1]
        for row in Customer.objects.filter(**in_period)
        .annotate(cohort=_month_number("first_order_at", starts))
        .values_list("cohort")
        .annotate(customers=Count("id"))
        .order_by()
    }
    active: dict[date, dict[int, int]] = {month: {} for month in sizes}
    for cohort_number, month_number, customers in rows:
        if month_number is not None and month_number >= cohort_number:
            active[starts[cohort_number].date()][month_number - cohort_number] = customers
    cohorts = []
    for month, by_offset in sorted(active.items()):
        size = sizes.get(month, 0)
        if not size:
            continue
        cohorts.append(
            Cohort(
                month=month,
                customers=size,
                retained=[
                    (Decimal(by_offset.get(k, 0)) * 100 / size).quantize(Decimal("0.1"))
                    for k in range(max(by_offset, default=0) + 1)
                ],
            )
        )
    return cohorts


def sales_measures(total: DaySales) -> dict[str, Measure]:
    """Revenue, orders and average order value from a span's summed days: the catalog's
    definitions (kpis.py), divided only now, so they equal what it computes from orders."""
    aov = None
    if total.orders:
        aov = (Decimal(total.sales_cents).scaleb(-2) / total.orders).quantize(Decimal("0.01"))
    return {
        "revenue": Measure(value=total.revenue, base=total.documents),
        "orders": Measure(value=Decimal(total.orders), base=total.orders),
        "average_order_value": Measure(value=aov, base=total.orders),
    }


def _summed(days: dict[date, DaySales], period: Period) -> DaySales:
    return sum(
        (sales for day, sales in days.items() if period.first <= day <= period.last), DaySales()
    )


def sales_readings(
    *, period: Period, channel: str | None = None, comparison: Period | None = None
) -> dict[str, KpiReading]:
    """Revenue, orders and AOV over the period against the comparison (the period before
    unless given), through one channel or all: read from the daily rollup."""
    comparison = comparison or period.before()
    if comparison.last + timedelta(days=1) == period.first:
        days = sales_days(first=comparison.first, last=period.last, channel=channel)
    else:
        days = sales_days(first=period.first, last=period.last, channel=channel)
        days |= sales_days(first=comparison.first, last=comparison.last, channel=channel)
    return sales_readings_of(days, period=period, comparison=comparison)


def sales_readings_of(
    days: dict[date, DaySales], *, period: Period, comparison: Period
) -> dict[str, KpiReading]:
    """The same from days read already (the morning page reads sixty once for three spans)."""
    now, then = sales_measures(_summed(days, period)), sales_measures(_summed(days, comparison))
    return {
        code: KpiReading(
            kpi=KPIS[code], period=period, window=None, now=now[code], before=then[code]
        )
        for code in ROLLED_UP
    }


@dataclass(frozen=True)
class CountryFigure:
    country: str  # ISO code; "" when neither the order nor its customer says
    revenue: Decimal
    orders: int

    @property
    def name(self) -> str:
        return country_name(self.country) if self.country else str(_("Country not known"))


def revenue_by_country(*, period: Period) -> list[CountryFigure]:
    """Revenue and orders of the period by the country the order ships to (the customer's
    when the order does not say), largest first, by the catalog's definitions: one query."""
    rows = (
        valued_orders()
        .filter(placed_at__gte=period.start, placed_at__lt=period.end)
        .annotate(where=Coalesce(NullIf("ship_country", Value("")), "customer__country", Value("")))
        .values("where")
        .annotate(
            cents=Sum(SIGNED_CENTS),
            orders=Count("id", filter=Q(kind=OrderKind.SALE, total__gt=0)),
        )
        .order_by("-cents", "where")
    )
    return [
        CountryFigure(
            country=row["where"] or "",
            revenue=Decimal(row["cents"] or 0).scaleb(-2),
            orders=row["orders"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Waiting:
    status: OrderStatus
    orders: int
    oldest: datetime  # the earliest moment one of them entered the status


def orders_waiting() -> list[Waiting]:
    """Orders in each status that still needs work (not final), with how long the oldest
    has been there: one grouped query."""
    statuses = {status.code: status for status in OrderStatus.objects.filter(is_final=False)}
    rows = (
        Order.objects.filter(status_id__in=list(statuses))
        .values("status_id")
        # COUNT(*), not COUNT(id): the index (status, status_changed_at) answers it alone on
        # PostgreSQL too, an index-only scan instead of a visit to every waiting order's row.
        .annotate(n=Count("*"), oldest=Min("status_changed_at"))
        .order_by()
    )
    found = {row["status_id"]: row for row in rows}
    return [
        Waiting(status=status, orders=found[code]["n"], oldest=found[code]["oldest"])
        for code, status in statuses.items()
        if code in found
    ]


@dataclass(frozen=True)
class MonthValue:
    month: date
    value: Decimal | None


@dataclass(frozen=True)
class GoalProgress:
    goal: Goal
    kpi: Kpi
    now: Measure  # the KPI over the last 30 days
    months: list[MonthValue]  # the last six calendar months, oldest first
    days_left: int

    @property
    def reached(self) -> bool | None:
        if self.now.value is None:
            return None
        if self.kpi.higher_is_better:
            return self.now.value >= self.goal.target
        return self.now.value <= self.goal.target


def _month_period(first: date, zone: ZoneInfo) -> Period:
    next_month = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period(first=first, last=next_month - timedelta(days=1), zone=zone)


def goal_progress(goal: Goal, *, today: date, zone: ZoneInfo) -> GoalProgress:
    kpi = kpi_get(goal.kpi)
    window = goal.kpi_window_days
    months = []
    first = today.replace(day=1)
    for _month in range(6):
        months.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return GoalProgress(
        goal=goal,
        kpi=kpi,
        now=kpi.measure(Period(first=today - timedelta(days=29), last=today, zone=zone), window),
        months=[
            MonthValue(month=month, value=kpi.measure(_month_period(month, zone), window).value)
            for month in reversed(months)
        ],
        days_left=(goal.deadline - today).days,
    )


def goals_list(*, state: str = "active") -> list[Goal]:
    goals = Goal.objects.select_related("owner")
    return list(goals.filter(state=state) if state else goals)


def goal_get(goal_id: int) -> Goal:
    goal = Goal.objects.select_related("owner").filter(pk=goal_id).first()
    if goal is None:
        raise NotFound(field="goal_id", message=_("There is no such goal."))
    return goal


def goal_chart(progress: GoalProgress, *, currency: str) -> BarChart:
    """The KPI month by month with the target drawn across."""
    unit = progress.kpi.unit

    def written(value: Decimal | float | None) -> str:
        return kpi_value(None if value is None else Decimal(str(round(value, 2))), unit, currency)

    return bar_chart(
        [
            (
                date_format(month.month, "M Y"),
                month.value or 0,
                f"{date_format(month.month, 'F Y')}: {written(month.value)}",
            )
            for month in progress.months
        ],
        value_label=written,
        reference=(
            progress.goal.target,
            _("target %(value)s") % {"value": written(progress.goal.target)},
        ),
    )


# ---------------------------------------------------------------- predicted lifetime value


def value_forecast_latest() -> ValueForecast | None:
    """The last refresh, fitted or not: the page and the API say why there is no figure."""
    return ValueForecast.objects.first()


@dataclass(frozen=True)
class CustomerValueLine:
    """What the customer card says: the customer's prediction, or why there is none."""

    amount: Decimal | None
    currency: str
    expected_orders: float | None
    alive_percent: int | None
    as_of: date | None
    skipped: str  # the last refresh's Skip code when it made no prediction


def customer_value_of(customer_id: int) -> CustomerValue | None:
    return CustomerValue.objects.select_related("forecast").filter(customer_id=customer_id).first()


def customer_value_line(customer_id: int) -> CustomerValueLine | None:
    """None until the first refresh, so the card says nothing rather than "no data"."""
    value = customer_value_of(customer_id)
    if value is not None:
        return CustomerValueLine(
            amount=Decimal(value.expected_cents) / 100,
            currency=value.forecast.currency,
            expected_orders=value.expected_orders,
            alive_percent=round(value.probability_alive * 100),
            as_of=value.forecast.as_of,
            skipped="",
        )
    latest = value_forecast_latest()
    if latest is None:
        return None
    return CustomerValueLine(
        amount=None,
        currency=latest.currency,
        expected_orders=None,
        alive_percent=None,
        as_of=latest.as_of,
        skipped=latest.reason,
    )
