"""Revisions: drafts, the workflow, and editing a draft one item at a time.

The workflow is draft → in review → approved → pilot → published →
retired. A revision out of draft never changes (runs pin it): an edit to it
makes a new draft. Review needs a manager or owner other than the author.
Publishing retires the revision published before; the partial unique
constraints are the last guard when two people publish at once.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor, actor_person
from procedo.accounts.models import Team
from procedo.accounts.permissions import user_can
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from procedo.core.texts import LaterText, text_for_storing
from procedo.events.services.recording import event_record
from procedo.sops.models import (
    LIVE_STATES,
    Backlog,
    Revision,
    RevisionState,
    RevisionTransition,
    Sop,
)
from procedo.sops.registry import RunsMoved, runs_move
from procedo.sops.selectors import sops as sop_selectors
from procedo.sops.services import acknowledgement, review_news
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


def _next_number(sop_id: int) -> int:
    return int(Revision.objects.filter(sop_id=sop_id).aggregate(n=Max("number"))["n"] or 0) + 1


def _touch(sop_id: int) -> None:
    Sop.objects.filter(pk=sop_id).update(updated_at=timezone.now())


@transaction.atomic
def revision_draft_create(
    *, sop_id: int, actor: Actor, based_on_id: int | None = None, note: str | LaterText = ""
) -> Revision:
    """A new draft copying `based_on` (default: the published revision, else the latest)."""
    sop = sop_selectors.sop_get(sop_id=sop_id)
    revisions = Revision.objects.filter(sop=sop)
    if based_on_id is not None:
        base = revisions.filter(pk=based_on_id).first()
        if base is None:
            raise NotFound(field="based_on_id", message=_("No such revision of this SOP."))
    else:
        base = revisions.filter(state=S.PUBLISHED).first() or revisions.order_by("-number").first()
    return _draft_from(sop, base, base.definition if base else {}, actor=actor, note=note)


def _draft_from(
    sop: Sop,
    base: Revision | None,
    definition: dict[str, Any],
    *,
    actor: Actor,
    note: str | LaterText,
) -> Revision:
    now = timezone.now()
    written, note_text = text_for_storing(note)
    author = actor_person(actor)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                revision = Revision.objects.create(
                    sop=sop,
                    number=_next_number(sop.pk),
                    definition=definition,
                    note=written.strip()[:500],
                    note_text=note_text,
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
    *, revision_id: int, definition: dict[str, Any], actor: Actor, note: str | None = None
) -> Revision:
    """Save a definition; refused with the bad field named. A non-draft makes a new draft."""
    revision = sop_selectors.revision_get(revision_id=revision_id)
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
        "edited_by": actor_person(actor),
    }
    if note is not None:  # a person's words replace whatever the system wrote
        updates["note"] = note.strip()[:500]
        updates["note_text"] = None
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


def _review_check(revision: Revision, actor: Actor) -> None:
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
    revision: Revision,
    *,
    from_state: str,
    to_state: str,
    actor: Actor,
    comment: str | LaterText,
    backlog: str = "",
    backlog_count: int | None = None,
    runs_moved: RunsMoved | None = None,
) -> RevisionTransition:
    comment, comment_text = text_for_storing(comment)
    move = RevisionTransition.objects.create(
        revision=revision,
        from_state=from_state,
        to_state=to_state,
        actor=actor_person(actor),
        comment=comment,
        comment_text=comment_text,
        backlog=backlog,
        backlog_count=backlog_count,
    )
    payload: dict[str, Any] = {
        "sop_id": revision.sop_id,
        "number": revision.number,
        "from": from_state,
        "to": to_state,
        "comment": comment,
    }
    if backlog:
        payload |= {"backlog": backlog, "backlog_count": backlog_count}
    if runs_moved is not None:
        payload |= {"runs_moved": runs_moved.moved, "runs_stayed": runs_moved.stayed}
    event_record(
        event_type="sop_revision.state_changed", subject=revision, actor=actor, payload=payload
    )
    return move


def _backlog_check(revision: Revision, backlog: str, to_state: str) -> int | None:
    """The backlog choice is for a revision going live with a date trigger; returns how many
    subjects it is about (counted as the preview counts them), None without a choice."""
    if backlog not in Backlog.values:
        raise DomainError(field="backlog", message=_("Choose “start” or “skip” for the backlog."))
    if not backlog:
        return None
    if to_state not in LIVE_STATES:
        raise DomainError(
            field="backlog", message=_("The backlog is chosen when a revision goes live.")
        )
    previews = sop_selectors.backlog_preview(revision=revision)
    if not previews:
        raise DomainError(
            field="backlog",
            message=_("None of this revision's triggers counts from a date: it has no backlog."),
        )
    return sum(item.preview.count for item in previews)


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
    actor: Actor,
    comment: str = "",
    pilot_team_id: int | None = None,
    pilot_percent: int | None = None,
    backlog: str = "",
    move_runs: bool = False,
    move_run_ids: list[int] | None = None,
) -> Revision:
    """Move a revision along the workflow; each move is recorded with who, when and why.

    Going live, the publisher may choose what the date triggers do with the
    backlog (`backlog`: start or skip) and, publishing, move the runs in flight
    that have not started their next step onto this revision (`move_runs`, or
    only `move_run_ids`); the result's `runs_moved` says which moved and stayed.
    """
    revision = sop_selectors.revision_get(revision_id=revision_id)
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
    backlog_count = _backlog_check(revision, backlog, to_state)
    if backlog:
        extra |= {"backlog": backlog, "backlog_at": timezone.now()}
    if (move_runs or move_run_ids) and to_state != S.PUBLISHED:
        raise DomainError(
            field="move_runs", message=_("Runs move onto a revision when it is published.")
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
                comment=LaterText(
                    gettext_noop("Replaced by revision %(n)s."), {"n": revision.number}
                ),
            )
    _move(revision, to_state, extra=extra)
    moved = None
    if move_runs or move_run_ids:
        # In this transaction: a listed run that cannot move undoes the whole publish.
        moved = runs_move(sop_id=sop.pk, revision_id=revision.pk, run_ids=move_run_ids or None)
    move = _record_transition(
        revision,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        comment=comment,
        backlog=backlog,
        backlog_count=backlog_count,
        runs_moved=moved,
    )
    review_news.revision_news(
        revision,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        move_id=move.pk,
        comment=comment,
    )
    _live_since_update(sop)
    _touch(sop.pk)
    revision.refresh_from_db()
    revision.runs_moved = moved
    if to_state == S.PUBLISHED:
        acknowledgement.acknowledgement_request(revision)
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
    *, revision_id: int, section: str, item: dict[str, Any], index: int | None, actor: Actor
) -> Revision:
    """Put a trigger, cancel rule or step at `index` (None: append); a new one gets a key."""
    if section not in ("triggers", "cancel_on", "steps"):
        raise DomainError(field="section", message=_("No such part of an SOP."))
    revision = sop_selectors.revision_get(revision_id=revision_id)
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


def revision_item_remove(*, revision_id: int, section: str, index: int, actor: Actor) -> Revision:
    revision = sop_selectors.revision_get(revision_id=revision_id)
    definition = _definition(revision)
    items = definition.get(section)
    if items is None or not 0 <= index < len(items):
        raise DomainError(field="index", message=_("No such item."))
    items.pop(index)
    return revision_update(revision_id=revision.pk, definition=definition, actor=actor)


def revision_item_move(
    *, revision_id: int, section: str, index: int, offset: int, actor: Actor
) -> Revision:
    """Move an item up (offset -1) or down (+1); steps run in this order."""
    revision = sop_selectors.revision_get(revision_id=revision_id)
    definition = _definition(revision)
    items = definition.get(section)
    target = index + offset
    if items is None or not 0 <= index < len(items) or not 0 <= target < len(items):
        raise DomainError(field="index", message=_("It cannot move further."))
    items[index], items[target] = items[target], items[index]
    return revision_update(revision_id=revision.pk, definition=definition, actor=actor)
