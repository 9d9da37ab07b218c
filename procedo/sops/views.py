"""SOP pages: the list, an SOP's card, and authoring a revision one item at a time (thin views)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.models import Team, User
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.core.errors import DomainError, NotFound
from procedo.core.forms import refusal_add
from procedo.sops import selectors, subjects
from procedo.sops.definitions import END
from procedo.sops.describe import cancel_text, step_text, trigger_text
from procedo.sops.feedback_forms import DeclineForm, FeedbackForm, ProposalForm, ResolveForm
from procedo.sops.forms.checklist import item_rows
from procedo.sops.forms.common import ItemForm, error_field, rule_rows
from procedo.sops.forms.sop import SopForm, TransitionForm
from procedo.sops.forms.steps import StepChoices, item_for_form
from procedo.sops.forms.triggers import CancelRuleForm
from procedo.sops.kinds import STEP_KINDS, TRIGGER_KINDS, kind_choices
from procedo.sops.models import Proposal, RevisionState, Sop, StepFeedback
from procedo.sops.registry import sop_panels
from procedo.sops.services import acknowledgement as acknowledgement_services
from procedo.sops.services import feedback as feedback_services
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services

SECTIONS = ("triggers", "cancel_on", "steps")


def _people() -> list[tuple[int, str]]:
    return [(user.pk, str(user)) for user in User.objects.filter(is_active=True)]


def _teams() -> list[tuple[int, str]]:
    return [(team.pk, team.name) for team in Team.objects.all()]


def _form_error(form: forms.Form, exc: DomainError) -> None:
    form.add_error(error_field(form, exc.field), exc.message)


# ---------------------------------------------------------------- list and card


@requires("sops.view")
def sop_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


def _list_page(
    request: HttpRequest, form: SopForm | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "rows": selectors.sop_list(),
        "form": form or SopForm(people=_people(), initial={"owner_id": request.user.pk}),
        "can_author": user_can(request.user, "sops.author"),
    }
    return render(request, "sops/sop_list.html", context, status=status)


@require_POST
@requires("sops.author")
def sop_create(request: HttpRequest) -> HttpResponse:
    form = SopForm(request.POST, people=_people())
    if form.is_valid():
        data = dict(form.cleaned_data)
        token = data.pop("form_token")
        try:
            sop = sop_services.sop_create(**data, actor=request.user, idempotency_key=f"ui:{token}")
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return redirect("sops:revision", revision_id=sop.revisions.get(number=1).pk)
    return _list_page(request, form=form, status=422)


def _card_context(request: HttpRequest, sop_id: int, **extra: Any) -> dict[str, Any]:
    try:
        card = selectors.sop_card(sop_id=sop_id)
    except NotFound:
        raise Http404 from None
    sop = card.sop
    edit_form = SopForm(
        people=_people(),
        editing=True,
        initial={
            "name": sop.name,
            "owner_id": sop.owner_id,
            "goal": sop.goal,
            "why": sop.why,
            "kpi": sop.kpi,
            "kpi_target": sop.kpi_target,
            "kpi_window_days": sop.kpi_window_days,
            "holdout_percent": sop.holdout_percent,
        },
    )
    acks = selectors.acknowledgement_board(sop=sop)
    return {
        "card": card,
        "sop": sop,
        "panels": sop_panels(request, card.sop),
        "edit_form": extra.get("edit_form") or edit_form,
        "can_author": user_can(request.user, "sops.author"),
        "feedback": selectors.sop_feedback(sop=sop, revision=card.current),
        "can_triage": request.user.pk == sop.owner_id or user_can(request.user, "sops.author"),
        "can_feedback": user_can(request.user, "sops.feedback"),
        "proposal_form": ProposalForm(),
        "acks": acks,
        "i_confirmed": acks.revision is not None
        and acks.revision.acknowledgements.filter(user_id=request.user.pk or 0).exists(),
    }


@requires("sops.view")
def sop_detail(request: HttpRequest, sop_id: int) -> HttpResponse:
    return render(request, "sops/sop_detail.html", _card_context(request, sop_id))


@require_POST
@requires("sops.author")
def sop_update(request: HttpRequest, sop_id: int) -> HttpResponse:
    form = SopForm(request.POST, people=_people(), editing=True)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("form_token")
        try:
            sop_services.sop_update(sop_id=sop_id, actor=request.user, **data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("sops:detail", sop_id=sop_id)
    context = _card_context(request, sop_id, edit_form=form)
    return render(request, "sops/sop_detail.html", context, status=422)


# ---------------------------------------------------------------- a revision


def _revision_context(request: HttpRequest, revision_id: int, **extra: Any) -> dict[str, Any]:
    try:
        revision = selectors.revision_get(revision_id=revision_id)
    except NotFound:
        raise Http404 from None
    sop = revision.sop
    definition = revision.definition or {}
    subject_type = sop.subject_type
    others = list(sop.revisions.exclude(pk=revision.pk).order_by("-number"))
    other_id = request.GET.get("compare")
    diff = None
    if other_id and other_id.isdigit():
        try:
            diff = selectors.revision_diff(revision_id=revision.pk, other_id=int(other_id))
        except DomainError:
            diff = None
    elif revision.based_on_id:
        diff = selectors.revision_diff(revision_id=revision.pk, other_id=revision.based_on_id)
    return {
        "revision": revision,
        "sop": sop,
        "triggers": [
            (i, t, trigger_text(t, subject_type=subject_type))
            for i, t in enumerate(definition.get("triggers", []))
        ],
        "cancel_rules": [
            (i, r, cancel_text(r, subject_type=subject_type))
            for i, r in enumerate(definition.get("cancel_on", []))
        ],
        "steps": [
            (i, s, step_text(s, subject_type=subject_type))
            for i, s in enumerate(definition.get("steps", []))
        ],
        "editable": revision.state == RevisionState.DRAFT and user_can(request.user, "sops.author"),
        "can_author": user_can(request.user, "sops.author"),
        "moves": _moves(request, revision.state),
        "transition_form": extra.get("transition_form") or TransitionForm(teams=_teams()),
        "transitions": list(revision.transitions.select_related("actor").order_by("id")),
        "others": others,
        "diff": diff,
        "compare": other_id or (revision.based_on_id and str(revision.based_on_id)) or "",
        "step_kinds": kind_choices(STEP_KINDS),
        "credits": list(revision.proposals.select_related("author").order_by("id")),
    }


_MOVE_LABELS = {
    (RevisionState.DRAFT, RevisionState.REVIEW): _("Send for review"),
    (RevisionState.REVIEW, RevisionState.DRAFT): _("Request changes"),
    (RevisionState.REVIEW, RevisionState.APPROVED): _("Approve"),
    (RevisionState.APPROVED, RevisionState.PILOT): _("Start a pilot"),
    (RevisionState.APPROVED, RevisionState.PUBLISHED): _("Publish"),
    (RevisionState.PILOT, RevisionState.PUBLISHED): _("Publish"),
    (RevisionState.PILOT, RevisionState.APPROVED): _("End the pilot"),
    (RevisionState.PUBLISHED, RevisionState.RETIRED): _("Retire"),
    (RevisionState.PILOT, RevisionState.RETIRED): _("Retire"),
    (RevisionState.APPROVED, RevisionState.RETIRED): _("Retire"),
    (RevisionState.DRAFT, RevisionState.RETIRED): _("Discard the draft"),
}


def _moves(request: HttpRequest, state: str) -> list[tuple[str, str]]:
    return [
        (to_state, str(label))
        for (from_state, to_state), label in _MOVE_LABELS.items()
        if from_state == state
        and user_can(request.user, revision_services.TRANSITIONS[(from_state, to_state)])
    ]


@requires("sops.view")
def revision_detail(request: HttpRequest, revision_id: int) -> HttpResponse:
    return render(request, "sops/revision_detail.html", _revision_context(request, revision_id))


@require_POST
@requires("sops.author")
def revision_transition(request: HttpRequest, revision_id: int) -> HttpResponse:
    form = TransitionForm(request.POST, teams=_teams())
    if form.is_valid():
        try:
            revision = revision_services.revision_transition(
                revision_id=revision_id,
                to_state=form.cleaned_data["to_state"],
                actor=request.user,
                comment=form.cleaned_data["comment"],
                pilot_team_id=form.cleaned_data["pilot_team_id"],
                pilot_percent=form.cleaned_data["pilot_percent"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                _("Revision %(n)s: %(state)s.")
                % {
                    "n": revision.number,
                    "state": revision.get_state_display(),
                },
            )
            return redirect("sops:revision", revision_id=revision.pk)
    context = _revision_context(request, revision_id, transition_form=form)
    return render(request, "sops/revision_detail.html", context, status=422)


@require_POST
@requires("sops.author")
def revision_draft_create(request: HttpRequest, sop_id: int) -> HttpResponse:
    based_on = request.POST.get("based_on_id")
    try:
        draft = revision_services.revision_draft_create(
            sop_id=sop_id,
            actor=request.user,
            based_on_id=int(based_on) if based_on and based_on.isdigit() else None,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sops:detail", sop_id=sop_id)
    return redirect("sops:revision", revision_id=draft.pk)


# ---------------------------------------------------------------- items of a draft


def _form_class(section: str, kind: str) -> type[ItemForm]:
    if section == "triggers":
        return TRIGGER_KINDS[kind].form
    if section == "cancel_on":
        return CancelRuleForm
    return STEP_KINDS[kind].form


def _item_form(
    section: str,
    kind: str,
    sop: Sop,
    definition: dict[str, Any],
    data: Any = None,
    initial: Any = None,
) -> ItemForm:
    if section != "steps":
        form_class = _form_class(section, kind)
        return form_class(data, initial=initial, kind=kind, subject_type=sop.subject_type)
    from procedo.messaging.models import Template
    from procedo.orders.models import OrderStatus

    choices = StepChoices(
        subject_type=sop.subject_type,
        step_keys=[(s["key"], f"{s['title']} [{s['key']}]") for s in definition.get("steps", [])],
        people=_people(),
        teams=_teams(),
        roles=[(str(value), str(label)) for value, label in Role.choices],
        statuses=list(OrderStatus.objects.values_list("code", "label")),
        sops=[(pk, name) for pk, name in Sop.objects.exclude(pk=sop.pk).values_list("pk", "name")],
        templates=[
            (key, f"{name} ({channel})")
            for key, name, channel in Template.objects.values_list("key", "name", "channel")
        ],
    )
    return STEP_KINDS[kind].form(data, initial=initial, kind=kind, choices=choices)


@requires("sops.author")
def revision_item(
    request: HttpRequest, revision_id: int, section: str, index: int | None = None
) -> HttpResponse:
    """Add (index None) or edit one trigger, cancel rule or step of a draft."""
    if section not in SECTIONS:
        raise Http404
    try:
        revision = selectors.revision_get(revision_id=revision_id)
    except NotFound:
        raise Http404 from None
    definition = revision.definition or {}
    items = definition.get(section, [])
    if index is not None and not 0 <= index < len(items):
        raise Http404
    existing = item_for_form(section, items[index]) if index is not None else None
    kind = (existing or {}).get("kind") or request.GET.get("kind") or request.POST.get("kind") or ""
    if section == "steps" and kind not in STEP_KINDS:
        kind = "task"
    if section == "triggers" and kind not in TRIGGER_KINDS:
        kind = "event"
    status = 200
    if request.method == "POST":
        form = _item_form(section, kind, revision.sop, definition, data=request.POST)
        if form.is_valid():
            item = form.to_item(key=(existing or {}).get("key", ""))
            try:
                saved = revision_services.revision_item_save(
                    revision_id=revision.pk,
                    section=section,
                    item=item,
                    index=index,
                    actor=request.user,
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                if saved.pk != revision.pk:
                    messages.info(request, _("Live revisions never change: this is a new draft."))
                return redirect("sops:revision", revision_id=saved.pk)
        status = 422
    else:
        initial = _form_class(section, kind).initial_from(existing) if existing else {}
        form = _item_form(section, kind, revision.sop, definition, initial=initial)
    context = {
        "revision": revision,
        "sop": revision.sop,
        "section": section,
        "index": index,
        "kind": kind,
        "form": form,
        "visible": form.visible(),
        "rule_rows": rule_rows(form),
        "item_rows": item_rows(form),
        "step_kinds": kind_choices(STEP_KINDS),
        "trigger_kinds": kind_choices(TRIGGER_KINDS),
        "end": END,
    }
    return render(request, "sops/item_form.html", context, status=status)


@require_POST
@requires("sops.author")
def revision_item_remove(
    request: HttpRequest, revision_id: int, section: str, index: int
) -> HttpResponse:
    try:
        saved = revision_services.revision_item_remove(
            revision_id=revision_id, section=section, index=index, actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sops:revision", revision_id=revision_id)
    return redirect("sops:revision", revision_id=saved.pk)


@require_POST
@requires("sops.author")
def revision_item_move(
    request: HttpRequest, revision_id: int, section: str, index: int
) -> HttpResponse:
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        saved = revision_services.revision_item_move(
            revision_id=revision_id, section=section, index=index, offset=offset, actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sops:revision", revision_id=revision_id)
    return redirect("sops:revision", revision_id=saved.pk)


@requires("sops.view")
def trigger_preview(request: HttpRequest, revision_id: int, trigger_key: str) -> HttpResponse:
    """Which subjects the trigger would match now (an htmx partial)."""
    try:
        preview = selectors.trigger_preview(revision_id=revision_id, trigger_key=trigger_key)
    except DomainError as exc:
        return render(request, "sops/_preview.html", {"error": exc.message}, status=422)
    revision = selectors.revision_get(revision_id=revision_id)
    rows = [
        (pk, label, subjects.subject_url(revision.sop.subject_type, pk))
        for pk, label in preview.sample
    ]
    return render(request, "sops/_preview.html", {"preview": preview, "rows": rows})


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
def feedback(request: HttpRequest, sop_id: int, step_key: str) -> HttpResponse:
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
        revision = selectors.source_revision(
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
                if not request.htmx:  # type: ignore[attr-defined]
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
        "recent": selectors.feedback_of_step(sop_id=sop.pk, step_key=step_key),
    }
    template = "sops/step_feedback.html"
    if request.htmx:  # type: ignore[attr-defined]
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
    items = selectors.onboarding_list(user=request.user)  # type: ignore[arg-type]
    return render(
        request,
        "sops/onboarding.html",
        {"items": items, "pending": sum(not item.confirmed for item in items)},
    )


@requires("sops.view")
def recognition(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period") or "month"
    if period not in selectors.PERIODS:
        period = "month"
    board = selectors.recognition(period=period)
    return render(
        request,
        "sops/recognition.html",
        {
            "board": board,
            "periods": [(key, str(label)) for key, label in selectors.PERIODS.items()],
            "until_shown": board.until - timedelta(seconds=1),
        },
    )


# ---------------------------------------------------------------- the library of ready SOPs


@requires("sops.view")
def library(request: HttpRequest) -> HttpResponse:
    from procedo.sops import library as sop_library
    from procedo.sops.kpis import KPIS
    from procedo.sops.models import Revision, SubjectType

    installed = sop_library.library_installed()
    latest: dict[int, Any] = {}
    for revision in Revision.objects.filter(sop__in=list(installed.values())).order_by("-number"):
        latest.setdefault(revision.sop_id, revision)
    entries = []
    for key, source in sop_library.LIBRARY.items():
        entry = source.translated()  # in the reader's language
        definition = entry.definition
        subject_type = entry.subject_type
        sop = installed.get(key)
        entries.append(
            {
                "key": key,
                "entry": entry,
                "subject": SubjectType(subject_type).label,
                "kpi": KPIS[entry.kpi].label,
                "kpi_unit": KPIS[entry.kpi].unit,
                "triggers": [
                    trigger_text(t, subject_type=subject_type) for t in definition["triggers"]
                ],
                "cancel_rules": [
                    cancel_text(r, subject_type=subject_type)
                    for r in definition.get("cancel_on", [])
                ],
                "steps": [
                    (step["title"], step_text(step, subject_type=subject_type))
                    for step in definition["steps"]
                ],
                "people_steps": sum(
                    STEP_KINDS[step["kind"]].by_person for step in definition["steps"]
                ),
                "sop": sop,
                "revision": latest.get(sop.pk) if sop else None,
            }
        )
    return render(
        request,
        "sops/library.html",
        {
            "entries": entries,
            "pending": sop_library.PENDING,
            "missing": sum(item["sop"] is None for item in entries),
            "can_author": user_can(request.user, "sops.author"),
        },
    )


@require_POST
@requires("sops.author")
def library_install(request: HttpRequest) -> HttpResponse:
    from procedo.sops import library as sop_library

    keys = None if request.POST.get("all") else request.POST.getlist("key")
    try:
        result = sop_library.library_install(keys=keys, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sops:library")
    if result:
        messages.success(
            request,
            _("Installed as drafts: %(names)s. Adapt each, then send it for review.")
            % {"names": ", ".join(sop.name for sop in result)},
        )
    if result.already:
        messages.info(
            request,
            _("Already installed, left as they are: %(names)s.")
            % {"names": ", ".join(sop.name for sop in result.already)},
        )
    if len(result) == 1 and not result.already:
        return redirect("sops:revision", revision_id=result[0].revisions.get().pk)
    return redirect("sops:library")
