"""Pipelines, their stages, lost reasons and lead forms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from procedo.accounts.actors import Actor
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.sales.models import LeadForm, LostReason, Pipeline, Stage, StageKind
from procedo.sales.services._common import NAME_MAX, _record, _text, source_clean

# In the language of whoever installs them (as the SOP library is): the store's own words
# from then on, renamed as it likes.
DEFAULT_STAGES = (
    (gettext_lazy("New"), StageKind.OPEN),
    (gettext_lazy("Needs meeting"), StageKind.OPEN),
    (gettext_lazy("Proposal"), StageKind.OPEN),
    (gettext_lazy("Won"), StageKind.WON),
    # A stage, not the "lost customers" of analytics: its own words beside "Won".
    (pgettext_lazy("deal stage", "Lost"), StageKind.LOST),
)


DEFAULT_LOST_REASONS = (
    gettext_lazy("Too expensive"),
    gettext_lazy("Chose a competitor"),
    gettext_lazy("No answer"),
)


def pipeline_default() -> Pipeline:
    """The first pipeline; a store without one gets "Sales" with the usual stages.

    Installing the defaults is what a data migration would do (as the order pipeline's
    defaults are installed), not anyone's change: it records no event, so a first read
    of the board or the API stays a read.
    """
    pipeline = Pipeline.objects.order_by("position", "id").first()
    if pipeline is not None:
        return pipeline
    with transaction.atomic():
        pipeline, created = Pipeline.objects.get_or_create(name=str(_("Sales")))
        if created:
            Stage.objects.bulk_create(
                Stage(pipeline=pipeline, name=str(name), kind=kind, position=i)
                for i, (name, kind) in enumerate(DEFAULT_STAGES)
            )
            if not LostReason.objects.exists():
                LostReason.objects.bulk_create(
                    LostReason(name=str(name), position=i)
                    for i, name in enumerate(DEFAULT_LOST_REASONS)
                )
    return pipeline


def _pipeline(pipeline_id: int | None) -> Pipeline:
    if pipeline_id is None:
        return pipeline_default()
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound(field="pipeline_id", message=_("No such pipeline."))
    return pipeline


@transaction.atomic
def pipeline_create(*, name: str, actor: Actor) -> Pipeline:
    """A pipeline with the default stages, to rename and reorder."""
    clean = _text("name", name, NAME_MAX, required=True)
    if Pipeline.objects.filter(name__iexact=clean).exists():
        raise Conflict(field="name", code="duplicate", message=_("A pipeline has this name."))
    position = (Pipeline.objects.aggregate(top=Max("position"))["top"] or 0) + 1
    pipeline = Pipeline.objects.create(name=clean, position=position)
    Stage.objects.bulk_create(
        Stage(pipeline=pipeline, name=str(stage), kind=kind, position=i)
        for i, (stage, kind) in enumerate(DEFAULT_STAGES)
    )
    _record("pipeline.created", pipeline, actor=actor, payload={"name": clean})
    return pipeline


def _stage_name(pipeline_id: int, name: str, *, other_than: int | None = None) -> str:
    clean = _text("name", name, NAME_MAX, required=True)
    taken = Stage.objects.filter(pipeline_id=pipeline_id, name__iexact=clean)
    if other_than is not None:
        taken = taken.exclude(pk=other_than)
    if taken.exists():
        raise Conflict(field="name", code="duplicate", message=_("This pipeline has that stage."))
    return clean


def _kind(kind: str) -> str:
    if kind not in StageKind.values:
        raise DomainError(field="kind", message=_("A stage is open, closed won or closed lost."))
    return kind


@transaction.atomic
def stage_create(*, pipeline_id: int, name: str, kind: str, actor: Actor) -> Stage:
    pipeline = _pipeline(pipeline_id)
    clean = _stage_name(pipeline.pk, name)
    # A new open stage goes before the closing ones; a closing one at the end.
    closing = Stage.objects.filter(pipeline=pipeline).exclude(kind=StageKind.OPEN)
    if _kind(kind) == StageKind.OPEN and closing.exists():
        position = min(closing.values_list("position", flat=True))
        Stage.objects.filter(pipeline=pipeline, position__gte=position).update(
            position=F("position") + 1
        )
    else:
        top = Stage.objects.filter(pipeline=pipeline).aggregate(top=Max("position"))["top"]
        position = -1 if top is None else top
        position += 1
    stage = Stage.objects.create(pipeline=pipeline, name=clean, kind=kind, position=position)
    _record("stage.created", stage, actor=actor, payload={"name": clean, "kind": kind})
    return stage


def _stage(stage_id: int, *, field: str = "stage_id") -> Stage:
    stage = Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
    if stage is None:
        raise NotFound(field=field, message=_("No such stage."))
    return stage


@transaction.atomic
def stage_update(*, stage_id: int, name: str | None, kind: str | None, actor: Actor) -> Stage:
    """Rename a stage or change whether it closes deals won or lost."""
    stage = _stage(stage_id)
    changes: dict[str, Any] = {}
    if name is not None:
        clean = _stage_name(stage.pipeline_id, name, other_than=stage.pk)
        if clean != stage.name:
            changes["name"] = clean
    if kind is not None and _kind(kind) != stage.kind:
        if stage.deals.exists():
            raise Conflict(
                field="kind",
                message=_("Deals stand in this stage; move them before changing its kind."),
            )
        changes["kind"] = kind
    if changes:
        Stage.objects.filter(pk=stage.pk).update(**changes)
        for key, value in changes.items():
            setattr(stage, key, value)
        _record("stage.updated", stage, actor=actor, payload=changes)
    return stage


@transaction.atomic
def stages_reorder(*, pipeline_id: int, stage_ids: Sequence[int], actor: Actor) -> list[Stage]:
    """The pipeline's stages in the order given; every stage of it exactly once."""
    pipeline = _pipeline(pipeline_id)
    current = {stage.pk: stage for stage in Stage.objects.filter(pipeline=pipeline)}
    if sorted(stage_ids) != sorted(current):
        raise DomainError(
            field="stage_ids",
            message=_("Give every stage of this pipeline once, and none of another."),
        )
    moved = []
    for position, pk in enumerate(stage_ids):
        if current[pk].position != position:
            current[pk].position = position
            moved.append(current[pk])
    Stage.objects.bulk_update(moved, ["position"])
    _record("stages.reordered", pipeline, actor=actor, payload={"order": list(stage_ids)})
    return [current[pk] for pk in stage_ids]


