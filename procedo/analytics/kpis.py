"""The KPI catalog: every number Procedo reports, defined once, its definition beside it.

Dashboards, goals, the SOPs' KPI and the API all read a KPI through `kpi_measure`, so
"revenue" means the same thing everywhere. Which documents count:

- A *sale* is an order of kind sale with a total above zero that was not cancelled: a
  zero-total sample is not a sale, and not an order for the average order value.
- A *return document* (an imported credit note) is negative revenue in the period it was
  placed. A sale whose status means returned is worth nothing, as in the customer's
  lifetime value, so a native return shows in the period of the sale.
- Money is in the business's currency only (orders in another currency cannot be added
  without a rate) and is summed exactly, in integer minor units, on both databases
  (SQLite would add decimals as floating point).

(Over 600 lines on purpose: it is the catalog, each KPI's query beside its definition;
split, "what does this KPI mean" would have several places to look.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round, TruncDate
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from procedo.analytics.models import ForecastOutcome, ValueForecast
from procedo.analytics.periods import Period
from procedo.business.selectors import business_get
from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.orders.models import Order, OrderKind, Shipment, ShipmentStatus, StatusCategory
from procedo.sales import selectors as sales_selectors
from procedo.sales.models import Lead
from procedo.support import selectors as support_selectors
from procedo.support.models import Ticket
from procedo.work.models import Task, TaskState


class Unit:
    MONEY = "money"
    PERCENT = "percent"
    MINUTES = "minutes"
    HOURS = "hours"
    COUNT = "count"


@dataclass(frozen=True)
class Measure:
    """A KPI's value over a period, and how many things it was computed from (`base`), so a
    page can say "not enough data yet" instead of showing a rate of one customer."""

    value: Decimal | None
    base: int


Measurer = Callable[[Period, int | None], Measure]


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str | Promise
    unit: str
    higher_is_better: bool
    definition: str | Promise
    measure: Measurer
    # KPIs "within N days" take their N; None means the KPI has no window.
    default_window: int | None = None
    # The N is part of what is being promised ("repeat purchase within 30 days"): an SOP
    # or a goal must state it rather than take the default.
    needs_window: bool = False

    @property
    def has_window(self) -> bool:
        return self.default_window is not None


# --- the documents that count -------------------------------------------------------------

HUNDRED = Decimal(100)


def cents(expression: F | ExpressionWrapper) -> Cast:
    """Money as integer minor units: exact when summed on SQLite too."""
    return Cast(Round(expression * 100), BigIntegerField())


def _money(cents: int | None) -> Decimal:
    return Decimal(cents or 0) / HUNDRED


def _in_currency() -> QuerySet[Order]:
    return Order.objects.filter(currency=business_get().currency).order_by()


# The rules, as conditions, so the daily rollup (rollups.py) groups by the same ones.
CANCELLED = Q(status__category=StatusCategory.CANCELLED)
IS_SALE = Q(kind=OrderKind.SALE, total__gt=0)
RETURNED_WHOLE = Q(kind=OrderKind.SALE, status__category=StatusCategory.RETURNED)


def live_orders() -> QuerySet[Order]:
    """Every document in the business's currency that was not cancelled."""
    return _in_currency().exclude(CANCELLED)


def sale_orders() -> QuerySet[Order]:
    """Orders a customer placed and kept: not cancelled, not a zero-total sample."""
    return live_orders().filter(IS_SALE)


def valued_orders() -> QuerySet[Order]:
    """The documents that carry revenue: sales not wholly returned, and return documents."""
    return live_orders().exclude(RETURNED_WHOLE)


# A return document credits its total back.
SIGNED_CENTS = Case(
    When(kind=OrderKind.RETURN, then=-cents(F("total"))),
    default=cents(F("total")),
    output_field=BigIntegerField(),
)


def _placed_in(period: Period) -> Q:
    return Q(placed_at__gte=period.start, placed_at__lt=period.end)


def _rate(part: int, whole: int) -> Measure:
    if not whole:
        return Measure(value=None, base=0)
    return Measure(value=(Decimal(part) * HUNDRED / whole).quantize(Decimal("0.01")), base=whole)


# --- money and orders ---------------------------------------------------------------------


def revenue(period: Period, _window: int | None = None) -> Measure:
    figures = (
        valued_orders().filter(_placed_in(period)).aggregate(cents=Sum(SIGNED_CENTS), n=Count("id"))
    )
    return Measure(value=_money(figures["cents"]), base=figures["n"])


