from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Query, Router

from procedo.accounts.auth import requires_api
from procedo.core.bounds import PathId
from procedo.events import selectors
from procedo.events.schemas import EventPageOut, PageQuery
from procedo.home.privacy import events_for_reader

router = Router(tags=["events"])


@router.get("", response=EventPageOut, auth=requires_api("events.view"))
def events_recent(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    """The whole log, newest first."""
    result = selectors.events_recent(before=page.before, limit=page.limit)
    items = events_for_reader(result.events, reader=request.auth)  # type: ignore[attr-defined]
    return {"items": items, "next_before": result.next_before}


@router.get(
    "/subject/{subject_type}/{int:subject_id}",
    response=EventPageOut,
    auth=requires_api("events.view"),
)
def timeline_for_subject(
    request: HttpRequest,
    subject_type: Annotated[str, Path(max_length=40)],
    subject_id: PathId,
    page: Query[PageQuery],
) -> dict[str, Any]:
    """The timeline of one subject (an order, a user, a team…), newest first."""
    result = selectors.timeline_for_subject(
        subject_type=subject_type, subject_id=subject_id, before=page.before, limit=page.limit
    )
    items = events_for_reader(result.events, reader=request.auth)  # type: ignore[attr-defined]
    return {"items": items, "next_before": result.next_before}
