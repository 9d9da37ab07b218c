"""What the people who run SOPs say and read: feedback, proposals, My SOPs, recognition."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.core.errors import DomainError, NotFound
from procedo.core.forms import refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.sops.describe import step_text
from procedo.sops.feedback_forms import DeclineForm, FeedbackForm, ProposalForm, ResolveForm
from procedo.sops.models import Proposal, Sop, StepFeedback
from procedo.sops.selectors import audience as audience_selectors
from procedo.sops.selectors import feedback as feedback_selectors
from procedo.sops.selectors import sops as sop_selectors
from procedo.sops.services import acknowledgement as acknowledgement_services
from procedo.sops.services import feedback as feedback_services

# ---------------------------------------------------------------- feedback and proposals


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.POST.get(name) or request.GET.get(name) or ""
    return int(raw) if raw.isdigit() else None


def _back_to_task(task_id: int | None) -> str:
    """The task page the feedback came from (the work app may not have one yet)."""
    if task_id is None:
        return ""
    try:
        return reverse("work:detail", args=[task_id])
    except NoReverseMatch:
        return ""


@requires("sops.feedback")
def feedback(request: HtmxHttpRequest, sop_id: int, step_key: str) -> HttpResponse:
    """Feedback on one step, and a proposal to change it; ?task= and ?run= say where from.

    A plain POST redirects back here; with htmx the card is swapped in place.
    """
    sop = Sop.objects.select_related("owner").filter(pk=sop_id).first()
    if sop is None:
        raise Http404
    task_id, run_id = _int_param(request, "task"), _int_param(request, "run")
    feedback_form, proposal_form = FeedbackForm(), ProposalForm()
    status, error = 200, ""
    try:
        revision = sop_selectors.source_revision(
            sop, step_key=step_key, revision_id=None, task_id=task_id, run_id=run_id
        )
    except DomainError as exc:
        revision, error, status = None, exc.message, 422
    step = next(
        (
            s
            for s in (revision.definition if revision else {}).get("steps", [])
            if s.get("key") == step_key
        ),
        None,
    )
    if revision is not None and step is None:
        error = _("Revision %(n)s of this SOP has no step “%(step)s”.") % {
            "n": revision.number,
            "step": step_key,
        }
        status = 404
    if request.method == "POST" and not error:
        what = request.POST.get("what")
        form: forms.Form
        if what == "proposal":
            form = proposal_form = ProposalForm(request.POST)
        else:
            form = feedback_form = FeedbackForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if what == "proposal":
                    feedback_services.proposal_make(
                        sop_id=sop.pk,
                        step_key=step_key,
                        text=data["text"],
                        actor=request.user,
                        task_id=task_id,
                        run_id=run_id,
                        idempotency_key=f"ui:{data['form_token']}",
                    )
                    thanks = _("Thank you: the SOP's owner will look at your proposal.")
                else:
                    feedback_services.feedback_leave(
                        sop_id=sop.pk,
                        step_key=step_key,
                        kind=data["kind"],
                        text=data["text"],
                        actor=request.user,
                        task_id=task_id,
                        run_id=run_id,
                        idempotency_key=f"ui:{data['form_token']}",
                    )
                    thanks = _("Thank you: your feedback is with the SOP's owner.")
            except DomainError as exc:
                refusal_add(form, exc.field, exc.message)
            else:
                messages.success(request, thanks)
                if not request.htmx:
                    return redirect(request.get_full_path())
                feedback_form, proposal_form = FeedbackForm(), ProposalForm()
        if form.errors:
            status = 422
    context = {
        "sop": sop,
        "revision": revision,
        "step": step,
        "step_key": step_key,
        "step_line": step_text(step, subject_type=sop.subject_type) if step else "",
        "error": error,
        "feedback_form": feedback_form,
        "proposal_form": proposal_form,
        "task_id": task_id,
        "run_id": run_id,
        "task_url": _back_to_task(task_id),
        "recent": feedback_selectors.feedback_of_step(sop_id=sop.pk, step_key=step_key),
    }
    template = "sops/step_feedback.html"
    if request.htmx:
        template += "#step-feedback"
    return render(request, template, context, status=status)


@require_POST
@requires("sops.feedback")
def proposal_create(request: HttpRequest, sop_id: int) -> HttpResponse:
    """A proposal about the SOP as a whole (from its page)."""
    form = ProposalForm(request.POST)
    if form.is_valid():
        try:
            feedback_services.proposal_make(
                sop_id=sop_id,
                text=form.cleaned_data["text"],
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Thank you: the SOP's owner will look at your proposal."))
    else:
        messages.error(request, _("Say what to change, and why."))
    return redirect(reverse("sops:detail", args=[sop_id]) + "#feedback")


def _to_feedback(sop_id: int) -> HttpResponse:
    return redirect(reverse("sops:detail", args=[sop_id]) + "#feedback")


@require_POST
@requires("sops.view")  # the service lets the SOP's owner and authors through
def feedback_resolve(request: HttpRequest, feedback_id: int) -> HttpResponse:
    item = StepFeedback.objects.filter(pk=feedback_id).values_list("sop_id", flat=True).first()
    if item is None:
        raise Http404
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Addressed or dismissed."))
        return _to_feedback(item)
    try:
        feedback_services.feedback_resolve(
            feedback_id=feedback_id,
            state=form.cleaned_data["state"],
            note=form.cleaned_data["note"],
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return _to_feedback(item)


@require_POST
@requires("sops.view")
def proposal_accept(request: HttpRequest, proposal_id: int) -> HttpResponse:
    sop_id = Proposal.objects.filter(pk=proposal_id).values_list("sop_id", flat=True).first()
    if sop_id is None:
        raise Http404
    try:
        draft = feedback_services.proposal_accept(
            proposal_id=proposal_id,
            actor=request.user,
            into_draft=request.POST.get("into_draft") == "1",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _to_feedback(sop_id)
    messages.success(
        request,
        _(
            "Revision %(n)s is a draft with the proposal in its note: "
            "edit it, then send it for review."
        )
        % {"n": draft.number},
    )
    return redirect("sops:revision", revision_id=draft.pk)


@require_POST
@requires("sops.view")
def proposal_decline(request: HttpRequest, proposal_id: int) -> HttpResponse:
    sop_id = Proposal.objects.filter(pk=proposal_id).values_list("sop_id", flat=True).first()
    if sop_id is None:
        raise Http404
    form = DeclineForm(request.POST)
    try:
        feedback_services.proposal_decline(
            proposal_id=proposal_id,
            actor=request.user,
            reason=form.data.get("reason", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return _to_feedback(sop_id)


# ---------------------------------------------------------------- reading and confirming


@require_POST
@requires("sops.view")
def acknowledgement_confirm(request: HttpRequest, revision_id: int) -> HttpResponse:
    try:
        acknowledgement_services.acknowledgement_confirm(
            revision_id=revision_id, actor=request.user
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Confirmed: thank you for reading it."))
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("sops:mine")


@requires("sops.view")
def onboarding(request: HttpRequest) -> HttpResponse:
    """My SOPs: what my role and teams run, to read and confirm; what changed since I did."""
    items = audience_selectors.onboarding_list(user=request.user)  # type: ignore[arg-type]
    return render(
        request,
        "sops/onboarding.html",
        {"items": items, "pending": sum(not item.confirmed for item in items)},
    )


@requires("sops.view")
def recognition(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period") or "month"
    if period not in feedback_selectors.PERIODS:
        period = "month"
    board = feedback_selectors.recognition(period=period)
    return render(
        request,
        "sops/recognition.html",
        {
            "board": board,
            "periods": [(key, str(label)) for key, label in feedback_selectors.PERIODS.items()],
            "until_shown": board.until - timedelta(seconds=1),
        },
    )
