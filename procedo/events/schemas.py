"""The shapes in which the API shows events, shared by every timeline endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field

from procedo.core.schemas import Schema


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
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    limit: int = Field(default=50, ge=1, le=500)
