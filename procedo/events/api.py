from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from procedo.accounts.permissions import permission_require
from procedo.events import selectors

router = Router(tags=["events"])


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


class EventPageOut(Schema):
    items: list[EventOut]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


class PageQuery(Schema):
    before: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=500)


@router.get("", response=EventPageOut)
def events_recent(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    """The whole log, newest first."""
    permission_require(request.auth, "events.view")  # type: ignore[attr-defined]
    result = selectors.events_recent(before=page.before, limit=page.limit)
    return {"items": result.events, "next_before": result.next_before}


@router.get("/subject/{subject_type}/{subject_id}", response=EventPageOut)
def timeline_for_subject(
    request: HttpRequest, subject_type: str, subject_id: int, page: Query[PageQuery]
) -> dict[str, Any]:
    """The timeline of one subject (an order, a user, a team…), newest first."""
    permission_require(request.auth, "events.view")  # type: ignore[attr-defined]
    result = selectors.timeline_for_subject(
        subject_type=subject_type, subject_id=subject_id, before=page.before, limit=page.limit
    )
    return {"items": result.events, "next_before": result.next_before}
