"""Runs that meet a new revision: at publish, those between steps may move onto it.

A run in flight keeps its revision unless the publisher moves it. Only a run
that has not started its next step can move, and only where that step (by key,
of the same kind) exists in the new revision: a run whose step is due and not
begun yet, or one sitting in a timed wait. A run working on a step (a task out
with a person, a webhook being called, a lease held by a worker) stays.
"""

from __future__ import annotations

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.automation.models import ACTIVE_RUN, Run, RunState, RunStep, StepState
from procedo.core.errors import DomainError
from procedo.sops import live
from procedo.sops.registry import RunsMoved


def _kinds(revision_id: int) -> dict[str, str]:
    return {step.key: step.kind for step in live.definition_of(revision_id).steps}


def runs_to_revision(*, sop_id: int, revision_id: int, run_ids: list[int] | None) -> RunsMoved:
    """Move the SOP's runs in flight that wait before a step the revision has too.

    `run_ids` None: every run that can (the rest stay); else exactly those runs,
    or a DomainError naming `move_run_ids` and nothing moved. Called inside the
    publishing transaction.
    """
    now = timezone.now()
    target = _kinds(revision_id)
    step = RunStep.objects.filter(
        run=OuterRef("pk"),
        step_key=OuterRef("current_step"),
        iteration=OuterRef("current_iteration"),
    )
    rows = (
        Run.objects.filter(ACTIVE_RUN, sop_id=sop_id)
        .exclude(revision_id=revision_id)
        .annotate(step_state=Subquery(step.values("state")[:1]))
        .values_list("pk", "revision_id", "state", "current_step", "step_state", "claimed_until")
        .order_by("pk")
    )
    kinds: dict[int, dict[str, str]] = {}
    movable: list[int] = []
    why_not: dict[int, str] = {}
    for pk, from_revision, state, key, step_state, claimed_until in rows:
        kind = kinds.setdefault(from_revision, _kinds(from_revision)).get(key)
        between = state == RunState.RUNNING and step_state in (None, StepState.PENDING)
        waiting = state == RunState.WAITING and kind == "wait" and step_state == StepState.WAITING
        if claimed_until is not None and claimed_until > now:
            why_not[pk] = _("run %(id)s is being worked on right now") % {"id": pk}
        elif not (between or waiting):
            why_not[pk] = _("run %(id)s has started its step “%(step)s”") % {"id": pk, "step": key}
        elif target.get(key) != kind:
            why_not[pk] = _(
                "run %(id)s waits before step “%(step)s”, which this revision lacks"
            ) % {
                "id": pk,
                "step": key,
            }
        else:
            movable.append(pk)
    if run_ids is not None:
        wanted = sorted(set(run_ids))
        for pk in wanted:
            if pk in why_not:
                raise DomainError(field="move_run_ids", message=why_not[pk])
            if pk not in movable:
                raise DomainError(
                    field="move_run_ids",
                    message=_("Run %(id)s is not a run of this SOP in flight.") % {"id": pk},
                )
        stayed = [pk for pk in [*movable, *why_not] if pk not in set(wanted)]
        movable = wanted
    else:
        stayed = sorted(why_not)
    if movable:
        _move(movable, revision_id)
    return RunsMoved(moved=movable, stayed=sorted(stayed))


def _move(run_ids: list[int], revision_id: int) -> None:
    # One UPDATE; the state guard keeps a run that ended meanwhile where it was.
    moved = Run.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lte=timezone.now()),
        ACTIVE_RUN,
        pk__in=run_ids,
    ).update(revision_id=revision_id, pilot=False)
    if moved != len(run_ids):
        raise DomainError(
            field="move_run_ids", message=_("Some runs moved on meanwhile; publish again.")
        )
