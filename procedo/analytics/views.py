from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from procedo.accounts.decorators import requires
from procedo.analytics.forms import PeriodForm
from procedo.analytics.periods import period_clean
from procedo.analytics.selectors import cohort_retention, kpis_read
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
                # Month 0 is the cohort itself (its size); the columns are the months after.
                "offsets": range(1, longest),
            }
    return render(request, "analytics/overview.html", context, status=422 if form.errors else 200)
