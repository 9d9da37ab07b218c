from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from procedo.accounts.permissions import permission_require
from procedo.events import selectors
from procedo.events.schemas import EventPageOut, PageQuery

router = Router(tags=["events"])


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
