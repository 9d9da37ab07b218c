"""Writes of segments: a name, a match and rules compiled to SQL (rules.py), each with its event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.core.errors import Conflict
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import event_record
from procedo.marketing import rules, selectors
from procedo.marketing.models import (
    Segment,
)
from procedo.marketing.services._common import _match_clean, _name_clean


@idempotent("segment.create", replay=lambda pk: Segment.objects.get(pk=pk))
@transaction.atomic
def segment_create(
    *,
    name: str,
    match: str,
    rules_: Sequence[Mapping[str, Any]],
    actor: Actor,
    idempotency_key: str | None = None,
) -> Segment:
    segment = Segment.objects.create(
        name=_name_clean(name),
        match=_match_clean(match),
        rules=rules.rules_clean(rules_),
        created_by=actor_person(actor),
    )
    event_record(
        event_type="segment.created",
        subject=segment,
        actor=actor,
        payload={"name": segment.name, "rules": len(segment.rules)},
        idempotency_key=idempotency_key,
    )
    return segment


@transaction.atomic
def segment_update(
    *, segment_id: int, name: str, match: str, rules_: Sequence[Mapping[str, Any]], actor: Actor
) -> Segment:
    segment = selectors.segment_get(segment_id)
    segment.name, segment.match = _name_clean(name), _match_clean(match)
    segment.rules = rules.rules_clean(rules_)
    segment.updated_at = timezone.now()
    segment.save()
    event_record(
        event_type="segment.changed",
        subject=segment,
        actor=actor,
        payload={"name": segment.name, "rules": len(segment.rules)},
    )
    return segment


@transaction.atomic
def segment_delete(*, segment_id: int, actor: Actor) -> None:
    segment = selectors.segment_get(segment_id)
    if segment.campaigns.exists():
        raise Conflict(
            field="segment_id",
            message=_("Campaigns use the segment “%(name)s”; it is kept for their figures.")
            % {"name": segment.name},
        )
    event_record(
        event_type="segment.deleted", subject=segment, actor=actor, payload={"name": segment.name}
    )
    segment.delete()
