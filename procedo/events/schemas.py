"""The shapes in which the API shows events, shared by every timeline endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Field

from procedo.core.bounds import PAGE_LIMIT_DEFAULT, Cursor, Day, Id, PageLimit
from procedo.core.errors import DomainError
from procedo.core.schemas import ExportFormat, Schema
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


def _id_cursor(next_before: int | None) -> str | None:
    return str(next_before) if next_before is not None else None


class IdPaging(Schema):
    """`cursor`/`limit` as on every list, for lists paged by id (the log, the failures)."""

    cursor: Cursor | None = None
    before: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="The former `cursor`.",
        json_schema_extra={"deprecated": True},
    )
    limit: PageLimit = PAGE_LIMIT_DEFAULT

    def before_id(self) -> int | None:
        """The id to start below: a 422 naming `cursor` when it is not one of ours."""
        if self.cursor is None:
            return self.before
        if not self.cursor.isdigit() or not 1 <= int(self.cursor) <= 2**63 - 1:
            raise DomainError(
                field="cursor", message=_("This page cursor is not valid; start again.")
            )
        return int(self.cursor)


class EventPageOut(Schema):
    items: list[EventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")
    next_before: int | None = Field(
        description="The former `next_cursor`.", json_schema_extra={"deprecated": True}
    )


def event_page(events: Sequence[Event], next_before: int | None) -> dict[str, Any]:
    return {
        "items": event_items(events),
        "next_cursor": _id_cursor(next_before),
        "next_before": next_before,
    }


class PageQuery(IdPaging):
    pass


class ActivityQuery(Schema):
    """The activity page's filters, by the page's names."""

    person: Id | None = Field(default=None, description="Whose actions (a user's id).")
    kind: str = Field(default="", max_length=40, description="What: one of the page's kinds.")
    since: Day | None = Field(default=None, description="From this day (business time zone).")
    until: Day | None = Field(default=None, description="To this day, inclusive.")


class ActivityPageQuery(ActivityQuery, IdPaging):
    pass


class ActivityExportQuery(ActivityQuery):
    format: ExportFormat = "csv"


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
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")
    next_before: int | None = Field(
        description="The former `next_cursor`.", json_schema_extra={"deprecated": True}
    )


def failure_page(failures: Sequence[ConsumerFailure], next_before: int | None) -> dict[str, Any]:
    return {"items": failures, "next_cursor": _id_cursor(next_before), "next_before": next_before}


class FailureQuery(IdPaging):
    show: Literal["open", "retrying", "parked", "waiting", "resolved", "dismissed"] = Field(
        default="open", description="`open`: retrying, parked and waiting."
    )
    consumer: str = Field(default="", max_length=80)


class DismissIn(Schema):
    reason: str = Field(min_length=1, max_length=FAILURE_REASON_MAX)
