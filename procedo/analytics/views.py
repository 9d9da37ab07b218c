from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.analytics import services
from procedo.analytics.forms import GoalForm, PeriodForm
from procedo.analytics.periods import period_clean
from procedo.analytics.registry import goal_panels
from procedo.analytics.selectors import (
    cohort_retention,
    goal_chart,
    goal_get,
    goal_progress,
    goals_list,
    kpis_read,
    revenue_by_country,
)
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add


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
