"""An SOP's measured effect on its KPI: its runs' subjects, treated against held out (and a
pilot revision's against the published one's), each group's outcome summed in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.analytics.impact import (
    BINARY,
    Effect,
    Group,
    compare,
    outcome_expression,
    outcome_of,
    verdict,
)
from procedo.analytics.kpis import KPIS
from procedo.automation.models import Run, RunState
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.sops.models import Sop

# The window of a KPI that has none of its own (revenue, lifetime value): what the
# subject did in the 90 days after the run began.
DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Impact:
    sop: Sop
    window_days: int
    holdout: Effect | None  # treated against held out; None when the SOP holds nobody out
    pilot: Effect | None  # a pilot revision's runs against the published one's
    holdout_verdict: str
    pilot_verdict: str


def _groups(
    runs: QuerySet[Run], expression: object, kind: str, *, a: Q, b: Q
) -> tuple[Group, Group]:
    # A rate's outcome is a boolean, which PostgreSQL will not cast to a number: 1 or 0.
    value = (
        Case(When(outcome=True, then=Value(1.0)), default=Value(0.0), output_field=FloatField())
        if kind == BINARY
        else Cast(F("outcome"), FloatField())
    )
    figures = runs.annotate(outcome=expression).aggregate(
        a_n=Count("id", filter=a),
        a_total=Sum(value, filter=a),
        a_squares=Sum(value * value, filter=a),
        b_n=Count("id", filter=b),
        b_total=Sum(value, filter=b),
        b_squares=Sum(value * value, filter=b),
    )
    return tuple(  # type: ignore[return-value]
        Group(
            subjects=figures[f"{side}_n"],
            total=figures[f"{side}_total"] or 0.0,
            squares=(figures[f"{side}_squares"] or 0.0) if kind != BINARY else 0.0,
        )
        for side in ("a", "b")
    )


def sop_impact(*, sop: Sop, now: datetime | None = None) -> Impact:
    """Runs whose window has passed, by intent: a subject chosen for the SOP counts as
    treated whatever became of its run (cancelled too), so the groups stay comparable."""
    kpi = KPIS[sop.kpi]
    outcome = outcome_of(sop.kpi, sop.subject_type)
    if outcome is None:
        raise DomainError(
            field="kpi",
            message=_("%(kpi)s is not measured subject by subject; its effect cannot be computed.")
            % {"kpi": kpi.label},
        )
    now = now or timezone.now()
    window = sop.kpi_window_days or kpi.default_window or DEFAULT_WINDOW_DAYS
    closed = Run.objects.filter(
        sop=sop, subject_type=sop.subject_type, created_at__lte=now - timedelta(days=window)
    )
    expression = outcome_expression(sop.kpi, sop.subject_type, window)
    held = Q(state=RunState.HELD_OUT)
    published = ~held & Q(pilot=False)
    currency = business_get().currency
    recent = Run.objects.filter(sop=sop, created_at__gte=now - timedelta(days=30)).count() / 30
    holdout = pilot = None
    holdout_text = pilot_text = ""
    if sop.holdout_percent:
        treated, held_out = _groups(
            closed, expression, outcome.kind, a=published | (~held & Q(pilot=True)), b=held
        )
        holdout = compare(kpi, outcome.kind, treated, held_out)
        holdout_text = verdict(holdout, currency=currency, per_day=recent)
    if closed.filter(pilot=True).exists():
        piloted, standing = _groups(
            closed, expression, outcome.kind, a=~held & Q(pilot=True), b=published
        )
        pilot = compare(kpi, outcome.kind, piloted, standing)
        pilot_text = verdict(pilot, currency=currency, per_day=recent)
    if holdout is None and pilot is None:
        holdout_text = _("The SOP holds nobody out, so there is nothing to compare its runs with.")
    return Impact(
        sop=sop,
        window_days=window,
        holdout=holdout,
        pilot=pilot,
        holdout_verdict=holdout_text,
        pilot_verdict=pilot_text,
    )


def sop_impact_of(*, sop_id: int) -> Impact:
    sop = Sop.objects.filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("There is no such SOP."))
    return sop_impact(sop=sop)
