"""Reading SOPs: the list, an SOP's card, a revision, a diff of two revisions, a trigger's
preview, and which revision a person ran."""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.permissions import user_can
from procedo.analytics.formatting import kpi_target_text
from procedo.analytics.kpis import KPIS
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.sops import matching, subjects
from procedo.sops.definitions import definition_parse
from procedo.sops.describe import definition_lines, definition_sentences, trigger_text
from procedo.sops.diagram import Diagram, flow_diagram
from procedo.sops.models import (
    Revision,
    RevisionState,
    RevisionTransition,
    Sop,
)
from procedo.sops.registry import run_facts
from procedo.work.models import Task

PREVIEW_COUNT_LIMIT = 1000


@dataclass
class SopRow:
    sop: Sop
    kpi_label: str
    target: str = ""  # the KPI's target in its unit ("25.0 %"), empty without one
    published: int | None = None
    pilot: int | None = None
    drafts: int = 0
    in_review: int = 0
    approved: int | None = None
    in_flight: int = 0

    @property
    def state(self) -> str:
        if self.published and self.pilot:
            return _("published r%(p)s, pilot r%(t)s") % {"p": self.published, "t": self.pilot}
        if self.published:
            return _("published r%(n)s") % {"n": self.published}
        if self.pilot:
            return _("pilot r%(n)s") % {"n": self.pilot}
        if self.approved:
            return _("approved r%(n)s") % {"n": self.approved}
        if self.in_review:
            return _("in review")
        return _("draft")


def sop_list() -> list[SopRow]:
    """Every SOP with its state, KPI, runs in flight and last change: three queries."""
    sops = list(Sop.objects.select_related("owner").order_by("-updated_at", "-id"))
    currency = business_get().currency
    rows = {
        sop.pk: SopRow(
            sop=sop,
            kpi_label=str(KPIS[sop.kpi].label),
            target=kpi_target_text(sop.kpi, sop.kpi_target, currency=currency),
        )
        for sop in sops
    }
    for sop_id, number, state in Revision.objects.exclude(state=RevisionState.RETIRED).values_list(
        "sop_id", "number", "state"
    ):
        row = rows.get(sop_id)
        if row is None:
            continue
        if state == RevisionState.PUBLISHED:
            row.published = number
        elif state == RevisionState.PILOT:
            row.pilot = number
        elif state == RevisionState.DRAFT:
            row.drafts += 1
        elif state == RevisionState.APPROVED:
            row.approved = number
        else:
            row.in_review += 1
    for sop_id, count in run_facts().in_flight_by_sop().items():
        if sop_id in rows:
            rows[sop_id].in_flight = count
    return list(rows.values())


@dataclass
class SopCard:
    sop: Sop
    kpi_label: str
    target: str
    revisions: list[Revision]
    current: Revision
    current_lines: list[str]
    in_flight: int
    runs_by_state: dict[str, int] = field(default_factory=dict)
    diagram: Diagram | None = None


def revisions_awaiting_review(*, user: Any) -> list[Revision]:
    """Revisions in review that this person may approve: not their own, and their role
    reviews SOPs. Oldest first: the one waiting longest comes first."""
    if not user_can(user, "sops.review"):
        return []
    return list(
        Revision.objects.filter(state=RevisionState.REVIEW)
        .exclude(author_id=user.pk)
        .exclude(edited_by_id=user.pk)
        .select_related("sop", "author")
        .order_by("updated_at", "id")
    )


def sop_card(*, sop_id: int) -> SopCard:
    sop = Sop.objects.select_related("owner").filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    revisions = list(
        Revision.objects.filter(sop=sop)
        .select_related("author", "pilot_team")
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=RevisionTransition.objects.select_related("actor").order_by("id"),
            )
        )
        .order_by("-number")
    )
    current = next((r for r in revisions if r.state == RevisionState.PUBLISHED), revisions[0])
    facts = run_facts()
    by_state = facts.count_by_state(sop.pk)
    return SopCard(
        sop=sop,
        kpi_label=str(KPIS[sop.kpi].label),
        target=kpi_target_text(sop.kpi, sop.kpi_target, currency=business_get().currency),
        revisions=revisions,
        current=current,
        current_lines=definition_sentences(current.definition, subject_type=sop.subject_type),
        in_flight=sum(by_state.get(state, 0) for state in facts.active_states),
        runs_by_state=by_state,
        diagram=flow_diagram(
            current.definition,
            subject_type=sop.subject_type,
            holdout_percent=sop.holdout_percent,
            here=facts.at_step(sop.pk),
        ),
    )


