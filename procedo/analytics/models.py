"""Goals: the strategy above the SOPs. A goal is an aim with a KPI, a target and a deadline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class GoalState(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("goal", "Active")
    ACHIEVED = "achieved", pgettext_lazy("goal", "Achieved")
    DROPPED = "dropped", pgettext_lazy("goal", "Dropped")


class Goal(models.Model):
    name = models.CharField(_("aim"), max_length=200)
    # A code of the KPI catalog (procedo/analytics/kpis.py), checked by the services.
    kpi = models.CharField(_("KPI"), max_length=40)
    kpi_window_days = models.PositiveIntegerField(_("KPI window (days)"), null=True, blank=True)
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=2)
    deadline = models.DateField(_("deadline"))
    state = models.CharField(
        _("state"), max_length=10, choices=GoalState.choices, default=GoalState.ACTIVE
    )
    # Why a fourth active goal: focus is the point of goals, so more than three asks why.
    focus_reason = models.CharField(_("why another goal"), max_length=300, blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="goals_owned",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("last change"), default=timezone.now)

    class Meta:
        verbose_name = _("goal")
        ordering = ["deadline", "id"]

    def __str__(self) -> str:
        return self.name


class SalesDay(models.Model):
    """Sales of one day (in the business's time zone) through one channel: the rollup the
    morning page and the KPI pages read instead of the orders (rollups.py keeps it).

    The columns are the catalog's revenue, orders and average order value before division,
    in integer minor units, so any span of days adds up to exactly what the catalog says.
    """

    day = models.DateField()
    channel = models.CharField(max_length=40, blank=True, default="")
    revenue_cents = models.BigIntegerField()  # sales kept minus return documents
    documents = models.IntegerField()  # the documents revenue counts (its base)
    orders = models.IntegerField()
    sales_cents = models.BigIntegerField()  # the orders' totals, before returns: for AOV

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "channel"], name="sales_day_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel or '-'}"


class RollupBasis(models.Model):
    """What the rollup was built for: days in one time zone, money in one currency. When
    the business changes either, the days are counted again from the orders."""

    name = models.CharField(max_length=40, unique=True)
    time_zone = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    built_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ({self.time_zone}, {self.currency})"


class ForecastOutcome(models.TextChoices):
    FITTED = "fitted", pgettext_lazy("forecast", "Fitted")
    SKIPPED = "skipped", pgettext_lazy("forecast", "Skipped")


class ValueForecast(models.Model):
    """One refresh of the predicted lifetime value: the models fitted (BG/NBD for how often
    customers buy, Gamma-Gamma for how much), or why they were not (too few customers who
    came back, a fit that did not converge). Each customer's figure is a CustomerValue."""

    as_of = models.DateField()  # the last day of history the fit saw, in the business's zone
    computed_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=ForecastOutcome.choices)
    reason = models.CharField(max_length=40, blank=True, default="")  # a code, when skipped
    customers = models.IntegerField()  # with a kept sale up to as_of
    repeat_customers = models.IntegerField()  # of them, with a sale on a second day
    params = models.JSONField(default=dict)  # r, alpha, a, b (BG/NBD); p, q, v (Gamma-Gamma)
    predicted_cents = models.BigIntegerField(null=True)  # the predictions' sum
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["-computed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.as_of} {self.outcome}"


class CustomerValue(models.Model):
    """A customer's predicted spend over the next 12 months, from the last fitted forecast."""

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    forecast = models.ForeignKey(ValueForecast, on_delete=models.CASCADE, related_name="+")
    expected_orders = models.FloatField()  # purchase days expected in the next 365 days
    probability_alive = models.FloatField()
    expected_cents = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.expected_cents}"
