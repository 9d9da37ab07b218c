from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.analytics import services
from procedo.analytics.forms import GoalForm, KpiForm, PeriodForm
from procedo.analytics.periods import period_clean
from procedo.analytics.registry import goal_panels
from procedo.analytics.selectors import (
    cohort_retention,
    goal_chart,
    goal_get,
    goal_progress,
    goals_list,
    kpi_get,
    kpis_read,
    revenue_by_country,
)
from procedo.analytics.series import (
    COMPARISONS,
    MAX_SERIES_DAYS,
    KpiSeries,
    kpi_series,
    series_chart,
    series_csv_columns,
)
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.exports import export_response
from procedo.core.forms import filters_valid, refusal_add


@requires("analytics.view")
def overview(request: HttpRequest) -> HttpResponse:
    """Every KPI of the catalog for a period, against the period before, and the cohorts."""
    business = business_get()
    # Bound even when empty: no choice at all means the last 30 days.
    form = PeriodForm(request.GET, today=timezone.localdate())
    context = {"form": form, "currency": business.currency}
    if form.is_valid():
        try:
            period = period_clean(
                first=form.cleaned_data["first"],
                last=form.cleaned_data["last"],
                zone=business.zone,
            )
        except DomainError as refused:
            refusal_add(form, refused.field, refused.message)
        else:
            cohorts = cohort_retention(period=period)
            longest = max((len(cohort.retained) for cohort in cohorts), default=1)
            context |= {
                "period": period,
                "readings": kpis_read(period=period),
                "cohorts": cohorts,
                "countries": revenue_by_country(period=period),
                # Month 0 is the cohort itself (its size); the columns are the months after.
                "offsets": range(1, longest),
            }
    return render(request, "analytics/overview.html", context, status=422 if form.errors else 200)


def _goals_page(request: HttpRequest, form: GoalForm) -> HttpResponse:
    business = business_get()
    today = timezone.localdate()
    progress = [goal_progress(goal, today=today, zone=business.zone) for goal in goals_list()]
    return render(
        request,
        "analytics/goals.html",
        {
            "form": form,
            "progress": progress,
            "currency": business.currency,
            "may_manage": user_can(request.user, "goals.manage"),
        },
        status=422 if form.errors else 200,
    )


@requires("analytics.view")
def goals(request: HttpRequest) -> HttpResponse:
    """The active goals with how far each is from its target, and a form to set one."""
    return _goals_page(request, GoalForm())


@require_POST
@requires("goals.manage")
def goal_create(request: HttpRequest) -> HttpResponse:
    form = GoalForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            goal = services.goal_create(
                name=data["name"],
                kpi=data["kpi"],
                kpi_window_days=data["kpi_window_days"],
                target=data["target"],
                deadline=data["deadline"],
                focus_reason=data["focus_reason"],
                actor=request.user,
                idempotency_key=f"ui:{data['form_token']}",
            )
        except DomainError as refused:
            refusal_add(form, refused.field, refused.message)
        else:
            messages.success(request, _("Goal set."))
            return redirect("analytics:goal", goal_id=goal.pk)
    return _goals_page(request, form)


@requires("analytics.view")
def goal(request: HttpRequest, goal_id: int) -> HttpResponse:
    business = business_get()
    progress = goal_progress(goal_get(goal_id), today=timezone.localdate(), zone=business.zone)
    chart = goal_chart(progress, currency=business.currency)
    return render(
        request,
        "analytics/goal.html",
        {
            "progress": progress,
            "chart": chart,
            "panels": goal_panels(progress.goal),
            "currency": business.currency,
            "may_manage": user_can(request.user, "goals.manage"),
        },
    )


@require_POST
@requires("goals.manage")
def goal_state(request: HttpRequest, goal_id: int) -> HttpResponse:
    """Mark a goal achieved or dropped, or make it active again."""
    try:
        services.goal_update(
            goal_id=goal_id,
            state=request.POST.get("state", ""),
            focus_reason=request.POST.get("focus_reason", ""),
            actor=request.user,
        )
    except DomainError as refused:
        messages.error(request, refused.message)
    return redirect("analytics:goal", goal_id=goal_id)


def _series(request: HttpRequest, form: KpiForm, code: str) -> KpiSeries:
    """The series the form asks for; a DomainError names the field it refuses."""
    data = form.cleaned_data
    business = business_get()
    period = period_clean(
        first=data["first"], last=data["last"], zone=business.zone, max_days=MAX_SERIES_DAYS
    )
    return kpi_series(
        code=code,
        period=period,
        compare=data["compare"],
        # A KPI without channels has no such field: a channel asked of it is refused.
        channel=data.get("channel", request.GET.get("channel", "")),
        window=data.get("window"),
    )


@requires("analytics.view")
def kpi(request: HttpRequest, code: str) -> HttpResponse:
    """One KPI: its definition, a period against a comparison, a chart, by channel."""
    business = business_get()
    measured = kpi_get(code)
    form = KpiForm(request.GET, today=timezone.localdate(), kpi=measured)
    context: dict[str, object] = {"kpi": measured, "form": form, "currency": business.currency}
    if form.is_valid():
        try:
            series = _series(request, form, code)
        except DomainError as refused:
            refusal_add(form, refused.field, refused.message)
        else:
            context |= {
                "series": series,
                "chart": series_chart(series, currency=business.currency),
                "comparison_label": COMPARISONS[series.compare],
                "csv_query": request.GET.urlencode(),
            }
    return render(request, "analytics/kpi.html", context, status=422 if form.errors else 200)


@requires("analytics.view")
def kpi_csv(request: HttpRequest, code: str) -> StreamingHttpResponse:
    """The KPI page's series as a CSV file: one row a step (at most 62 days, 27 weeks or
    37 months), values as plain numbers in the KPI's unit."""
    measured = kpi_get(code)
    form = KpiForm(request.GET, today=timezone.localdate(), kpi=measured)
    filters_valid(form)
    series = _series(request, form, code)
    return export_response(
        request=request,
        name=f"kpi-{code}",
        fmt="csv",
        columns=series_csv_columns(series),
        rows=series.points,
        finished=lambda _rows, _complete: None,  # figures of the business, no one's data
    )
