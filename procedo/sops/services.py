"""Every write to SOPs and revisions: one transaction each, with its event.

The revision workflow is draft → in review → approved → pilot → published →
retired. A revision out of draft never changes (runs pin it): an edit to it
makes a new draft. Review needs a manager or owner other than the author.
Publishing retires the revision published before; the partial unique
constraints are the last guard when two people publish at once.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.models import Team
from procedo.accounts.permissions import user_can
from procedo.core.bounds import MAX_AMOUNT, number_check
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.core.idempotency import idempotent
from procedo.events.services import event_record
from procedo.sops import selectors
from procedo.sops.kpis import KPIS
from procedo.sops.models import (
    LIVE_STATES,
    Acknowledgement,
    FeedbackKind,
    FeedbackState,
    Proposal,
    ProposalState,
    Revision,
    RevisionState,
    RevisionTransition,
    Sop,
    StepFeedback,
    SubjectType,
)
from procedo.sops.validation import definition_clean

S = RevisionState

# (from, to) → the permission it takes. Review and publishing are the leads' call.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.DRAFT, S.REVIEW): "sops.author",
    (S.REVIEW, S.DRAFT): "sops.author",
    (S.REVIEW, S.APPROVED): "sops.review",
    (S.APPROVED, S.PILOT): "sops.review",
    (S.APPROVED, S.PUBLISHED): "sops.review",
    (S.PILOT, S.PUBLISHED): "sops.review",
    (S.PILOT, S.APPROVED): "sops.review",
    (S.PUBLISHED, S.RETIRED): "sops.review",
    (S.PILOT, S.RETIRED): "sops.review",
    (S.APPROVED, S.RETIRED): "sops.review",
    (S.DRAFT, S.RETIRED): "sops.author",
}
NAME_MAX = 200


def _sop_get(sop_id: int) -> Sop:
    sop = Sop.objects.filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    return sop


def _revision_get(revision_id: int) -> Revision:
    revision = Revision.objects.select_related("sop").filter(pk=revision_id).first()
    if revision is None:
        raise NotFound(field="revision_id", message=_("No revision %(id)s.") % {"id": revision_id})
    return revision


def _clean_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The SOP's own fields, checked; only those given."""
    clean: dict[str, Any] = {}
    if "name" in values:
        name = " ".join(str(values["name"] or "").split())
        if not name:
            raise DomainError(field="name", message=_("An SOP needs a name."))
        if len(name) > NAME_MAX:
            raise DomainError(field="name", message=_("At most 200 characters."))
        clean["name"] = name
    for text in ("goal", "why"):
        if text in values:
            clean[text] = str(values[text] or "").strip()
    if "kpi" in values:
        if values["kpi"] not in KPIS:
            raise DomainError(
                field="kpi",
                message=_("Choose a KPI from the catalog: %(codes)s") % {"codes": ", ".join(KPIS)},
            )
        clean["kpi"] = values["kpi"]
    if "kpi_target" in values:
        raw = values["kpi_target"]
        try:
            clean["kpi_target"] = None if raw in (None, "") else Decimal(str(raw))
            number_check(clean["kpi_target"], field="kpi_target", low=-MAX_AMOUNT, high=MAX_AMOUNT)
        except InvalidOperation:
            raise DomainError(field="kpi_target", message=_("The target is a number.")) from None
    if "kpi_window_days" in values:
        window = values["kpi_window_days"]
        if window is not None and not 1 <= int(window) <= 3650:
            raise DomainError(field="kpi_window_days", message=_("Between 1 and 3650 days."))
        clean["kpi_window_days"] = window
    if "holdout_percent" in values:
        holdout = int(values["holdout_percent"] or 0)
        if not 0 <= holdout <= 50:
            raise DomainError(field="holdout_percent", message=_("Between 0 and 50 percent."))
        clean["holdout_percent"] = holdout
    if "owner_id" in values:
        from procedo.accounts.models import User

        if not User.objects.filter(pk=values["owner_id"], is_active=True).exists():
            raise DomainError(field="owner_id", message=_("No such active person."))
        clean["owner_id"] = values["owner_id"]
    return clean


