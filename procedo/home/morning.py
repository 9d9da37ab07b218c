"""The morning page: what a store owner needs to see first each day, one selector per block.

Each block reads its own app's selectors; the sales block only for those who may see the
business's numbers (analytics.view). Every figure links to the list it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from procedo.accounts.permissions import user_can
from procedo.analytics.formatting import kpi_axis_label
from procedo.analytics.kpis import Unit
from procedo.analytics.periods import Period, period_ending
from procedo.analytics.rollups import DaySales, sales_days
from procedo.analytics.selectors import (
    KpiReading,
    Waiting,
    orders_waiting,
    sales_readings_of,
)
from procedo.automation.selectors import RunCounts, run_counts_since
from procedo.business.selectors import business_get
from procedo.core.charts import BarChart, bar_chart
from procedo.core.money import money_format
from procedo.messaging.selectors import message_counts_since
from procedo.work.selectors import Load, workload_people

SPANS = (1, 7, 30)


@dataclass(frozen=True)
class SalesColumn:
    days: int
    period: Period
    revenue: KpiReading
    orders: KpiReading
    average: KpiReading

    @property
    def heading(self) -> str:
        if self.days == 1:
            return _("Today")
        return ngettext("Last %(days)s day", "Last %(days)s days", self.days) % {"days": self.days}


@dataclass(frozen=True)
class Morning:
    today: date
    currency: str
    sales: list[SalesColumn] | None  # None: the reader may not see the business's numbers
    chart: BarChart | None
    waiting: list[Waiting]
    overdue: list[Load]
    runs: RunCounts
    messages: dict[str, int]


def morning(*, user: Any) -> Morning:
    business = business_get()
    today = timezone.localdate()
    zone = business.zone
    sales = chart = None
    if user_can(user, "analytics.view"):
        # Sixty days read once from the daily rollup: each span and the span before it.
        longest = max(SPANS)
        days = sales_days(first=today - timedelta(days=2 * longest - 1), last=today)
        sales = []
        for span in SPANS:
            period = period_ending(today=today, days=span, zone=zone)
            readings = sales_readings_of(days, period=period, comparison=period.before())
            sales.append(
                SalesColumn(
                    days=span,
                    period=period,
                    revenue=readings["revenue"],
                    orders=readings["orders"],
                    average=readings["average_order_value"],
                )
            )
        month = period_ending(today=today, days=longest, zone=zone)
        figures = [
            (day, days.get(day, DaySales()))
            for day in (month.first + timedelta(days=n) for n in range(month.days))
        ]
        chart = bar_chart(
            [
                (
                    date_format(day, "j.m"),
                    figure.revenue,
                    ngettext(
                        "%(day)s: %(amount)s, %(orders)s order",
                        "%(day)s: %(amount)s, %(orders)s orders",
                        figure.orders,
                    )
                    % {
                        "day": date_format(day, "D j E"),
                        "amount": money_format(figure.revenue, business.currency),
                        "orders": figure.orders,
                    },
                )
                for day, figure in figures
            ],
            value_label=kpi_axis_label(Unit.MONEY, business.currency),
            every=7,
        )
    week_ago = timezone.now() - timedelta(days=7)
    return Morning(
        today=today,
        currency=business.currency,
        sales=sales,
        chart=chart,
        waiting=orders_waiting() if user_can(user, "orders.view") else [],
        overdue=[load for load in workload_people() if load.overdue][:8]
        if user_can(user, "tasks.manage")
        else [],
        runs=run_counts_since(week_ago),
        messages=message_counts_since(week_ago),
    )