@transaction.atomic
def stage_delete(*, stage_id: int, actor: Actor) -> None:
    stage = _stage(stage_id)
    if stage.deals.exists() or stage.visits.exists():
        raise Conflict(
            field="stage_id",
            message=_("Deals stood in this stage; rename it rather than remove it."),
        )
    if not Stage.objects.filter(pipeline_id=stage.pipeline_id).exclude(pk=stage.pk).exists():
        raise Conflict(field="stage_id", message=_("A pipeline keeps at least one stage."))
    _record("stage.deleted", stage, actor=actor, payload={"name": stage.name})
    stage.delete()


@transaction.atomic
def lost_reason_create(*, name: str, actor: Actor) -> LostReason:
    clean = _text("name", name, NAME_MAX, required=True)
    if LostReason.objects.filter(name__iexact=clean).exists():
        raise Conflict(field="name", code="duplicate", message=_("This reason is listed."))
    position = (LostReason.objects.aggregate(top=Max("position"))["top"] or 0) + 1
    reason = LostReason.objects.create(name=clean, position=position)
    _record("lost_reason.created", reason, actor=actor, payload={"name": clean})
    return reason


@transaction.atomic
def lost_reason_set_active(*, reason_id: int, is_active: bool, actor: Actor) -> LostReason:
    """Retire a reason (old deals keep it) or bring it back."""
    reason = LostReason.objects.filter(pk=reason_id).first()
    if reason is None:
        raise NotFound(field="reason_id", message=_("No such lost reason."))
    if reason.is_active != is_active:
        LostReason.objects.filter(pk=reason.pk).update(is_active=is_active)
        reason.is_active = is_active
        _record("lost_reason.updated", reason, actor=actor, payload={"is_active": is_active})
    return reason


@transaction.atomic
def lead_form_create(*, name: str, source: str, actor: Actor) -> LeadForm:
    form = LeadForm.objects.create(
        name=_text("name", name, NAME_MAX, required=True), source=source_clean(source)
    )
    _record("lead_form.created", form, actor=actor, payload={"name": form.name})
    return form


@transaction.atomic
def lead_form_set_active(*, form_id: int, is_active: bool, actor: Actor) -> LeadForm:
    form = LeadForm.objects.filter(pk=form_id).first()
    if form is None:
        raise NotFound(field="form_id", message=_("No such form."))
    if form.is_active != is_active:
        LeadForm.objects.filter(pk=form.pk).update(is_active=is_active)
        form.is_active = is_active
        _record("lead_form.updated", form, actor=actor, payload={"is_active": is_active})
    return form


def _first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id").first()
    if stage is None:
        raise Conflict(field="pipeline_id", message=_("This pipeline has no open stage."))
    return stage
