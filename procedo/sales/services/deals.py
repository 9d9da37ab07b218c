"""Deals: created, edited and moved through the pipeline's stages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.business.selectors import business_get
from procedo.core.bounds import moment_check
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean
from procedo.customers.models import Customer
from procedo.sales.models import Deal, Lead, LostReason, Pipeline, StageKind, StageVisit
from procedo.sales.services._common import TEXT_MAX, _record, _text, _user
from procedo.sales.services.pipelines import _first_open_stage, _pipeline, _stage


def _deal_insert(
    *,
    customer: Customer,
    pipeline: Pipeline,
    title: str,
    value: Any,
    expected_close_on: date | None,
    owner_id: int | None,
    lead: Lead | None,
    actor: Actor,
    idempotency_key: str | None,
) -> Deal:
    currency = business_get().currency
    moment_check(expected_close_on, field="expected_close_on")
    stage = _first_open_stage(pipeline)
    now = timezone.now()
    deal = Deal.objects.create(
        title=_text("title", title, TEXT_MAX, required=True),
        pipeline=pipeline,
        stage=stage,
        customer=customer,
        lead=lead,
        value=amount_clean(value, currency, field="value"),
        currency=currency,
        expected_close_on=expected_close_on,
        owner_id=_user(owner_id),
        created_at=now,
        stage_entered_at=now,
        idempotency_key=idempotency_key,
    )
    StageVisit.objects.create(deal=deal, stage=stage, entered_at=now, actor=actor_person(actor))
    _record(
        "deal.created",
        deal,
        actor=actor,
        customer_id=customer.pk,
        payload={"stage": stage.pk, "value": str(deal.value), "currency": currency},
    )
    return deal


@idempotent("deal.create", replay=lambda pk: Deal.objects.get(pk=pk))
@transaction.atomic
def deal_create(
    *,
    customer_id: int,
    title: str,
    pipeline_id: int | None = None,
    value: Any = "0",
    expected_close_on: date | None = None,
    owner_id: int | None = None,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Deal:
    customer = Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
    if customer is None:
        raise NotFound(field="customer_id", message=_("No such customer."))
    return _deal_insert(
        customer=customer,
        pipeline=_pipeline(pipeline_id),
        title=title,
        value=value,
        expected_close_on=expected_close_on,
        owner_id=owner_id,
        lead=None,
        actor=actor,
        idempotency_key=idempotency_key,
    )


def _deal(deal_id: int) -> Deal:
    deal = Deal.objects.select_related("stage", "pipeline").filter(pk=deal_id).first()
    if deal is None:
        raise NotFound(field="deal_id", message=_("No such deal."))
    return deal


_UNSET: Any = object()


@transaction.atomic
def deal_update(
    *,
    deal_id: int,
    actor: Actor,
    title: str | None = None,
    value: Any = None,
    expected_close_on: date | None = _UNSET,
    owner_id: int | None = _UNSET,
) -> Deal:
    """Change what is given; the rest stays."""
    deal = _deal(deal_id)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _text("title", title, TEXT_MAX, required=True)
    if value is not None:
        changes["value"] = amount_clean(value, deal.currency, field="value")
    if expected_close_on is not _UNSET:
        moment_check(expected_close_on, field="expected_close_on")
        changes["expected_close_on"] = expected_close_on
    if owner_id is not _UNSET:
        changes["owner_id"] = _user(owner_id)
    changes = {key: v for key, v in changes.items() if getattr(deal, key) != v}
    if changes:
        Deal.objects.filter(pk=deal.pk).update(**changes)
        for key, v in changes.items():
            setattr(deal, key, v)
        _record(
            "deal.updated",
            deal,
            actor=actor,
            customer_id=deal.customer_id,
            payload={key: str(v) if v is not None else None for key, v in changes.items()},
        )
    return deal


@idempotent("deal.move", replay=lambda pk: Deal.objects.get(pk=pk))
@transaction.atomic
def deal_move(
    *,
    deal_id: int,
    stage_id: int,
    lost_reason_id: int | None = None,
    lost_note: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
) -> Deal:
    """Move a deal to a stage of its own pipeline; into a lost stage only with a reason."""
    deal = _deal(deal_id)
    stage = _stage(stage_id)
    if stage.pipeline_id != deal.pipeline_id:
        raise DomainError(
            field="stage_id",
            code="transition_not_allowed",
            message=_("The stage %(stage)s is in another pipeline (%(pipeline)s).")
            % {"stage": stage.name, "pipeline": stage.pipeline.name},
        )
    reason = None
    if stage.kind == StageKind.LOST:
        if lost_reason_id is None:
            raise DomainError(
                field="lost_reason_id", message=_("Say why the deal was lost: choose a reason.")
            )
        reason = LostReason.objects.filter(pk=lost_reason_id, is_active=True).first()
        if reason is None:
            raise DomainError(field="lost_reason_id", message=_("Choose a listed reason."))
    note = _text("lost_note", lost_note, 500) if reason else ""
    if stage.pk == deal.stage_id and reason is None:
        return deal  # a double click or a drop where it stood: nothing moves
    from_stage = deal.stage
    now = timezone.now()
    closed_at = None if stage.kind == StageKind.OPEN else (deal.closed_at or now)
    if from_stage.kind == StageKind.OPEN and stage.kind != StageKind.OPEN:
        closed_at = now
    changed = Deal.objects.filter(pk=deal.pk, stage_id=from_stage.pk).update(
        stage=stage,
        stage_entered_at=now,
        closed_at=closed_at,
        lost_reason=reason,
        lost_note=note,
    )
    if changed != 1:
        raise Conflict(field="stage_id", code="stale", message=_("The deal moved meanwhile."))
    StageVisit.objects.filter(deal=deal, left_at__isnull=True).update(left_at=now)
    # The stay's length in whole seconds, written once so reports sum a plain integer.
    for visit in StageVisit.objects.filter(deal=deal, left_at=now, seconds__isnull=True):
        StageVisit.objects.filter(pk=visit.pk).update(
            seconds=int((now - visit.entered_at).total_seconds())
        )
    StageVisit.objects.create(deal=deal, stage=stage, entered_at=now, actor=actor_person(actor))
    payload = {
        "from": from_stage.pk,
        "to": stage.pk,
        "from_name": from_stage.name,
        "to_name": stage.name,
        "pipeline": deal.pipeline_id,
        "kind": stage.kind,
    }
    _record(
        "deal.stage_changed",
        deal,
        actor=actor,
        customer_id=deal.customer_id,
        payload=payload,
        idempotency_key=idempotency_key,
    )
    if stage.kind != from_stage.kind and stage.kind == StageKind.WON:
        _record(
            "deal.won",
            deal,
            actor=actor,
            customer_id=deal.customer_id,
            payload={"value": str(deal.value), "currency": deal.currency},
        )
    if stage.kind != from_stage.kind and stage.kind == StageKind.LOST and reason is not None:
        _record(
            "deal.lost",
            deal,
            actor=actor,
            customer_id=deal.customer_id,
            payload={"reason": reason.pk, "reason_name": reason.name},
        )
    deal.stage, deal.stage_entered_at, deal.closed_at = stage, now, closed_at
    deal.lost_reason, deal.lost_note = reason, note
    return deal


def deals_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """A merge of customers: the duplicate's deals and leads become the survivor's
    (run inside the merge's transaction, which records its event)."""
    moved = Deal.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    return moved + Lead.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