def orders(period: Period, _window: int | None = None) -> Measure:
    n = sale_orders().filter(_placed_in(period)).count()
    return Measure(value=Decimal(n), base=n)


def average_order_value(period: Period, _window: int | None = None) -> Measure:
    figures = (
        sale_orders()
        .filter(_placed_in(period))
        .aggregate(cents=Sum(cents(F("total"))), n=Count("id"))
    )
    if not figures["n"]:
        return Measure(value=None, base=0)
    value = (_money(figures["cents"]) / figures["n"]).quantize(Decimal("0.01"))
    return Measure(value=value, base=figures["n"])


# --- customers ----------------------------------------------------------------------------


def _newcomers(period: Period, window: int) -> QuerySet[Customer]:
    """Customers whose first order (as their card shows it) fell in the period and whose
    `window` days after it have passed: a customer still inside their window would count as
    "did not come back" too early."""
    closed_before = timezone.now() - timedelta(days=window)
    return Customer.objects.filter(
        first_order_at__gte=period.start,
        first_order_at__lt=period.end,
        first_order_at__lte=closed_before,
    ).order_by()


def _window_after_first(days: int) -> dict[str, object]:
    return {
        "customer_id": OuterRef("pk"),
        "placed_at__gte": OuterRef("first_order_at"),
        "placed_at__lte": OuterRef("first_order_at") + timedelta(days=days),
    }


def repeat_purchase_rate(period: Period, window: int | None) -> Measure:
    days = window or 90
    newcomers = _newcomers(period, days)
    again = sale_orders().filter(
        **_window_after_first(days), placed_at__gt=OuterRef("first_order_at")
    )
    return _rate(newcomers.filter(Exists(again)).count(), newcomers.count())


def _spend_within(period: Period, days: int) -> Measure:
    spent = (
        valued_orders()
        .filter(**_window_after_first(days))
        .values("customer_id")
        .annotate(cents=Sum(SIGNED_CENTS))
        .values("cents")
    )
    figures = (
        _newcomers(period, days)
        .annotate(spent=Coalesce(Subquery(spent), Value(0), output_field=BigIntegerField()))
        .aggregate(cents=Sum("spent"), n=Count("pk"))
    )
    if not figures["n"]:
        return Measure(value=None, base=0)
    value = (_money(figures["cents"]) / figures["n"]).quantize(Decimal("0.01"))
    return Measure(value=value, base=figures["n"])


def first_month_spend(period: Period, _window: int | None = None) -> Measure:
    return _spend_within(period, 30)


def first_year_spend(period: Period, _window: int | None = None) -> Measure:
    return _spend_within(period, 365)


def _bought(**placed: datetime) -> Exists:
    """The customer (the outer row) has a sale placed in the given range."""
    return Exists(sale_orders().filter(customer_id=OuterRef("pk"), **placed))


def churn_rate(period: Period, window: int | None) -> Measure:
    """Of the customers who had bought by the end of the period, the share whose last
    purchase is more than N days before that end."""
    days = window or 365
    since = period.end - timedelta(days=days)
    customers = Customer.objects.filter(_bought(placed_at__lt=period.end))
    base = customers.count()
    gone = customers.exclude(_bought(placed_at__gte=since, placed_at__lt=period.end)).count()
    return _rate(gone, base)


def reactivation_rate(period: Period, window: int | None) -> Measure:
    """Of the customers silent for N days when the period began, the share who bought in it."""
    days = window or 365
    since = period.start - timedelta(days=days)
    silent = Customer.objects.filter(_bought(placed_at__lt=since)).exclude(
        _bought(placed_at__gte=since, placed_at__lt=period.start)
    )
    back = silent.filter(_bought(placed_at__gte=period.start, placed_at__lt=period.end))
    return _rate(back.count(), silent.count())


def lifetime_value(period: Period, _window: int | None = None) -> Measure:
    """Net revenue per customer, all their history up to the end of the period."""
    valued = valued_orders().filter(customer__isnull=False, placed_at__lt=period.end)
    base = (
        sale_orders()
        .filter(customer__isnull=False, placed_at__lt=period.end)
        .values("customer_id")
        .distinct()
        .count()
    )
    if not base:
        return Measure(value=None, base=0)
    cents = valued.aggregate(cents=Sum(SIGNED_CENTS))["cents"]
    return Measure(value=(_money(cents) / base).quantize(Decimal("0.01")), base=base)


