"""The people who run an SOP say where a step hurts (feedback) and what to change
(a proposal). The SOP's owner, or anyone who writes SOPs, triages them; an
accepted proposal becomes a draft revision that credits its author (through
Proposal.draft), and the recognition page counts it once that draft is published.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor, actor_person
from procedo.accounts.permissions import user_can
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.core.idempotency import idempotent
from procedo.core.texts import LaterText, later_text_read, text_for_storing
from procedo.events.services.recording import event_record
from procedo.sops.models import (
    FeedbackKind,
    FeedbackState,
    Proposal,
    ProposalState,
    Revision,
    RevisionState,
    Sop,
    StepFeedback,
)
from procedo.sops.selectors import sops as sop_selectors
from procedo.sops.services import revisions

TEXT_MAX = 4000
# Feedback of these kinds says nothing without words.
KINDS_NEEDING_TEXT = (FeedbackKind.FASTER_WAY, FeedbackKind.UNCLEAR, FeedbackKind.OTHER)


def _may_triage(sop: Sop, actor: Actor) -> None:
    if actor_id_of(actor) == sop.owner_id and user_can(actor, "sops.view"):
        return
    if not user_can(actor, "sops.author"):
        raise PermissionDenied(
            field="permission",
            message=_("Only the SOP's owner or someone who writes SOPs may do this."),
        )


def _feedback_permission(actor: Actor) -> None:
    if not user_can(actor, "sops.feedback"):
        raise PermissionDenied(
            field="permission",
            message=_("Your role does not allow this (%(permission)s).")
            % {"permission": "sops.feedback"},
        )


def _text_clean(text: str, *, required: bool, field: str = "text") -> str:
    clean = (text or "").strip()
    if required and not clean:
        raise DomainError(field=field, message=_("Say what happened or what to change."))
    if len(clean) > TEXT_MAX:
        raise DomainError(field=field, message=_("At most 4000 characters."))
    return clean


def _step_keys(revision: Revision) -> list[str]:
    return [str(step.get("key")) for step in (revision.definition or {}).get("steps", [])]


def _step_check(revision: Revision, step_key: str) -> None:
    if step_key not in _step_keys(revision):
        raise DomainError(
            field="step_key",
            message=_("Revision %(n)s of this SOP has no step “%(step)s”.")
            % {"n": revision.number, "step": step_key},
        )


@idempotent("sop.feedback_leave", replay=lambda pk: StepFeedback.objects.get(pk=pk))
@transaction.atomic
def feedback_leave(
    *,
    sop_id: int,
    step_key: str,
    kind: str,
    text: str,
    actor: Actor,
    revision_id: int | None = None,
    task_id: int | None = None,
    run_id: int | None = None,
    idempotency_key: str | None = None,
) -> StepFeedback:
    """Feedback on one step of the revision the person ran ("slow", "a trap", "a faster way")."""
    _feedback_permission(actor)
    sop = sop_selectors.sop_get(sop_id=sop_id)
    if kind not in FeedbackKind.values:
        raise DomainError(
            field="kind",
            message=_("Choose one of: %(kinds)s") % {"kinds": ", ".join(FeedbackKind.values)},
        )
    clean = _text_clean(text, required=kind in KINDS_NEEDING_TEXT)
    step_key = (step_key or "").strip()
    if not step_key:
        raise DomainError(field="step_key", message=_("Which step is it about?"))
    revision = sop_selectors.source_revision(
        sop, step_key=step_key, revision_id=revision_id, task_id=task_id, run_id=run_id
    )
    _step_check(revision, step_key)
    feedback = StepFeedback.objects.create(
        sop=sop,
        revision=revision,
        step_key=step_key,
        author=actor_person(actor),
        kind=kind,
        text=clean,
        task_id=task_id,
        run_id=run_id,
    )
    event_record(
        event_type="sop_feedback.left",
        subject=feedback,
        actor=actor,
        payload={
            "sop_id": sop.pk,
            "revision": revision.number,
            "step_key": step_key,
            "kind": kind,
            "task_id": task_id,
            "run_id": run_id,
        },
        idempotency_key=idempotency_key,
    )
    return feedback


@transaction.atomic
def feedback_resolve(*, feedback_id: int, state: str, actor: Actor, note: str = "") -> StepFeedback:
    """Mark feedback addressed or dismissed: who and when are kept."""
    feedback = StepFeedback.objects.select_related("sop").filter(pk=feedback_id).first()
    if feedback is None:
        raise NotFound(field="feedback_id", message=_("No feedback %(id)s.") % {"id": feedback_id})
    _may_triage(feedback.sop, actor)
    if state not in (FeedbackState.ADDRESSED, FeedbackState.DISMISSED):
        raise DomainError(field="state", message=_("Addressed or dismissed."))
    note = _text_clean(note, required=False, field="note")
    now = timezone.now()
    changed = StepFeedback.objects.filter(pk=feedback.pk, state=FeedbackState.OPEN).update(
        state=state, resolved_by=actor, resolved_at=now, resolution=note
    )
    if changed != 1:
        raise Conflict(
            field="state",
            message=_("This feedback was already %(state)s.")
            % {"state": feedback.get_state_display().lower()},
        )
    event_record(
        event_type="sop_feedback.resolved",
        subject=feedback,
        actor=actor,
        payload={"sop_id": feedback.sop_id, "step_key": feedback.step_key, "state": state},
    )
    feedback.refresh_from_db()
    return feedback


@idempotent("sop.proposal_make", replay=lambda pk: Proposal.objects.get(pk=pk))
@transaction.atomic
def proposal_make(
    *,
    sop_id: int,
    text: str,
    actor: Actor,
    step_key: str = "",
    revision_id: int | None = None,
    task_id: int | None = None,
    run_id: int | None = None,
    idempotency_key: str | None = None,
) -> Proposal:
    """Propose a change to the SOP (or one of its steps): what to change and why."""
    _feedback_permission(actor)
    sop = sop_selectors.sop_get(sop_id=sop_id)
    clean = _text_clean(text, required=True)
    step_key = (step_key or "").strip()
    revision = sop_selectors.source_revision(
        sop, step_key=step_key, revision_id=revision_id, task_id=task_id, run_id=run_id
    )
    if step_key:
        _step_check(revision, step_key)
    proposal = Proposal.objects.create(
        sop=sop,
        based_on=revision,
        step_key=step_key,
        author=actor_person(actor),
        text=clean,
        task_id=task_id,
        run_id=run_id,
    )
    event_record(
        event_type="sop_proposal.made",
        subject=proposal,
        actor=actor,
        payload={"sop_id": sop.pk, "revision": revision.number, "step_key": step_key},
        idempotency_key=idempotency_key,
    )
    _tell(
        sop.owner_id,
        actor=actor,
        title=LaterText(
            gettext_noop("%(author)s proposes a change to “%(sop)s”"),
            {"author": str(actor), "sop": sop.name},
        ),
        proposal=proposal,
        occasion="made",
    )
    return proposal


def _proposal_get(proposal_id: int) -> Proposal:
    proposal = (
        Proposal.objects.select_related("sop", "author", "draft").filter(pk=proposal_id).first()
    )
    if proposal is None:
        raise NotFound(field="proposal_id", message=_("No proposal %(id)s.") % {"id": proposal_id})
    return proposal


def _proposal_open_check(proposal: Proposal) -> None:
    if proposal.state == ProposalState.DECLINED:
        raise Conflict(field="state", message=_("This proposal was declined."))
    if proposal.state == ProposalState.ACCEPTED:
        raise Conflict(
            field="state",
            message=_("This proposal was accepted already (revision %(n)s).")
            % {"n": proposal.draft.number if proposal.draft else "—"},
        )


def _proposal_decide(proposal: Proposal, *, actor: Actor, **fields: Any) -> None:
    changed = Proposal.objects.filter(pk=proposal.pk, state=ProposalState.OPEN).update(
        decided_by=actor, decided_at=timezone.now(), **fields
    )
    if changed != 1:
        raise Conflict(field="state", message=_("The proposal was decided meanwhile; reload it."))


@transaction.atomic
def proposal_accept(*, proposal_id: int, actor: Actor, into_draft: bool = False) -> Revision:
    """Turn a proposal into a new draft (copying the current definition) that credits its author.

    The owner then edits the draft. If the SOP has a draft already, this says
    so and changes nothing, unless `into_draft`: then that draft takes the
    proposal (and its credit) too.
    """
    proposal = _proposal_get(proposal_id)
    sop = proposal.sop
    _may_triage(sop, actor)
    _proposal_open_check(proposal)
    # Kept as the system's sentence with the author and their words: read in each reader's
    # language (the revision's "what changed").
    author = (
        str(proposal.author) if proposal.author else LaterText(gettext_noop("someone who left"))
    )
    note = LaterText(
        gettext_noop("Proposal by %(author)s: %(text)s"), {"author": author, "text": proposal.text}
    )
    existing = (
        Revision.objects.filter(sop=sop, state=RevisionState.DRAFT).order_by("-number").first()
    )
    if existing is not None and not into_draft:
        raise Conflict(
            field="draft",
            message=_(
                "Revision %(n)s is a draft already: finish or discard it first, "
                "or add this proposal to that draft."
            )
            % {"n": existing.number},
        )
    if existing is not None:
        draft = existing
        before: str | LaterText = (
            later_text_read(draft.note_text) if draft.note_text else draft.note
        )
        joined = (
            LaterText(gettext_noop("%(before)s; %(after)s"), {"before": before, "after": note})
            if draft.note
            else note
        )
        written, stored = text_for_storing(joined)
        Revision.objects.filter(pk=draft.pk).update(
            note=written[:500], note_text=stored, updated_at=timezone.now()
        )
    else:
        draft = revisions.revision_draft_create(sop_id=sop.pk, actor=actor, note=note)
    _proposal_decide(proposal, actor=actor, state=ProposalState.ACCEPTED, draft=draft)
    event_record(
        event_type="sop_proposal.accepted",
        subject=proposal,
        actor=actor,
        payload={
            "sop_id": sop.pk,
            "draft": draft.number,
            "author_id": proposal.author_id,
        },
    )
    _tell(
        proposal.author_id,
        actor=actor,
        title=LaterText(
            gettext_noop("Your proposal for “%(sop)s” became revision %(n)s"),
            {"sop": sop.name, "n": draft.number},
        ),
        proposal=proposal,
        occasion="accepted",
    )
    draft.refresh_from_db()
    return draft


@transaction.atomic
def proposal_decline(*, proposal_id: int, actor: Actor, reason: str) -> Proposal:
    """Decline with a reason the author sees."""
    proposal = _proposal_get(proposal_id)
    _may_triage(proposal.sop, actor)
    _proposal_open_check(proposal)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(field="reason", message=_("Say why, so its author learns something."))
    reason = _text_clean(reason, required=True, field="reason")
    _proposal_decide(proposal, actor=actor, state=ProposalState.DECLINED, decline_reason=reason)
    event_record(
        event_type="sop_proposal.declined",
        subject=proposal,
        actor=actor,
        payload={"sop_id": proposal.sop_id, "reason": reason},
    )
    _tell(
        proposal.author_id,
        actor=actor,
        title=LaterText(
            gettext_noop("Your proposal for “%(sop)s” was declined: %(reason)s"),
            {"sop": proposal.sop.name, "reason": reason},
        ),
        proposal=proposal,
        occasion="declined",
    )
    proposal.refresh_from_db()
    return proposal


def _tell(
    recipient_id: int | None, *, actor: Actor, title: LaterText, proposal: Proposal, occasion: str
) -> None:
    """A proposal's news to one person (not to whoever caused it)."""
    from procedo.collab.services import notify

    if recipient_id is None or recipient_id == actor_id_of(actor):
        return
    notify(
        recipient_ids=[recipient_id],
        kind="proposal",
        title=title,
        url=reverse("sops:detail", args=[proposal.sop_id]) + "#feedback",
        subject_type="sop",
        subject_id=proposal.sop_id,
        key=f"sop-proposal:{proposal.pk}:{occasion}",
    )