def _kpi_window_check(kpi: str, window: int | None) -> None:
    if KPIS[kpi].needs_window and not window:
        raise DomainError(
            field="kpi_window_days",
            message=_("%(kpi)s needs its window in days.") % {"kpi": KPIS[kpi].label},
        )


@idempotent("sop.create", replay=lambda pk: Sop.objects.get(pk=pk))
@transaction.atomic
def sop_create(
    *,
    name: str,
    subject_type: str,
    owner_id: int,
    kpi: str,
    actor: Any,
    goal: str = "",
    why: str = "",
    kpi_target: Decimal | str | None = None,
    kpi_window_days: int | None = None,
    holdout_percent: int = 0,
    idempotency_key: str | None = None,
) -> Sop:
    """A new SOP with an empty first draft (revision 1) to write its triggers and steps in."""
    if subject_type not in SubjectType.values:
        raise DomainError(
            field="subject_type", message=_("Runs on an order, a customer or the business.")
        )
    fields = _clean_fields(
        {
            "name": name,
            "goal": goal,
            "why": why,
            "kpi": kpi,
            "kpi_target": kpi_target,
            "kpi_window_days": kpi_window_days,
            "holdout_percent": holdout_percent,
            "owner_id": owner_id,
        }
    )
    _kpi_window_check(fields["kpi"], fields["kpi_window_days"])
    now = timezone.now()
    sop = Sop.objects.create(subject_type=subject_type, created_at=now, updated_at=now, **fields)
    Revision.objects.create(
        sop=sop,
        number=1,
        definition={"triggers": [], "cancel_on": [], "steps": []},
        author=actor if getattr(actor, "pk", None) else None,
        created_at=now,
        updated_at=now,
    )
    event_record(
        event_type="sop.created",
        subject=sop,
        actor=actor,
        payload={"name": sop.name, "subject_type": subject_type, "kpi": sop.kpi},
        idempotency_key=idempotency_key,
    )
    return sop


@transaction.atomic
def sop_update(*, sop_id: int, actor: Any, **changes: Any) -> Sop:
    """Change the SOP's name, owner, goal, why, KPI and target, or holdout (not its subject)."""
    sop = _sop_get(sop_id)
    unknown = set(changes) - {
        "name",
        "goal",
        "why",
        "kpi",
        "kpi_target",
        "kpi_window_days",
        "holdout_percent",
        "owner_id",
    }
    if unknown:
        raise DomainError(field=sorted(unknown)[0], message=_("This cannot be changed."))
    fields = _clean_fields(changes)
    _kpi_window_check(
        fields.get("kpi", sop.kpi), fields.get("kpi_window_days", sop.kpi_window_days)
    )
    changed = {k: v for k, v in fields.items() if getattr(sop, k) != v}
    if not changed:
        return sop
    Sop.objects.filter(pk=sop.pk).update(updated_at=timezone.now(), **changed)
    event_record(
        event_type="sop.updated",
        subject=sop,
        actor=actor,
        payload={k: str(v) if isinstance(v, Decimal) else v for k, v in changed.items()},
    )
    sop.refresh_from_db()
    return sop


def _next_number(sop_id: int) -> int:
    return int(Revision.objects.filter(sop_id=sop_id).aggregate(n=Max("number"))["n"] or 0) + 1


def _touch(sop_id: int) -> None:
    Sop.objects.filter(pk=sop_id).update(updated_at=timezone.now())


@transaction.atomic
def revision_draft_create(
    *, sop_id: int, actor: Any, based_on_id: int | None = None, note: str = ""
) -> Revision:
    """A new draft copying `based_on` (default: the published revision, else the latest)."""
    sop = _sop_get(sop_id)
    revisions = Revision.objects.filter(sop=sop)
    if based_on_id is not None:
        base = revisions.filter(pk=based_on_id).first()
        if base is None:
            raise NotFound(field="based_on_id", message=_("No such revision of this SOP."))
    else:
        base = revisions.filter(state=S.PUBLISHED).first() or revisions.order_by("-number").first()
    return _draft_from(sop, base, base.definition if base else {}, actor=actor, note=note)


