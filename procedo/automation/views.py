"""Run pages: one run with each step's state and timing; cancelling; starting an SOP by hand."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.analytics.forms import PeriodForm
from procedo.analytics.impact import BINARY
from procedo.analytics.periods import period_clean
from procedo.automation import panels, review, selectors
from procedo.automation.forms import RunCancelForm, RunStartForm
from procedo.automation.services import engine, runs
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.core.exports import export_format, filters_known
from procedo.core.forms import refusal_add
from procedo.events.exports import export_stream
from procedo.events.timeline import Names
from procedo.sops import subjects


@requires("sops.view")
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        card = selectors.run_card(run_id=run_id)
    except NotFound:
        raise Http404 from None
    context = {
        "card": card,
        "run": card.run,
        "cancel_form": RunCancelForm(),
        "can_cancel": user_can(request.user, "sops.run")
        and card.run.state in ("running", "waiting"),
    }
    return render(request, "automation/run_detail.html", context)


@require_POST
@requires("sops.run")
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    form = RunCancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        runs.run_cancel(run_id=run_id, actor=request.user, reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The run is cancelled."))
    return redirect("automation:run", run_id=run_id)


@requires("sops.view")
def subject_runs(request: HttpRequest, subject_type: str, subject_id: int) -> HttpResponse:
    """A subject's runs and the SOPs a person may start on it (linked from any subject's card)."""
    context = panels.subject_runs_context(
        subject_type=subject_type, subject_id=subject_id, next_url=request.path
    )
    context.update(
        subject_type=subject_type,
        subject_id=subject_id,
        subject_url=subjects.subject_url(subject_type, subject_id),
        subject_name=Names([]).name(subject_type, subject_id),
    )
    return render(request, "automation/subject_runs.html", context)


@require_POST
@requires("sops.run")
def run_start_manual(request: HttpRequest) -> HttpResponse:
    """Start an SOP on a subject from its card; the form's token makes a double click one run."""
    form = RunStartForm(
        request.POST, sops=selectors.manual_sops_choices(request.POST.get("subject_type", ""))
    )
    if not form.is_valid():
        messages.error(request, _("Choose an SOP to start."))
        return redirect(request.POST.get("next") or "sops:list")
    try:
        run = engine.run_start_manual(
            sop_id=form.cleaned_data["sop_id"],
            subject_type=form.cleaned_data["subject_type"],
            subject_id=form.cleaned_data["subject_id"],
            actor=request.user,
            idempotency_key=f"ui:{form.cleaned_data['form_token']}",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(request.POST.get("next") or "sops:list")
    return redirect("automation:run", run_id=run.pk)


@requires("sops.view")
def run_export(request: HttpRequest, sop_id: int) -> StreamingHttpResponse:
    """An SOP's runs as a file (`?format=csv|xlsx`), with the page's `state` filter."""
    fmt = export_format(request.GET.get("format"))
    applied = filters_known(request.GET, ["state"])
    return export_stream(
        request=request,
        actor=request.user,
        list_name="runs",
        fmt=fmt,
        filters={"sop": sop_id, **applied},
        columns=selectors.RUN_COLUMNS,
        rows=selectors.run_export_rows(sop_id=sop_id, state=applied.get("state", "")),
    )


@requires("sops.view")
def sop_review(request: HttpRequest, sop_id: int) -> HttpResponse:
    """The review meeting's report of one revision over a period (the last 90 days unless
    chosen): the KPI's effect on top, the steps that need attention, then every step."""
    business = business_get()
    query = request.GET.copy()
    query.setdefault("days", "90")
    form = PeriodForm(query, today=timezone.localdate())
    context: dict[str, object] = {"form": form, "currency": business.currency}
    status = 200
    revision_id = request.GET.get("revision")
    if form.is_valid():
        try:
            period = period_clean(
                first=form.cleaned_data["first"],
                last=form.cleaned_data["last"],
                zone=business.zone,
            )
            report = review.sop_review_of(
                sop_id=sop_id,
                revision_id=int(revision_id) if revision_id and revision_id.isdigit() else None,
                period=period,
            )
        except NotFound:
            raise Http404 from None
        except DomainError as refused:
            refusal_add(form, refused.field, refused.message)
            status = 422
        else:
            context |= {
                "report": report,
                "revisions": report.sop.revisions.order_by("-number"),
                "binary": BINARY,
            }
    else:
        status = 422
    return render(request, "automation/review.html", context, status=status)