def sop_get(*, sop_id: int) -> Sop:
    sop = Sop.objects.filter(pk=sop_id).first()
    if sop is None:
        raise NotFound(field="sop_id", message=_("No SOP %(id)s.") % {"id": sop_id})
    return sop


def revision_get(*, revision_id: int) -> Revision:
    revision = Revision.objects.select_related("sop", "author", "pilot_team").filter(pk=revision_id)
    found = revision.first()
    if found is None:
        raise NotFound(field="revision_id", message=_("No revision %(id)s.") % {"id": revision_id})
    return found


@dataclass(frozen=True)
class DiffLine:
    op: str  # "+", "-" or " "
    text: str


def revision_diff(*, revision_id: int, other_id: int) -> list[DiffLine]:
    """What changed from `other` to this revision, line by line in words."""
    revision = revision_get(revision_id=revision_id)
    other = revision_get(revision_id=other_id)
    if other.sop_id != revision.sop_id:
        raise DomainError(field="other_id", message=_("Compare revisions of the same SOP."))
    return lines_diff(other, revision)


def lines_diff(before: Revision, after: Revision) -> list[DiffLine]:
    subject_type = after.sop.subject_type
    lines = []
    for line in difflib.ndiff(
        definition_lines(before.definition, subject_type=subject_type),
        definition_lines(after.definition, subject_type=subject_type),
    ):
        if line.startswith("? "):
            continue
        lines.append(DiffLine(op=line[0], text=line[2:]))
    return lines


@dataclass(frozen=True)
class Preview:
    count: int
    more: bool  # the count stopped at PREVIEW_COUNT_LIMIT
    sample: list[tuple[int, str]]
    note: str


def trigger_preview(
    *,
    revision_id: int,
    trigger_key: str,
    limit: int = 10,
    now: datetime | None = None,
    backlog: bool = False,
) -> Preview:
    """Which subjects this trigger would match now (events: who matches the subject rules).

    With `backlog`, a date trigger's subjects already past its mark beyond the
    catch-up window: those only "start for them too" reaches, oldest first.
    """
    revision = revision_get(revision_id=revision_id)
    definition = definition_parse(revision.definition)
    trigger: Any = definition.trigger(trigger_key)
    if trigger is None:
        raise NotFound(field="trigger_key", message=_("No trigger %(k)s.") % {"k": trigger_key})
    if backlog and trigger.kind != "date":
        raise DomainError(field="trigger_key", message=_("Only a date trigger has a backlog."))
    subject = subjects.SUBJECTS[revision.sop.subject_type]
    if subject.name == "business":
        return Preview(count=1, more=False, sample=[(1, str(business_get()))], note="")
    now = now or timezone.now()
    queryset = subject.queryset()
    note = ""
    order = "-pk"
    if trigger.kind == "date":
        spec = subject.fields[trigger.field]
        after, until = matching.date_window(
            now=now,
            zone=business_get().zone,
            offset_days=trigger.offset_days,
            catch_up_days=trigger.catch_up_days,
        )
        if backlog:
            queryset = queryset.filter(**{f"{spec.lookup}__lte": after})
            note = _("Past the mark before the catch-up window: reached only if you say so.")
            order = spec.lookup
        else:
            queryset = queryset.filter(
                **{f"{spec.lookup}__gt": after, f"{spec.lookup}__lte": until}
            )
            note = _("Due now: the next sweep starts a run for each not started yet.")
    elif trigger.kind == "event":
        note = _(
            "Subjects that match the conditions on the subject now; event fields are not tested."
        )
    condition = matching.conditions_q(subject, trigger.conditions, now=now)
    if condition is not None:
        queryset = queryset.filter(condition)
    queryset = queryset.order_by(order, "pk")
    # No exact COUNT over a million rows per request: count up to a limit.
    counted = queryset.values("pk")[: PREVIEW_COUNT_LIMIT + 1].count()
    sample = [(item.pk, str(item)) for item in queryset[:limit]]
    return Preview(
        count=min(counted, PREVIEW_COUNT_LIMIT),
        more=counted > PREVIEW_COUNT_LIMIT,
        sample=sample,
        note=note,
    )