def _draft_from(
    sop: Sop, base: Revision | None, definition: dict[str, Any], *, actor: Any, note: str
) -> Revision:
    now = timezone.now()
    author = actor if getattr(actor, "pk", None) else None
    for _attempt in range(3):
        try:
            with transaction.atomic():
                revision = Revision.objects.create(
                    sop=sop,
                    number=_next_number(sop.pk),
                    definition=definition,
                    note=note.strip()[:500],
                    based_on=base,
                    author=author,
                    edited_by=author,
                    created_at=now,
                    updated_at=now,
                    state_changed_at=now,
                )
            break
        except IntegrityError:  # another draft took the number meanwhile
            continue
    else:
        raise Conflict(field="sop_id", message=_("The SOP is being edited; retry."))
    _touch(sop.pk)
    event_record(
        event_type="sop_revision.created",
        subject=revision,
        actor=actor,
        payload={
            "sop_id": sop.pk,
            "number": revision.number,
            "based_on": base.number if base else None,
        },
    )
    return revision


@transaction.atomic
def revision_update(
    *, revision_id: int, definition: dict[str, Any], actor: Any, note: str | None = None
) -> Revision:
    """Save a definition; refused with the bad field named. A non-draft makes a new draft."""
    revision = _revision_get(revision_id)
    clean = definition_clean(
        definition, subject_type=revision.sop.subject_type, sop_id=revision.sop_id
    )
    if revision.state != S.DRAFT:
        # Runs pin published and piloted revisions; reviewed ones were reviewed as they are.
        return _draft_from(
            revision.sop, revision, clean, actor=actor, note=note if note is not None else ""
        )
    updates: dict[str, Any] = {
        "definition": clean,
        "updated_at": timezone.now(),
        "edited_by": actor if getattr(actor, "pk", None) else None,
    }
    if note is not None:
        updates["note"] = note.strip()[:500]
    changed = Revision.objects.filter(pk=revision.pk, state=S.DRAFT).update(**updates)
    if changed != 1:
        raise Conflict(field="state", message=_("The revision left draft meanwhile; reload it."))
    _touch(revision.sop_id)
    event_record(
        event_type="sop_revision.updated",
        subject=revision,
        actor=actor,
        payload={"sop_id": revision.sop_id, "number": revision.number},
    )
    revision.refresh_from_db()
    return revision


def _review_check(revision: Revision, actor: Any) -> None:
    if not user_can(actor, "sops.review"):
        raise PermissionDenied(
            field="permission", message=_("Only a manager or an owner may review an SOP.")
        )
    if actor is not None and actor.pk in (revision.author_id, revision.edited_by_id):
        raise PermissionDenied(
            field="actor",
            message=_("The author may not approve their own revision; ask another manager."),
        )


def _pilot_group(team_id: int | None, percent: int | None) -> tuple[int | None, int | None]:
    if (team_id is None) == (percent is None):
        raise DomainError(
            field="pilot_team_id",
            message=_("A pilot runs for a team or for a percentage of subjects: choose one."),
        )
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        raise DomainError(field="pilot_team_id", message=_("No such team."))
    if percent is not None and not 1 <= percent <= 100:
        raise DomainError(field="pilot_percent", message=_("Between 1 and 100 percent."))
    return team_id, percent


def _live_since_update(sop: Sop) -> None:
    """Start the SOP's live period when its first revision goes live; end it with the last."""
    if Revision.objects.filter(sop=sop, state__in=LIVE_STATES).exists():
        Sop.objects.filter(pk=sop.pk, live_since__isnull=True).update(live_since=timezone.now())
    else:
        Sop.objects.filter(pk=sop.pk).update(live_since=None)


def _record_transition(
    revision: Revision, *, from_state: str, to_state: str, actor: Any, comment: str
) -> None:
    RevisionTransition.objects.create(
        revision=revision,
        from_state=from_state,
        to_state=to_state,
        actor=actor if getattr(actor, "pk", None) else None,
        comment=comment,
    )
    event_record(
        event_type="sop_revision.state_changed",
        subject=revision,
        actor=actor,
        payload={
            "sop_id": revision.sop_id,
            "number": revision.number,
            "from": from_state,
            "to": to_state,
            "comment": comment,
        },
    )


def _move(revision: Revision, to_state: str, *, extra: dict[str, Any] | None = None) -> None:
    now = timezone.now()
    try:
        with transaction.atomic():
            changed = Revision.objects.filter(pk=revision.pk, state=revision.state).update(
                state=to_state, state_changed_at=now, updated_at=now, **(extra or {})
            )
    except IntegrityError:
        raise Conflict(
            field="state",
            message=_("Another revision of this SOP took that state meanwhile; reload it."),
        ) from None
    if changed != 1:
        raise Conflict(field="state", message=_("The revision changed meanwhile; reload it."))


