"""Did an SOP move its KPI? The outcome of each subject after a run began, and the comparison
of the treated with the held out, with a 95 % confidence interval and a verdict in words.

The engine owns runs, so it asks here for two things: the per-subject outcome of a KPI as
an SQL expression over its run rows (`outcome_expression`, correlated on the outer row's
`subject_id` and `created_at`), and the comparison of two groups' figures (`compare`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import BigIntegerField, Exists, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from procedo.analytics.kpis import SIGNED_CENTS, Kpi, sale_orders, valued_orders
from procedo.core.money import money_format
from procedo.orders.models import Order, StatusCategory

BINARY = "binary"  # each subject did it or not: a rate, compared in percentage points
SPEND = "spend"  # each subject's net spend in minor units: compared as money per subject

# Fewer subjects than this in either group and an interval is more noise than answer.
MIN_GROUP = 30
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Outcome:
    kind: str
    subject_types: frozenset[str]


# The KPIs an SOP can be measured by, subject by subject. The others (durations, lead
# response) are reported for the whole store on the analytics page.
OUTCOMES: dict[str, Outcome] = {
    "repeat_purchase_rate": Outcome(BINARY, frozenset({"customer", "order"})),
    "reactivation_rate": Outcome(BINARY, frozenset({"customer", "order"})),
    "delivery_rate": Outcome(BINARY, frozenset({"order"})),
    "return_rate": Outcome(BINARY, frozenset({"order"})),
    "revenue": Outcome(SPEND, frozenset({"customer", "order"})),
    "first_month_spend": Outcome(SPEND, frozenset({"customer", "order"})),
    "first_year_spend": Outcome(SPEND, frozenset({"customer", "order"})),
    "lifetime_value": Outcome(SPEND, frozenset({"customer", "order"})),
}


def outcome_of(kpi_code: str, subject_type: str) -> Outcome | None:
    outcome = OUTCOMES.get(kpi_code)
    return outcome if outcome is not None and subject_type in outcome.subject_types else None


def _customer_of_subject(subject_type: str) -> OuterRef | Subquery:
    if subject_type == "customer":
        return OuterRef("subject_id")
    return Subquery(
        Order.objects.filter(pk=OuterRef(OuterRef("subject_id"))).values("customer_id")[:1]
    )


def outcome_expression(kpi_code: str, subject_type: str, window_days: int) -> Exists | Coalesce:
    """The outcome of one run's subject in the `window_days` after the run began, for an
    annotation on a queryset of runs (it refers to their `subject_id` and `created_at`)."""
    after: dict[str, object] = {
        "customer_id": _customer_of_subject(subject_type),
        "placed_at__gt": OuterRef("created_at"),
        "placed_at__lte": OuterRef("created_at") + timedelta(days=window_days),
    }
    if kpi_code in ("repeat_purchase_rate", "reactivation_rate"):
        return Exists(sale_orders().filter(**after))
    if kpi_code == "delivery_rate":
        return Exists(Order.objects.filter(pk=OuterRef("subject_id"), delivered_at__isnull=False))
    if kpi_code == "return_rate":
        return Exists(
            Order.objects.filter(
                pk=OuterRef("subject_id"), status__category=StatusCategory.RETURNED
            )
        )
    spent = (
        valued_orders()
        .filter(**after)
        .values("customer_id")
        .annotate(cents=Sum(SIGNED_CENTS))
        .values("cents")
    )
    return Coalesce(Subquery(spent), 0, output_field=BigIntegerField())


@dataclass(frozen=True)
class Group:
    """One side of the comparison: how many subjects, and their outcomes summed (the number
    who did it, or spend in minor units) with the sum of squares for a spend's spread."""

    subjects: int
    total: float
    squares: float = 0.0

    @property
    def mean(self) -> float:
        return self.total / self.subjects if self.subjects else 0.0

    @property
    def mean_percent(self) -> Decimal:
        return Decimal(str(round(self.mean * 100, 1)))

    @property
    def mean_money(self) -> Decimal:
        return (Decimal(str(self.mean)) / 100).quantize(Decimal("0.01"))

    @property
    def variance(self) -> float:
        if self.subjects < 2:
            return 0.0
        return max(0.0, (self.squares - self.subjects * self.mean**2) / (self.subjects - 1))


