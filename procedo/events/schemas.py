"""The shapes in which the API shows events, shared by every timeline endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from ninja import Field

from procedo.core.schemas import Schema
from procedo.events.models import FAILURE_REASON_MAX, ConsumerFailure, Event
from procedo.events.registry import consumer_get
from procedo.events.timeline import timeline_lines


class EventOut(Schema):
    id: int
    event_type: str
    subject_type: str
    subject_id: int | None
    customer_id: int | None
    actor_id: int | None
    actor_label: str
    payload: dict[str, Any]
    occurred_at: datetime
    summary: str = Field(
        default="", description="What happened, as a sentence in the caller's language."
    )


def event_items(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Events for EventOut, each with its sentence (the names on the page looked up once)."""
    return [
        {
            "id": line.event.pk,
            "event_type": line.event.event_type,
            "subject_type": line.event.subject_type,
            "subject_id": line.event.subject_id,
            "customer_id": line.event.customer_id,
            "actor_id": line.event.actor_id,
            "actor_label": line.event.actor_label,
            "payload": line.event.payload or {},
            "occurred_at": line.event.occurred_at,
            "summary": line.plain,
        }
        for line in timeline_lines(events)
    ]


class EventPageOut(Schema):
    items: list[EventOut]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


class PageQuery(Schema):
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    limit: int = Field(default=50, ge=1, le=500)


class FailureOut(Schema):
    id: int
    consumer: str
    consumer_label: str
    state: str = Field(description="retrying, parked, waiting, resolved or dismissed")
    attempts: int
    error: str = Field(description="`ExceptionType: message` of the last failure.")
    traceback: str
    first_failed_at: datetime | None
    last_failed_at: datetime | None
    next_attempt_at: datetime | None
    resolved_at: datetime | None
    resolved_by_id: int | None
    note: str = Field(description="Why it was dismissed.")
    event: EventOut

    @staticmethod
    def resolve_consumer_label(failure: ConsumerFailure) -> str:
        consumer = consumer_get(failure.consumer)
        return str(consumer.label) if consumer is not None and consumer.label else failure.consumer


class FailurePageOut(Schema):
    items: list[FailureOut]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


class FailureQuery(Schema):
    show: Literal["open", "retrying", "parked", "waiting", "resolved", "dismissed"] = Field(
        default="open", description="`open`: retrying, parked and waiting."
    )
    consumer: str = Field(default="", max_length=80)
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    limit: int = Field(default=50, ge=1, le=500)


class DismissIn(Schema):
    reason: str = Field(min_length=1, max_length=FAILURE_REASON_MAX)