@transaction.atomic
def revision_transition(
    *,
    revision_id: int,
    to_state: str,
    actor: Any,
    comment: str = "",
    pilot_team_id: int | None = None,
    pilot_percent: int | None = None,
) -> Revision:
    """Move a revision along the workflow; each move is recorded with who, when and why."""
    revision = _revision_get(revision_id)
    from_state = revision.state
    permission = TRANSITIONS.get((from_state, to_state))
    if permission is None:
        raise Conflict(
            field="state",
            message=_("A revision cannot go from %(from)s to %(to)s.")
            % {"from": revision.get_state_display(), "to": to_state},
        )
    if not user_can(actor, permission):
        raise PermissionDenied(
            field="permission",
            message=_("Your role does not allow this (%(permission)s).")
            % {"permission": permission},
        )
    comment = comment.strip()
    sop = revision.sop
    extra: dict[str, Any] = {}
    if to_state == S.APPROVED and from_state == S.REVIEW:
        _review_check(revision, actor)
    if to_state == S.DRAFT and not comment:
        raise DomainError(field="comment", message=_("Say what should change."))
    if to_state in (S.REVIEW, S.PILOT, S.PUBLISHED):
        # The world may have changed since it was written (a team removed, a cycle).
        definition_clean(revision.definition, subject_type=sop.subject_type, sop_id=sop.pk)
        if not revision.definition.get("steps") or not revision.definition.get("triggers"):
            raise DomainError(
                field="definition",
                message=_("An SOP needs at least one trigger and one step before review."),
            )
    if to_state == S.PILOT:
        team_id, percent = _pilot_group(pilot_team_id, pilot_percent)
        extra = {"pilot_team_id": team_id, "pilot_percent": percent}
        other = Revision.objects.filter(sop=sop, state=S.PILOT).exclude(pk=revision.pk).first()
        if other is not None:
            raise Conflict(
                field="state",
                message=_("Revision %(n)s is in pilot; end that pilot first.")
                % {"n": other.number},
            )
    if to_state == S.PUBLISHED:
        current = Revision.objects.filter(sop=sop, state=S.PUBLISHED).exclude(pk=revision.pk)
        for previous in current:
            _move(previous, S.RETIRED)
            _record_transition(
                previous,
                from_state=S.PUBLISHED,
                to_state=S.RETIRED,
                actor=actor,
                comment=_("Replaced by revision %(n)s.") % {"n": revision.number},
            )
    _move(revision, to_state, extra=extra)
    _record_transition(
        revision, from_state=from_state, to_state=to_state, actor=actor, comment=comment
    )
    _live_since_update(sop)
    _touch(sop.pk)
    revision.refresh_from_db()
    if to_state == S.PUBLISHED:
        _ask_to_acknowledge(revision)
    return revision


# ---------------------------------------------------------------- authoring helpers
#
# The authoring UI edits one trigger, rule or step at a time; each helper
# changes the definition and saves it through revision_update, so the same
# validation names the bad field whichever way a definition is written.


def _free_key(prefix: str, taken: set[str]) -> str:
    n = 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def _definition(revision: Revision) -> dict[str, Any]:
    definition = dict(revision.definition or {})
    for section in ("triggers", "cancel_on", "steps"):
        definition[section] = [dict(item) for item in definition.get(section, [])]
    return definition


def revision_item_save(
    *, revision_id: int, section: str, item: dict[str, Any], index: int | None, actor: Any
) -> Revision:
    """Put a trigger, cancel rule or step at `index` (None: append); a new one gets a key."""
    if section not in ("triggers", "cancel_on", "steps"):
        raise DomainError(field="section", message=_("No such part of an SOP."))
    revision = _revision_get(revision_id)
    definition = _definition(revision)
    items = definition[section]
    item = dict(item)
    if section != "cancel_on" and not item.get("key"):
        taken = {str(existing.get("key")) for existing in items}
        item["key"] = _free_key("step" if section == "steps" else "trigger", taken)
    if index is None:
        items.append(item)
    elif 0 <= index < len(items):
        items[index] = item
    else:
        raise DomainError(field="index", message=_("No such item."))
    return revision_update(revision_id=revision.pk, definition=definition, actor=actor)