@dataclass(frozen=True)
class Effect:
    kpi: Kpi
    kind: str
    treated: Group
    held_out: Group
    # Treated minus held out: percentage points for a rate, money per subject for spend.
    difference: Decimal | None
    low: Decimal | None
    high: Decimal | None
    # Subjects still needed to tell the difference seen from none (80 % power).
    more_needed: int | None

    @property
    def enough(self) -> bool:
        return self.treated.subjects >= MIN_GROUP and self.held_out.subjects >= MIN_GROUP

    @property
    def measured(self) -> bool:
        """The interval leaves zero out: the SOP moved the KPI."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    @property
    def good(self) -> bool | None:
        if not self.measured or self.difference is None:
            return None
        return (self.difference > 0) == self.kpi.higher_is_better


def compare(kpi: Kpi, kind: str, treated: Group, held_out: Group) -> Effect:
    if treated.subjects < MIN_GROUP or held_out.subjects < MIN_GROUP:
        return Effect(kpi, kind, treated, held_out, None, None, None, None)
    # Imported here, not at the top: numpy, scipy and statsmodels add about 100 MB and a
    # second to every process that loads the app (web workers, the worker, every CLI
    # command), and only a page or API call that compares groups needs them.
    from scipy import stats
    from statsmodels.stats.power import NormalIndPower, TTestIndPower
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

    if kind == BINARY:
        low, high = confint_proportions_2indep(
            int(treated.total),
            treated.subjects,
            int(held_out.total),
            held_out.subjects,
            method="newcomb",
            compare="diff",
            alpha=1 - CONFIDENCE,
        )
        scale = 100.0  # percentage points
        difference = treated.mean - held_out.mean
        size = abs(proportion_effectsize(treated.mean, held_out.mean))
        power = NormalIndPower()
    else:
        # Welch's interval from the groups' sums: no row leaves the database.
        se_squared = treated.variance / treated.subjects + held_out.variance / held_out.subjects
        difference = treated.mean - held_out.mean
        if se_squared == 0:
            low = high = difference
        else:
            freedom = se_squared**2 / (
                (treated.variance / treated.subjects) ** 2 / (treated.subjects - 1)
                + (held_out.variance / held_out.subjects) ** 2 / (held_out.subjects - 1)
            )
            margin = float(stats.t.ppf(0.5 + CONFIDENCE / 2, freedom)) * math.sqrt(se_squared)
            low, high = difference - margin, difference + margin
        scale = 0.01  # minor units to money
        pooled = math.sqrt((treated.variance + held_out.variance) / 2)
        size = abs(difference) / pooled if pooled else 0.0
        power = TTestIndPower()
    more = None
    if size > 0:
        ratio = held_out.subjects / treated.subjects
        needed = power.solve_power(effect_size=size, alpha=1 - CONFIDENCE, power=0.8, ratio=ratio)
        more = max(0, math.ceil(needed * (1 + ratio)) - treated.subjects - held_out.subjects)
    places = Decimal("0.1") if kind == BINARY else Decimal("0.01")

    def scaled(value: float) -> Decimal:
        return Decimal(str(value * scale)).quantize(places)

    return Effect(kpi, kind, treated, held_out, scaled(difference), scaled(low), scaled(high), more)


def _amount(effect: Effect, value: Decimal, currency: str) -> str:
    if effect.kind == BINARY:
        return _("%(n)s points") % {"n": number_format(abs(value), 1, use_l10n=True)}
    return money_format(abs(value), currency)


def verdict(effect: Effect, *, currency: str, per_day: float) -> str:
    """What the comparison says, in a sentence a store owner reads."""
    label = effect.kpi.label
    if not effect.enough:
        return _(
            "Not enough data yet: %(treated)s treated and %(held)s held out; each group needs "
            "at least %(min)s whose window has passed."
        ) % {"treated": effect.treated.subjects, "held": effect.held_out.subjects, "min": MIN_GROUP}
    assert effect.difference is not None and effect.low is not None and effect.high is not None
    interval = {
        "low": _signed(effect, effect.low, currency),
        "high": _signed(effect, effect.high, currency),
    }
    if effect.measured:
        words = (
            _("Raised %(kpi)s by %(amount)s (95 %% CI %(low)s to %(high)s).")
            if effect.difference > 0
            else _("Lowered %(kpi)s by %(amount)s (95 %% CI %(low)s to %(high)s).")
        )
        return words % {
            "kpi": label,
            "amount": _amount(effect, effect.difference, currency),
            **interval,
        }
    if effect.more_needed:
        days = math.ceil(effect.more_needed / per_day) if per_day > 0 else None
        text = _(
            "No measurable effect yet (95 %% CI %(low)s to %(high)s): about %(more)s more "
            "subjects are needed to tell the difference seen from none"
        ) % {
            **interval,
            "more": number_format(effect.more_needed, 0, use_l10n=True, force_grouping=True),
        }
        if days is not None:
            return text + _(", about %(days)s days at the current rate.") % {"days": days}
        return text + "."
    return _("No measurable effect (95 %% CI %(low)s to %(high)s).") % interval


def _signed(effect: Effect, value: Decimal, currency: str) -> str:
    sign = "−" if value < 0 else "+" if value > 0 else ""
    return sign + _amount(effect, value, currency)
