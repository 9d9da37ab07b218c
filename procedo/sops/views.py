"""SOP pages: the list, an SOP's card, and authoring a revision one item at a time (thin views)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.models import Team, User
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.automation import selectors as run_selectors
from procedo.core.decorators import requires
from procedo.core.errors import DomainError, NotFound
from procedo.sops import selectors, services
from procedo.sops.definitions import END
from procedo.sops.describe import cancel_text, step_text, trigger_text
from procedo.sops.forms import (
    STEP_FIELDS,
    STEP_KIND_CHOICES,
    TRIGGER_FIELDS,
    CancelRuleForm,
    SopForm,
    StepForm,
    TransitionForm,
    TriggerForm,
    error_field,
)
from procedo.sops.models import RevisionState, Sop

SECTIONS = ("triggers", "cancel_on", "steps")
FORM_CLASSES: dict[str, Any] = {
    "triggers": TriggerForm,
    "cancel_on": CancelRuleForm,
    "steps": StepForm,
}


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
            sop = services.sop_create(**data, actor=request.user, idempotency_key=f"ui:{token}")
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
    state = request.GET.get("state", "")
    try:
        runs = run_selectors.runs_of_sop(
            sop_id=sop_id, state=state, cursor=request.GET.get("cursor") or None
        )
    except DomainError:
        runs = run_selectors.runs_of_sop(sop_id=sop_id, state=state)
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
    return {
        "card": card,
        "sop": sop,
        "runs": runs,
        "state": state,
        "edit_form": extra.get("edit_form") or edit_form,
        "can_author": user_can(request.user, "sops.author"),
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
            services.sop_update(sop_id=sop_id, actor=request.user, **data)
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
        "step_kinds": STEP_KIND_CHOICES,
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
        and user_can(request.user, services.TRANSITIONS[(from_state, to_state)])
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
            revision = services.revision_transition(
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
        draft = services.revision_draft_create(
            sop_id=sop_id,
            actor=request.user,
            based_on_id=int(based_on) if based_on and based_on.isdigit() else None,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sops:detail", sop_id=sop_id)
    return redirect("sops:revision", revision_id=draft.pk)


# ---------------------------------------------------------------- items of a draft


def _item_form(
    section: str, sop: Sop, definition: dict[str, Any], data: Any = None, initial: Any = None
) -> forms.Form:
    if section == "triggers":
        return TriggerForm(data, initial=initial, subject_type=sop.subject_type)
    if section == "cancel_on":
        return CancelRuleForm(data, initial=initial, subject_type=sop.subject_type)
    from procedo.orders.models import OrderStatus

    return StepForm(
        data,
        initial=initial,
        subject_type=sop.subject_type,
        step_keys=[(s["key"], f"{s['title']} [{s['key']}]") for s in definition.get("steps", [])],
        people=_people(),
        teams=_teams(),
        roles=[(str(value), str(label)) for value, label in Role.choices],
        statuses=list(OrderStatus.objects.values_list("code", "label")),
        sops=[(pk, name) for pk, name in Sop.objects.exclude(pk=sop.pk).values_list("pk", "name")],
    )


def _visible_fields(section: str, kind: str) -> list[str]:
    if section == "steps":
        return ["title", *STEP_FIELDS.get(kind, []), "next"]
    if section == "triggers":
        return TRIGGER_FIELDS.get(kind, [])
    return ["event_type", "rules"]


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
    existing = items[index] if index is not None else None
    kind = (existing or {}).get("kind") or request.GET.get("kind") or request.POST.get("kind") or ""
    if section == "steps" and kind not in dict(STEP_KIND_CHOICES):
        kind = "task"
    if section == "triggers" and not kind:
        kind = "event"
    status = 200
    if request.method == "POST":
        form = _item_form(section, revision.sop, definition, data=request.POST)
        if form.is_valid():
            item = form.to_item(key=(existing or {}).get("key", ""))  # type: ignore[attr-defined]
            try:
                saved = services.revision_item_save(
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
        initial: dict[str, Any] = {"kind": kind}
        if existing is not None:
            initial.update(FORM_CLASSES[section].initial_from(existing))
        form = _item_form(section, revision.sop, definition, initial=initial)
    context = {
        "revision": revision,
        "sop": revision.sop,
        "section": section,
        "index": index,
        "kind": kind,
        "form": form,
        "visible": _visible_fields(section, kind),
        "rule_rows": [
            (form[f"rule_{i}_field"], form[f"rule_{i}_op"], form[f"rule_{i}_value"])
            for i in range(5)
            if f"rule_{i}_field" in form.fields
        ],
        "step_kinds": STEP_KIND_CHOICES,
        "end": END,
    }
    return render(request, "sops/item_form.html", context, status=status)


@require_POST
@requires("sops.author")
def revision_item_remove(
    request: HttpRequest, revision_id: int, section: str, index: int
) -> HttpResponse:
    try:
        saved = services.revision_item_remove(
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
        saved = services.revision_item_move(
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
        (pk, label, run_selectors.subject_url(revision.sop.subject_type, pk))
        for pk, label in preview.sample
    ]
    return render(request, "sops/_preview.html", {"preview": preview, "rows": rows})