def revision_item_remove(*, revision_id: int, section: str, index: int, actor: Any) -> Revision:
    revision = _revision_get(revision_id)
    definition = _definition(revision)
    items = definition.get(section)
    if items is None or not 0 <= index < len(items):
        raise DomainError(field="index", message=_("No such item."))
    items.pop(index)
    return revision_update(revision_id=revision.pk, definition=definition, actor=actor)


def revision_item_move(
    *, revision_id: int, section: str, index: int, offset: int, actor: Any
) -> Revision:
    """Move an item up (offset -1) or down (+1); steps run in this order."""
    revision = _revision_get(revision_id)
    definition = _definition(revision)
    items = definition.get(section)
    target = index + offset
    if items is None or not 0 <= index < len(items) or not 0 <= target < len(items):
        raise DomainError(field="index", message=_("It cannot move further."))
    items[index], items[target] = items[target], items[index]
    return revision_update(revision_id=revision.pk, definition=definition, actor=actor)


# ---------------------------------------------------------------- feedback and proposals
#
# The people who run an SOP say where a step hurts (feedback) and what to change
# (a proposal). The SOP's owner, or anyone who writes SOPs, triages them; an
# accepted proposal becomes a draft revision that credits its author (through
# Proposal.draft), and the recognition page counts it once that draft is published.

TEXT_MAX = 4000
# Feedback of these kinds says nothing without words.
KINDS_NEEDING_TEXT = (FeedbackKind.FASTER_WAY, FeedbackKind.UNCLEAR, FeedbackKind.OTHER)


def _may_triage(sop: Sop, actor: Any) -> None:
    if getattr(actor, "pk", None) == sop.owner_id and user_can(actor, "sops.view"):
        return
    if not user_can(actor, "sops.author"):
        raise PermissionDenied(
            field="permission",
            message=_("Only the SOP's owner or someone who writes SOPs may do this."),
        )


def _feedback_permission(actor: Any) -> None:
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
    actor: Any,
    revision_id: int | None = None,
    task_id: int | None = None,
    run_id: int | None = None,
    idempotency_key: str | None = None,
) -> StepFeedback:
    """Feedback on one step of the revision the person ran ("slow", "a trap", "a faster way")."""
    _feedback_permission(actor)
    sop = _sop_get(sop_id)
    if kind not in FeedbackKind.values:
        raise DomainError(
            field="kind",
            message=_("Choose one of: %(kinds)s") % {"kinds": ", ".join(FeedbackKind.values)},
        )
    clean = _text_clean(text, required=kind in KINDS_NEEDING_TEXT)
    step_key = (step_key or "").strip()
    if not step_key:
        raise DomainError(field="step_key", message=_("Which step is it about?"))
    revision = selectors.source_revision(
        sop, step_key=step_key, revision_id=revision_id, task_id=task_id, run_id=run_id
    )
    _step_check(revision, step_key)
    feedback = StepFeedback.objects.create(
        sop=sop,
        revision=revision,
        step_key=step_key,
        author=actor,
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
def feedback_resolve(*, feedback_id: int, state: str, actor: Any, note: str = "") -> StepFeedback:
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
    actor: Any,
    step_key: str = "",
    revision_id: int | None = None,
    task_id: int | None = None,
    run_id: int | None = None,
    idempotency_key: str | None = None,
) -> Proposal:
    """Propose a change to the SOP (or one of its steps): what to change and why."""
    _feedback_permission(actor)
    sop = _sop_get(sop_id)
    clean = _text_clean(text, required=True)
    step_key = (step_key or "").strip()
    revision = selectors.source_revision(
        sop, step_key=step_key, revision_id=revision_id, task_id=task_id, run_id=run_id
    )
    if step_key:
        _step_check(revision, step_key)
    proposal = Proposal.objects.create(
        sop=sop,
        based_on=revision,
        step_key=step_key,
        author=actor,
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
        title=_("%(author)s proposes a change to “%(sop)s”") % {"author": actor, "sop": sop.name},
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


def _proposal_decide(proposal: Proposal, *, actor: Any, **fields: Any) -> None:
    changed = Proposal.objects.filter(pk=proposal.pk, state=ProposalState.OPEN).update(
        decided_by=actor, decided_at=timezone.now(), **fields
    )
    if changed != 1:
        raise Conflict(field="state", message=_("The proposal was decided meanwhile; reload it."))


@transaction.atomic
def proposal_accept(*, proposal_id: int, actor: Any, into_draft: bool = False) -> Revision:
    """Turn a proposal into a new draft (copying the current definition) that credits its author.

    The owner then edits the draft. If the SOP has a draft already, this says
    so and changes nothing, unless `into_draft`: then that draft takes the
    proposal (and its credit) too.
    """
    proposal = _proposal_get(proposal_id)
    sop = proposal.sop
    _may_triage(sop, actor)
    _proposal_open_check(proposal)
    author = str(proposal.author) if proposal.author else _("someone who left")
    note = _("Proposal by %(author)s: %(text)s") % {"author": author, "text": proposal.text}
    existing = Revision.objects.filter(sop=sop, state=S.DRAFT).order_by("-number").first()
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
        joined = f"{draft.note}; {note}" if draft.note else note
        Revision.objects.filter(pk=draft.pk).update(note=joined[:500], updated_at=timezone.now())
    else:
        draft = revision_draft_create(sop_id=sop.pk, actor=actor, note=note)
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
        title=_("Your proposal for “%(sop)s” became revision %(n)s")
        % {"sop": sop.name, "n": draft.number},
        proposal=proposal,
        occasion="accepted",
    )
    draft.refresh_from_db()
    return draft