def predicted_lifetime_value(period: Period, _window: int | None = None) -> Measure:
    """The last fitted forecast on the history up to the period's end (clv.py), per customer."""
    forecast = (
        ValueForecast.objects.filter(outcome=ForecastOutcome.FITTED, as_of__lte=period.last)
        .order_by("-as_of", "-computed_at", "-id")
        .first()
    )
    if forecast is None or not forecast.customers or forecast.predicted_cents is None:
        return Measure(value=None, base=0)
    value = (_money(forecast.predicted_cents) / forecast.customers).quantize(Decimal("0.01"))
    return Measure(value=value, base=forecast.customers)


# --- operations ---------------------------------------------------------------------------


def _median_minutes(queryset: QuerySet[Order], start: str, end: str) -> Measure:
    """The median of `end - start`, by ORDER BY … LIMIT on the database: no row leaves it
    but the one or two in the middle."""
    spans = (
        queryset.filter(**{f"{end}__isnull": False})
        .annotate(span=ExpressionWrapper(F(end) - F(start), output_field=DurationField()))
        .filter(span__gte=timedelta(0))
    )
    n = spans.count()
    if not n:
        return Measure(value=None, base=0)
    middle = list(spans.order_by("span").values_list("span", flat=True)[(n - 1) // 2 : n // 2 + 1])
    seconds = sum(span.total_seconds() for span in middle) / len(middle)
    return Measure(value=Decimal(str(round(seconds / 60, 1))), base=n)


def confirmation_time(period: Period, _window: int | None = None) -> Measure:
    return _median_minutes(sale_orders().filter(_placed_in(period)), "placed_at", "confirmed_at")


def processing_time(period: Period, _window: int | None = None) -> Measure:
    measured = _median_minutes(sale_orders().filter(_placed_in(period)), "placed_at", "shipped_at")
    if measured.value is None:
        return measured
    return Measure(value=(measured.value / 60).quantize(Decimal("0.1")), base=measured.base)


def orders_per_operator_day(period: Period, _window: int | None = None) -> Measure:
    """Orders a person moved along the pipeline, per person and working day."""
    per_day = (
        Event.objects.filter(
            event_type="order.status_changed",
            actor__isnull=False,
            occurred_at__gte=period.start,
            occurred_at__lt=period.end,
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=period.zone))
        .values("actor_id", "day")
        .annotate(orders=Count("subject_id", distinct=True))
        .order_by()
        .values_list("orders", flat=True)
    )
    counts = list(per_day)
    if not counts:
        return Measure(value=None, base=0)
    return Measure(
        value=(Decimal(sum(counts)) / len(counts)).quantize(Decimal("0.1")), base=len(counts)
    )


def return_rate(period: Period, _window: int | None = None) -> Measure:
    """Of the sales delivered in the period, the share that came back."""
    delivered = _in_currency().filter(
        kind=OrderKind.SALE, delivered_at__gte=period.start, delivered_at__lt=period.end
    )
    base = delivered.count()
    part = (
        delivered.filter(
            Q(status__category=StatusCategory.RETURNED) | Q(returns__status="received")
        )
        .distinct()
        .count()
    )
    return _rate(part, base)


def delivery_rate(period: Period, _window: int | None = None) -> Measure:
    """Of the shipments that ended in the period, the share that reached the customer."""
    ended = Shipment.objects.filter(
        status__in=(ShipmentStatus.DELIVERED, ShipmentStatus.FAILED, ShipmentStatus.RETURNED),
        status_changed_at__gte=period.start,
        status_changed_at__lt=period.end,
    )
    figures = ended.aggregate(
        n=Count("id"), delivered=Count("id", filter=Q(status=ShipmentStatus.DELIVERED))
    )
    return _rate(figures["delivered"], figures["n"])


def task_on_time_rate(period: Period, _window: int | None = None) -> Measure:
    """Of the tasks with a due time done in the period, the share done by then."""
    done = Task.objects.filter(
        state=TaskState.DONE,
        due_at__isnull=False,
        completed_at__gte=period.start,
        completed_at__lt=period.end,
    )
    figures = done.aggregate(
        n=Count("id"), on_time=Count("id", filter=Q(completed_at__lte=F("due_at")))
    )
    return _rate(figures["on_time"], figures["n"])


def lead_response_time(period: Period, _window: int | None = None) -> Measure:
    """The median minutes from a lead arriving to the first call, email or message logged."""
    minutes, leads = sales_selectors.lead_response_minutes(start=period.start, end=period.end)
    return Measure(value=minutes, base=leads)


def cost_per_lead(period: Period, _window: int | None = None) -> Measure:
    figures = sales_selectors.acquisition(first=period.first, last=period.last)
    return Measure(value=figures.cost_per_lead, base=figures.leads)


def customer_acquisition_cost(period: Period, _window: int | None = None) -> Measure:
    figures = sales_selectors.acquisition(first=period.first, last=period.last)
    return Measure(value=figures.cac, base=figures.customers)


def lead_conversion_rate(period: Period, _window: int | None = None) -> Measure:
    """Of the leads that arrived in the period, the share whose customer has placed a sale
    since the lead arrived (whenever: a lead is counted in the period it arrived)."""
    bought = sale_orders().filter(
        customer_id=OuterRef("customer_id"), placed_at__gte=OuterRef("created_at")
    )
    figures = Lead.objects.filter(
        created_at__gte=period.start, created_at__lt=period.end
    ).aggregate(n=Count("id"), won=Count("id", filter=Q(Exists(bought))))
    return _rate(figures["won"], figures["n"])


def sla_attainment(period: Period, _window: int | None = None) -> Measure:
    """Of the tickets solved in the period, the share that kept both promises of their SLA:
    the first answer by its due time and the solution by its due time (the due times as
    moved on while the clock stood still waiting on the customer)."""
    answered_in_time = Q(first_response_due_at__isnull=True) | Q(
        first_responded_at__lte=F("first_response_due_at")
    )
    solved_in_time = Q(resolution_due_at__isnull=True) | Q(solved_at__lte=F("resolution_due_at"))
    kept = (
        answered_in_time
        & solved_in_time
        & Q(first_response_breached_at__isnull=True, resolution_breached_at__isnull=True)
    )
    figures = Ticket.objects.filter(
        solved_at__gte=period.start, solved_at__lt=period.end
    ).aggregate(n=Count("id"), kept=Count("id", filter=kept))
    return _rate(figures["kept"], figures["n"])


def customer_satisfaction(period: Period, _window: int | None = None) -> Measure:
    """Of the ratings customers gave in the period, the share of 4 or 5 out of 5."""
    summary = support_selectors.csat_summary(since=period.start, until=period.end)
    return _rate(summary.satisfied, summary.answered)


KPIS: dict[str, Kpi] = {
    kpi.code: kpi
    for kpi in (
        Kpi(
            "revenue",
            _("Revenue"),
            Unit.MONEY,
            True,
            _(
                "Sales placed in the period, minus return documents placed in it. Cancelled "
                "orders and sales returned whole add nothing; only the business's currency."
            ),
            revenue,
        ),
        Kpi(
            "orders",
            _("Orders"),
            Unit.COUNT,
            True,
            _(
                "Sales placed in the period that were not cancelled; a zero-total sample is "
                "not an order."
            ),
            orders,
        ),
        Kpi(
            "average_order_value",
            _("Average order value"),
            Unit.MONEY,
            True,
            _("The total of the period's orders divided by their number, before returns."),
            average_order_value,
        ),
        Kpi(
            "repeat_purchase_rate",
            _("Repeat-purchase rate within N days"),
            Unit.PERCENT,
            True,
            _(
                "Of the customers whose first order fell in the period, the share who ordered "
                "again within N days of it. Customers whose N days have not passed yet wait."
            ),
            repeat_purchase_rate,
            default_window=90,
            needs_window=True,
        ),
        Kpi(
            "churn_rate",
            _("Churn: no order in N days"),
            Unit.PERCENT,
            False,
            _(
                "Of the customers who had ordered by the end of the period, the share whose "
                "last order is more than N days before that end."
            ),
            churn_rate,
            default_window=365,
        ),
        Kpi(
            "reactivation_rate",
            _("Reactivation rate"),
            Unit.PERCENT,
            True,
            _(
                "Of the customers with no order in the N days before the period, the share "
                "who ordered in it."
            ),
            reactivation_rate,
            default_window=365,
        ),
        Kpi(
            "first_month_spend",
            _("Spend in the first 30 days"),
            Unit.MONEY,
            True,
            _(
                "What a customer whose first order fell in the period spent, net of returns, "
                "in the 30 days from that order, on average."
            ),
            first_month_spend,
        ),
        Kpi(
            "first_year_spend",
            _("Spend in the first year"),
            Unit.MONEY,
            True,
            _("The same over the 365 days from the first order."),
            first_year_spend,
        ),
        Kpi(
            "lifetime_value",
            _("Customer lifetime value"),
            Unit.MONEY,
            True,
            _(
                "Net revenue per customer who has ordered, over all their history up to the "
                "end of the period."
            ),
            lifetime_value,
        ),
        Kpi(
            "predicted_lifetime_value",
            _("Predicted lifetime value (next 12 months)"),
            Unit.MONEY,
            True,
            _(
                "What a customer who has ordered is expected to spend in the next 12 months, on "
                "average: a BG/NBD model of how often each buys and a Gamma-Gamma model of how "
                "much, fitted on the kept sales up to the end of the period (no cancelled "
                "orders, zero-total samples, sales returned whole or return documents; days "
                "with a purchase, not orders). No value while fewer than 50 customers have "
                "bought on a second day, or when the fit does not converge."
            ),
            predicted_lifetime_value,
        ),
        Kpi(
            "order_confirmation_time",
            _("Order confirmation time"),
            Unit.MINUTES,
            False,
            _("The median time from an order being placed to its confirmation."),
            confirmation_time,
        ),
        Kpi(
            "order_processing_time",
            _("Order processing time"),
            Unit.HOURS,
            False,
            _("The median time from an order being placed to its shipping."),
            processing_time,
        ),
        Kpi(
            "orders_per_operator_day",
            _("Orders processed per operator a day"),
            Unit.COUNT,
            True,
            _("Orders a person moved along the pipeline, per person and per day they moved any."),
            orders_per_operator_day,
        ),
        Kpi(
            "return_rate",
            _("Return rate"),
            Unit.PERCENT,
            False,
            _("Of the orders delivered in the period, the share that came back."),
            return_rate,
        ),
        Kpi(
            "delivery_rate",
            _("Delivery rate"),
            Unit.PERCENT,
            True,
            _(
                "Of the shipments that ended in the period, the share delivered (the rest "
                "failed or went back to the sender)."
            ),
            delivery_rate,
        ),
        Kpi(
            "task_on_time_rate",
            _("Tasks done on time"),
            Unit.PERCENT,
            True,
            _("Of the tasks with a due time done in the period, the share done by then."),
            task_on_time_rate,
        ),
        Kpi(
            "lead_response_time",
            _("Lead response time"),
            Unit.MINUTES,
            False,
            _("The median time from a lead arriving to its first answer."),
            lead_response_time,
        ),
        Kpi(
            "cost_per_lead",
            _("Cost per lead"),
            Unit.MONEY,
            False,
            _(
                "The channel spend of the period (each month's spread over its days) divided "
                "by the leads that arrived in it."
            ),
            cost_per_lead,
        ),
        Kpi(
            "customer_acquisition_cost",
            _("Customer acquisition cost (CAC)"),
            Unit.MONEY,
            False,
            _(
                "The channel spend of the period divided by the new customers whose first deal "
                "from a lead was won in it."
            ),
            customer_acquisition_cost,
        ),
        Kpi(
            "lead_conversion_rate",
            _("Lead to order conversion"),
            Unit.PERCENT,
            True,
            _(
                "Of the leads that arrived in the period, the share whose customer has placed "
                "a sale since."
            ),
            lead_conversion_rate,
        ),
        Kpi(
            "sla_attainment",
            _("SLA attainment"),
            Unit.PERCENT,
            True,
            _(
                "Of the tickets solved in the period, the share answered first and solved "
                "within their SLA's times."
            ),
            sla_attainment,
        ),
        Kpi(
            "customer_satisfaction",
            _("Customer satisfaction (CSAT)"),
            Unit.PERCENT,
            True,
            _("Of the ratings customers gave in the period, the share of 4 or 5 out of 5."),
            customer_satisfaction,
        ),
    )
}


def kpi_choices() -> list[tuple[str, str | Promise]]:
    return [(kpi.code, kpi.label) for kpi in KPIS.values()]
