"""SOP pages: the list, an SOP's card, and authoring a revision one item at a time (thin views)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.models import Team, User
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.analytics.models import GoalState
from procedo.analytics.selectors import goals_list
from procedo.core.errors import DomainError, NotFound
from procedo.sops import knowledge_links, subjects
from procedo.sops.definitions import END
from procedo.sops.describe import (
    cancel_text,
    step_for_people,
    step_text,
    step_titles,
    trigger_text,
)
from procedo.sops.feedback_forms import ProposalForm
from procedo.sops.forms.checklist import item_rows
from procedo.sops.forms.common import ItemForm, error_field, rule_rows
from procedo.sops.forms.sop import PaceForm, SopForm, TransitionForm
from procedo.sops.forms.steps import StepChoices, item_for_form
from procedo.sops.forms.triggers import CancelRuleForm
from procedo.sops.kinds import STEP_KINDS, TRIGGER_KINDS, kind_choices
from procedo.sops.models import RevisionState, Sop
from procedo.sops.registry import sop_panels
from procedo.sops.selectors import audience as audience_selectors
from procedo.sops.selectors import feedback as feedback_selectors
from procedo.sops.selectors import sops as sop_selectors
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services
from procedo.sops.views.messages import messages_context

SECTIONS = ("triggers", "cancel_on", "steps")


def _people() -> list[tuple[int, str]]:
    return [(user.pk, str(user)) for user in User.objects.filter(is_active=True)]


def _goals() -> list[tuple[int, str]]:
    """Every goal, active ones first: an SOP may still point at one achieved or dropped."""
    goals = sorted(goals_list(state=""), key=lambda goal: goal.state != GoalState.ACTIVE)
    return [
        (
            goal.pk,
            goal.name
            if goal.state == GoalState.ACTIVE
            else f"{goal.name} ({goal.get_state_display()})",
        )
        for goal in goals
    ]


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
        "rows": sop_selectors.sop_list(),
        "to_review": sop_selectors.revisions_awaiting_review(user=request.user),
        "form": form
        or SopForm(people=_people(), goals=_goals(), initial={"owner_id": request.user.pk}),
        "can_author": user_can(request.user, "sops.author"),
    }
    return render(request, "sops/sop_list.html", context, status=status)


@require_POST
@requires("sops.author")
def sop_create(request: HttpRequest) -> HttpResponse:
    form = SopForm(request.POST, people=_people(), goals=_goals())
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
        card = sop_selectors.sop_card(sop_id=sop_id)
    except NotFound:
        raise Http404 from None
    sop = card.sop
    edit_form = SopForm(
        people=_people(),
        goals=_goals(),
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
            "serves_id": sop.serves_id,
        },
    )
    acks = audience_selectors.acknowledgement_board(sop=sop)
    return {
        **messages_context(request, card.current),
        "card": card,
        "sop": sop,
        "panels": sop_panels(request, card.sop),
        "pace_form": extra.get("pace_form")
        or PaceForm(
            initial={
                "pace_limit": sop.pace_limit,
                "pace_period": sop.pace_period,
                "pace_per_assignee": sop.pace_per_assignee,
            }
        ),
        "edit_form": extra.get("edit_form") or edit_form,
        "can_author": user_can(request.user, "sops.author"),
        "feedback": feedback_selectors.sop_feedback(sop=sop, revision=card.current),
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
    form = SopForm(request.POST, people=_people(), goals=_goals(), editing=True)
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


@require_POST
@requires("sops.author")
def sop_pace(request: HttpRequest, sop_id: int) -> HttpResponse:
    form = PaceForm(request.POST)
    if form.is_valid():
        try:
            sop_services.sop_pace_set(
                sop_id=sop_id,
                actor=request.user,
                limit=form.cleaned_data["pace_limit"],
                period=form.cleaned_data["pace_period"],
                per_assignee=form.cleaned_data["pace_per_assignee"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("sops:detail", sop_id=sop_id)
    context = _card_context(request, sop_id, pace_form=form)
    return render(request, "sops/sop_detail.html", context, status=422)


# ---------------------------------------------------------------- a revision


def _revision_context(request: HttpRequest, revision_id: int, **extra: Any) -> dict[str, Any]:
    try:
        revision = sop_selectors.revision_get(revision_id=revision_id)
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
            diff = sop_selectors.revision_diff(revision_id=revision.pk, other_id=int(other_id))
        except DomainError:
            diff = None
    elif revision.based_on_id:
        diff = sop_selectors.revision_diff(revision_id=revision.pk, other_id=revision.based_on_id)
    # Who did not write SOPs reads steps in words: no template code, no step keys.
    can_author = user_can(request.user, "sops.author")
    titles = step_titles(definition)
    return {
        **messages_context(request, revision),
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
            (
                i,
                s,
                step_text(
                    s if can_author else step_for_people(s, titles), subject_type=subject_type
                ),
            )
            for i, s in enumerate(definition.get("steps", []))
        ],
        "editable": revision.state == RevisionState.DRAFT and user_can(request.user, "sops.author"),
        "can_author": user_can(request.user, "sops.author"),
        "moves": _moves(request, revision.state),
        "transition_form": extra.get("transition_form") or TransitionForm(teams=_teams()),
        "backlog": (
            sop_selectors.backlog_preview(revision=revision)
            if revision.state in (RevisionState.APPROVED, RevisionState.PILOT)
            else []
        ),
        "transitions": list(revision.transitions.select_related("actor").order_by("id")),
        "others": others,
        "diff": diff,
        "compare": other_id or (revision.based_on_id and str(revision.based_on_id)) or "",
        "step_kinds": kind_choices(STEP_KINDS),
        "credits": list(revision.proposals.select_related("author").order_by("id")),
    }


# Lazy: built at import, shown in the language of each request.
_MOVE_LABELS = {
    (RevisionState.DRAFT, RevisionState.REVIEW): gettext_lazy("Send for review"),
    (RevisionState.REVIEW, RevisionState.DRAFT): gettext_lazy("Request changes"),
    (RevisionState.REVIEW, RevisionState.APPROVED): gettext_lazy("Approve"),
    (RevisionState.APPROVED, RevisionState.PILOT): gettext_lazy("Start a pilot"),
    (RevisionState.APPROVED, RevisionState.PUBLISHED): gettext_lazy("Publish"),
    (RevisionState.PILOT, RevisionState.PUBLISHED): gettext_lazy("Publish"),
    (RevisionState.PILOT, RevisionState.APPROVED): gettext_lazy("End the pilot"),
    (RevisionState.PUBLISHED, RevisionState.RETIRED): gettext_lazy("Retire"),
    (RevisionState.PILOT, RevisionState.RETIRED): gettext_lazy("Retire"),
    (RevisionState.APPROVED, RevisionState.RETIRED): gettext_lazy("Retire"),
    (RevisionState.DRAFT, RevisionState.RETIRED): gettext_lazy("Discard the draft"),
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
            revision = sop_selectors.revision_get(revision_id=revision_id)
        except NotFound:
            raise Http404 from None
        to_state = form.cleaned_data["to_state"]
        if (
            to_state in (RevisionState.PILOT, RevisionState.PUBLISHED)
            and not form.cleaned_data["backlog"]
            and sop_selectors.backlog_preview(revision=revision)
        ):
            # On the page the publisher always chooses; the API keeps "not asked" for programs.
            form.add_error("backlog", _("Choose what happens to the subjects past the mark."))
    if form.is_valid():
        try:
            revision = revision_services.revision_transition(
                revision_id=revision_id,
                to_state=form.cleaned_data["to_state"],
                actor=request.user,
                comment=form.cleaned_data["comment"],
                pilot_team_id=form.cleaned_data["pilot_team_id"],
                pilot_percent=form.cleaned_data["pilot_percent"],
                backlog=form.cleaned_data["backlog"],
                move_runs=form.cleaned_data["move_runs"],
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
            moved = revision.runs_moved
            if moved is not None:
                messages.info(
                    request,
                    _("Runs moved onto this revision: %(moved)s. Stayed on theirs: %(stayed)s.")
                    % {
                        "moved": ", ".join(map(str, moved.moved)) or "—",
                        "stayed": ", ".join(map(str, moved.stayed)) or "—",
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
        revision = sop_selectors.revision_get(revision_id=revision_id)
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
            item = knowledge_links.item_articles_kept(item, existing)
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
        preview = sop_selectors.trigger_preview(revision_id=revision_id, trigger_key=trigger_key)
    except DomainError as exc:
        return render(request, "sops/_preview.html", {"error": exc.message}, status=422)
    revision = sop_selectors.revision_get(revision_id=revision_id)
    rows = [
        (pk, label, subjects.subject_url(revision.sop.subject_type, pk))
        for pk, label in preview.sample
    ]
    return render(request, "sops/_preview.html", {"preview": preview, "rows": rows})
