"""Writing goals (each change checked against its KPI's unit and recorded in the log) and
the predicted lifetime value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.analytics.clv import Fit, customer_summaries, value_fit
from procedo.analytics.kpis import KPIS, Unit
from procedo.analytics.models import CustomerValue, ForecastOutcome, Goal, GoalState, ValueForecast
from procedo.analytics.selectors import MAX_WINDOW_DAYS, kpi_get
from procedo.business.selectors import business_get
from procedo.core.bounds import MAX_AMOUNT, SHORT_TEXT, moment_check, number_check
from procedo.core.errors import DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import event_record

# Focus is the point of goals: a fourth active one asks why.
FOCUS_LIMIT = 3
FOCUS_REASON_MAX = 300  # Goal.focus_reason's column

# What a target may be, by the KPI's unit.
_TARGET_RANGE: dict[str, tuple[Decimal, Decimal]] = {
    Unit.PERCENT: (Decimal(0), Decimal(100)),
    Unit.MINUTES: (Decimal(0), Decimal(1_000_000)),
    Unit.HOURS: (Decimal(0), Decimal(100_000)),
    Unit.COUNT: (Decimal(0), Decimal(1_000_000_000)),
    Unit.MONEY: (-MAX_AMOUNT, MAX_AMOUNT),
}


def _target_clean(kpi_code: str, raw: Decimal | str | int) -> Decimal:
    try:
        target = Decimal(str(raw)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise DomainError(field="target", message=_("The target is a number.")) from None
    if not target.is_finite():
        raise DomainError(field="target", message=_("The target is a number."))
    low, high = _TARGET_RANGE[KPIS[kpi_code].unit]
    if not low <= target <= high:
        unit = KPIS[kpi_code].unit
        message = (
            _("%(kpi)s is a percentage: give a target from 0 to 100.")
            if unit == Unit.PERCENT
            else _("Give a target from %(low)s to %(high)s.")
        )
        raise DomainError(
            field="target",
            message=message % {"kpi": KPIS[kpi_code].label, "low": low, "high": high},
        )
    return target


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(field="name", message=_("Say what the goal is."))
    if len(name) > SHORT_TEXT:
        raise DomainError(
            field="name",
            code="too_large",
            message=_("At most %(n)s characters.") % {"n": SHORT_TEXT},
        )
    return name


def _deadline_clean(deadline: date) -> date:
    moment_check(deadline, field="deadline")
    if deadline <= timezone.localdate():
        raise DomainError(field="deadline", message=_("A deadline is a day after today."))
    return deadline


def _window_clean(kpi_code: str, window: int | None) -> int | None:
    if not KPIS[kpi_code].has_window:
        return None
    number_check(window, field="kpi_window_days", low=1, high=MAX_WINDOW_DAYS)
    return window or KPIS[kpi_code].default_window


def _focus_check(reason: str, *, other_active: int) -> str:
    reason = (reason or "").strip()
    if len(reason) > FOCUS_REASON_MAX:
        raise DomainError(
            field="focus_reason",
            code="too_large",
            message=_("At most %(n)s characters.") % {"n": FOCUS_REASON_MAX},
        )
    if other_active >= FOCUS_LIMIT and not reason:
        raise DomainError(
            field="focus_reason",
            message=_(
                "%(n)s goals are active already: a business moves few things at a time. "
                "Say why this one cannot wait, or finish or drop another first."
            )
            % {"n": other_active},
        )
    return reason


def _payload(goal: Goal) -> dict[str, Any]:
    return {
        "name": goal.name,
        "kpi": goal.kpi,
        "target": str(goal.target),
        "deadline": goal.deadline.isoformat(),
        "state": goal.state,
    }


@idempotent("goal.create", replay=lambda pk: Goal.objects.get(pk=pk))
@transaction.atomic
def goal_create(
    *,
    name: str,
    kpi: str,
    target: Decimal | str | int,
    deadline: date,
    actor: Actor,
    idempotency_key: str | None = None,
    kpi_window_days: int | None = None,
    focus_reason: str = "",
) -> Goal:
    kpi_get(kpi)
    goal = Goal(
        name=_name_clean(name),
        kpi=kpi,
        kpi_window_days=_window_clean(kpi, kpi_window_days),
        target=_target_clean(kpi, target),
        deadline=_deadline_clean(deadline),
        owner=actor_person(actor),
    )
    # Locks the active goals so two people cannot each add "the third" at once.
    active = Goal.objects.select_for_update().filter(state=GoalState.ACTIVE)
    goal.focus_reason = _focus_check(focus_reason, other_active=len(list(active)))
    goal.save()
    event_record(event_type="goal.created", subject=goal, actor=actor, payload=_payload(goal))
    return goal


@transaction.atomic
def goal_update(*, goal_id: int, actor: Actor, **changes: Any) -> Goal:
    """Change a goal's aim, target, deadline, window or state (achieved, dropped, active)."""
    unknown = set(changes) - {
        "name",
        "target",
        "deadline",
        "kpi_window_days",
        "state",
        "focus_reason",
    }
    if unknown:
        raise DomainError(field=sorted(unknown)[0], message=_("This cannot be changed."))
    goal = Goal.objects.select_for_update().filter(pk=goal_id).first()
    if goal is None:
        raise NotFound(field="goal_id", message=_("There is no such goal."))
    if "name" in changes:
        goal.name = _name_clean(changes["name"])
    if "target" in changes:
        goal.target = _target_clean(goal.kpi, changes["target"])
    if "deadline" in changes and changes["deadline"] != goal.deadline:
        goal.deadline = _deadline_clean(changes["deadline"])
    if "kpi_window_days" in changes:
        goal.kpi_window_days = _window_clean(goal.kpi, changes["kpi_window_days"])
    if "state" in changes:
        if changes["state"] not in GoalState.values:
            raise DomainError(field="state", message=_("Not a state a goal can be in."))
        if changes["state"] == GoalState.ACTIVE and goal.state != GoalState.ACTIVE:
            others = Goal.objects.select_for_update().filter(state=GoalState.ACTIVE)
            goal.focus_reason = _focus_check(
                changes.get("focus_reason", ""), other_active=len(list(others))
            )
        goal.state = changes["state"]
    goal.updated_at = timezone.now()
    goal.save()
    event_record(event_type="goal.changed", subject=goal, actor=actor, payload=_payload(goal))
    return goal


