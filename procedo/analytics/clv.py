"""Predicted customer lifetime value: what each customer is expected to spend in the next 12
months, from two models fitted on the business's own order history by the `lifetimes`
library.

- BG/NBD (beta-geometric / negative binomial): how often a customer buys while they are a
  customer, and the chance they have quietly stopped, from three numbers per customer:
  `frequency` (days with a purchase after the first), `recency` (days from the first to the
  last), `T` (days from the first to the end of the history).
- Gamma-Gamma: how much a returning customer spends per purchase day, from the mean of
  their repeat days (`monetary`).

The numbers are the library's own `summary_data_from_transaction_data` with daily periods,
computed in one grouped SQL statement instead of a DataFrame of every order. A purchase is
a kept sale as the KPI catalog counts it (kpis.py): not cancelled, not a zero-total sample,
not returned whole, in the business's currency; return documents are not purchases. Days are
the business's.

A fit is refused, never guessed: with fewer than MIN_REPEAT_CUSTOMERS customers who came
back, or when the optimiser does not converge or lands on parameters that give no finite
mean spend.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import F, Sum
from django.db.models.functions import TruncDate

from procedo.analytics.kpis import RETURNED_WHOLE, cents, sale_orders

MIN_REPEAT_CUSTOMERS = 50
HORIZON_DAYS = 365  # "the next 12 months"
# The library's default, no L2 penalty: on real shop histories (the retail file) even 0.001
# drags BG/NBD's dropout parameters a and b to zero, a "nobody ever leaves" fit.
PENALIZER = 0.0


class Skip:
    """Why no forecast was made: a code stored on the forecast (the page translates it)."""

    TOO_FEW_REPEAT = "too_few_repeat_customers"
    NO_CONVERGENCE = "did_not_converge"
    UNBOUNDED_SPEND = "unbounded_spend"


@dataclass(frozen=True)
class Summaries:
    """One entry per customer with a purchase up to `as_of`, in the same order."""

    as_of: date
    customer_ids: list[int] = field(default_factory=list)
    frequency: list[int] = field(default_factory=list)
    recency: list[int] = field(default_factory=list)
    age: list[int] = field(default_factory=list)  # the models' T
    monetary: list[float] = field(default_factory=list)  # 0 for those who never came back

    @property
    def repeat_customers(self) -> int:
        return sum(1 for f in self.frequency if f > 0)


@dataclass(frozen=True)
class Fit:
    params: dict[str, float]
    customer_ids: list[int]
    expected_orders: list[float]
    probability_alive: list[float]
    expected_cents: list[int]


def _day(value: date | str) -> date:
    # PostgreSQL returns dates; SQLite the text of one.
    return value if isinstance(value, date) else date.fromisoformat(value)


def customer_summaries(*, as_of: date, zone: ZoneInfo) -> Summaries:
    """frequency, recency, T and monetary of every customer, one grouped statement."""
    end = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=zone)
    days = (
        sale_orders()
        .exclude(RETURNED_WHOLE)
        .filter(customer__isnull=False, placed_at__lt=end)
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("customer_id", "day")
        .annotate(spent=Sum(cents(F("total"))))
        .values_list("customer_id", "day", "spent")
    )
    inner, params = days.query.sql_with_params()
    sql = f"""
SELECT customer_id, COUNT(*) - 1, MIN(day), MAX(day),
  SUM(CASE WHEN day > first_day THEN spent ELSE 0 END)
FROM (
  SELECT d.customer_id AS customer_id, d.day AS day, d.spent AS spent,
    MIN(d.day) OVER (PARTITION BY d.customer_id) AS first_day
  FROM ({inner}) d
) w
GROUP BY customer_id ORDER BY customer_id
"""  # noqa: S608 (the inner statement is the ORM's, its values parameters)
    summaries = Summaries(as_of=as_of)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for customer_id, frequency, first, last, repeat_cents in cursor.fetchall():
            first, last = _day(first), _day(last)
            summaries.customer_ids.append(customer_id)
            summaries.frequency.append(frequency)
            summaries.recency.append((last - first).days)
            summaries.age.append((as_of - first).days)
            summaries.monetary.append(repeat_cents / 100 / frequency if frequency else 0.0)
    return summaries


def value_fit(summaries: Summaries) -> Fit | str:
    """The two models fitted and each customer's expected spend, or the Skip code of why not."""
    if summaries.repeat_customers < MIN_REPEAT_CUSTOMERS:
        return Skip.TOO_FEW_REPEAT
    import numpy as np  # the library and its stack load only for a fit

    with warnings.catch_warnings():  # lifetimes 0.11 sets an option pandas 3 deprecates
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import ConvergenceError

    frequency = np.asarray(summaries.frequency, dtype=float)
    recency = np.asarray(summaries.recency, dtype=float)
    age = np.asarray(summaries.age, dtype=float)
    monetary = np.asarray(summaries.monetary, dtype=float)
    back = frequency > 0
    # The optimiser probes parameters where the log-likelihood overflows; numpy warns, the
    # search goes on, and a fit that ends there raises ConvergenceError.
    try:
        with np.errstate(all="ignore"):
            purchases = BetaGeoFitter(penalizer_coef=PENALIZER).fit(frequency, recency, age)
            spend = GammaGammaFitter(penalizer_coef=PENALIZER).fit(frequency[back], monetary[back])
    except ConvergenceError:
        return Skip.NO_CONVERGENCE
    params = {name: float(v) for name, v in {**purchases.params_, **spend.params_}.items()}
    if not all(math.isfinite(v) for v in params.values()):
        return Skip.NO_CONVERGENCE
    if params["q"] <= 1:  # the mean spend per purchase p·v/(q-1) has no finite value
        return Skip.UNBOUNDED_SPEND
    orders = purchases.conditional_expected_number_of_purchases_up_to_time(
        HORIZON_DAYS, frequency, recency, age
    )
    per_order = spend.conditional_expected_average_profit(frequency, monetary)
    expected = np.asarray(orders) * np.asarray(per_order)
    if not np.isfinite(expected).all():
        return Skip.NO_CONVERGENCE
    alive = purchases.conditional_probability_alive(frequency, recency, age)
    return Fit(
        params=params,
        customer_ids=summaries.customer_ids,
        expected_orders=[float(v) for v in np.asarray(orders)],
        probability_alive=[float(v) for v in np.asarray(alive)],
        expected_cents=[round(v * 100) for v in expected.tolist()],
    )