@dataclass(frozen=True)
class BacklogTrigger:
    key: str
    text: str
    preview: Preview


def backlog_preview(*, revision: Revision, now: datetime | None = None) -> list[BacklogTrigger]:
    """Each date trigger's backlog (see trigger_preview); [] for a revision without dates."""
    now = now or timezone.now()
    found = []
    for trigger in definition_parse(revision.definition).triggers:
        if trigger.kind == "date":
            found.append(
                BacklogTrigger(
                    key=trigger.key,
                    text=trigger_text(trigger.model_dump(), subject_type=revision.sop.subject_type),
                    preview=trigger_preview(
                        revision_id=revision.pk,
                        trigger_key=trigger.key,
                        limit=5,
                        now=now,
                        backlog=True,
                    ),
                )
            )
    return found


def transitions_of(*, sop_id: int) -> dict[int, list[RevisionTransition]]:
    grouped: dict[int, list[RevisionTransition]] = defaultdict(list)
    for move in RevisionTransition.objects.filter(revision__sop_id=sop_id).select_related("actor"):
        grouped[move.revision_id].append(move)
    return grouped


def source_revision(
    sop: Sop,
    *,
    step_key: str,
    revision_id: int | None,
    task_id: int | None,
    run_id: int | None,
) -> Revision:
    """The revision the person worked with: their run's, else the one given, else the live one.

    A task and a run must belong to this SOP (and to each other), and a task's
    step must be the step named: feedback never lands on the wrong step.
    """
    if task_id is not None:
        task = Task.objects.filter(pk=task_id).values("run_id", "run_step_id").first()
        if task is None:
            raise NotFound(field="task_id", message=_("No task %(id)s.") % {"id": task_id})
        if task["run_id"] is None:
            raise DomainError(field="task_id", message=_("This task did not come from an SOP."))
        if run_id is not None and run_id != task["run_id"]:
            raise DomainError(field="run_id", message=_("The task belongs to another run."))
        run_id = task["run_id"]
        task_step = run_facts().step_key_get(task["run_step_id"] or 0)
        if step_key and task_step and task_step != step_key:
            raise DomainError(
                field="step_key",
                message=_("The task is step “%(task)s”, not “%(step)s”.")
                % {"task": task_step, "step": step_key},
            )
    if run_id is not None:
        run = run_facts().run_get(run_id)
        if run is None:
            raise NotFound(field="run_id", message=_("No run %(id)s.") % {"id": run_id})
        if run.sop_id != sop.pk:
            raise DomainError(field="run_id", message=_("This run is of another SOP."))
        if revision_id is not None and revision_id != run.revision_id:
            raise DomainError(field="revision_id", message=_("The run used another revision."))
        revision_id = run.revision_id
    revisions = Revision.objects.filter(sop=sop)
    if revision_id is not None:
        revision = revisions.filter(pk=revision_id).first()
        if revision is None:
            raise NotFound(field="revision_id", message=_("No such revision of this SOP."))
        return revision
    revision = (
        revisions.filter(state=RevisionState.PUBLISHED).first()
        or revisions.filter(state=RevisionState.PILOT).first()
        or revisions.order_by("-number").first()
    )
    if revision is None:  # every SOP is made with a first draft; a broken row is not
        raise NotFound(field="sop_id", message=_("This SOP has no revision."))
    return revision