def value_forecast_refresh(*, as_of: date | None = None) -> ValueForecast:
    """Fit the lifetime-value models on the history up to `as_of` (default today, in the
    business's zone) and keep each customer's predicted 12-month spend, or record why not.

    The history is read and the models fitted before the transaction opens (a fit takes
    seconds at scale); the predictions replace the previous ones and the forecast's event
    commit together. A refused fit keeps the previous predictions, each with its own date.
    """
    business = business_get()
    as_of = as_of or timezone.now().astimezone(business.zone).date()
    moment_check(as_of, field="as_of")
    summaries = customer_summaries(as_of=as_of, zone=business.zone)
    result = value_fit(summaries)
    forecast = ValueForecast(
        as_of=as_of,
        customers=len(summaries.customer_ids),
        repeat_customers=summaries.repeat_customers,
        currency=business.currency,
    )
    if isinstance(result, Fit):
        forecast.outcome, forecast.params = ForecastOutcome.FITTED, result.params
        forecast.predicted_cents = sum(result.expected_cents)
    else:
        forecast.outcome, forecast.reason = ForecastOutcome.SKIPPED, result
    with transaction.atomic():
        forecast.save()
        if isinstance(result, Fit):
            CustomerValue.objects.all().delete()
            CustomerValue.objects.bulk_create(
                (
                    CustomerValue(
                        customer_id=customer_id,
                        forecast=forecast,
                        expected_orders=orders,
                        probability_alive=alive,
                        expected_cents=expected,
                    )
                    for customer_id, orders, alive, expected in zip(
                        result.customer_ids,
                        result.expected_orders,
                        result.probability_alive,
                        result.expected_cents,
                        strict=True,
                    )
                ),
                batch_size=2000,
            )
        event_record(
            event_type=f"value_forecast.{forecast.outcome}",
            subject_type="business",
            subject_id=1,
            payload={
                "forecast_id": forecast.pk,
                "as_of": as_of.isoformat(),
                "reason": forecast.reason,
                "customers": forecast.customers,
                "repeat_customers": forecast.repeat_customers,
            },
        )
    return forecast


def customer_value_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's prediction goes; the next refresh predicts the
    survivor from the orders they now hold together."""
    deleted, _counts = CustomerValue.objects.filter(customer_id=duplicate_id).delete()
    return deleted