@transaction.atomic
def proposal_decline(*, proposal_id: int, actor: Any, reason: str) -> Proposal:
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
        title=_("Your proposal for “%(sop)s” was declined: %(reason)s")
        % {"sop": proposal.sop.name, "reason": reason},
        proposal=proposal,
        occasion="declined",
    )
    proposal.refresh_from_db()
    return proposal


# ---------------------------------------------------------------- acknowledgement


@transaction.atomic
def acknowledgement_confirm(*, revision_id: int, actor: Any) -> Acknowledgement:
    """The person read this revision. Twice is once: the first confirmation stands."""
    revision = _revision_get(revision_id)
    if not user_can(actor, "sops.view"):
        raise PermissionDenied(
            field="permission",
            message=_("Your role does not allow this (%(permission)s).")
            % {"permission": "sops.view"},
        )
    if revision.state not in LIVE_STATES:
        raise DomainError(
            field="revision_id",
            message=_("Only a published or piloted revision is confirmed; this one is %(state)s.")
            % {"state": revision.get_state_display().lower()},
        )
    acknowledgement, created = Acknowledgement.objects.get_or_create(
        user_id=actor.pk, revision_id=revision.pk
    )
    if created:
        event_record(
            event_type="sop_revision.acknowledged",
            subject=revision,
            actor=actor,
            payload={"sop_id": revision.sop_id, "number": revision.number},
            idempotency_key=f"ack:{revision.pk}:{actor.pk}",
        )
    return acknowledgement


def _ask_to_acknowledge(revision: Revision) -> None:
    """Ask the people who run a just-published revision to read and confirm it.

    The one place that request is made (revision_transition calls it in its
    transaction): a notification in the app and by email, keyed by revision,
    so nobody is asked twice.
    """
    from procedo.collab.services import notify

    recipients = list(
        selectors.acknowledgement_pending(revision=revision).values_list("pk", flat=True)
    )
    if not recipients:
        return
    notify(
        recipient_ids=recipients,
        kind="acknowledgement_requested",
        title=_("Read and confirm: %(sop)s, revision %(n)s")
        % {"sop": revision.sop.name, "n": revision.number},
        url=reverse("sops:mine"),
        subject_type="sop",
        subject_id=revision.sop_id,
        key=f"sop-revision:{revision.pk}:acknowledge",
    )


def _tell(
    recipient_id: int | None, *, actor: Any, title: str, proposal: Proposal, occasion: str
) -> None:
    """A proposal's news to one person (not to whoever caused it)."""
    from procedo.collab.services import notify

    if recipient_id is None or recipient_id == getattr(actor, "pk", None):
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
