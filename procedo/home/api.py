from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Query, Router

from procedo.accounts.auth import requires_api
from procedo.core.bounds import PathId
from procedo.events import selectors, services
from procedo.events.models import ConsumerFailure
from procedo.events.schemas import (
    DismissIn,
    EventPageOut,
    FailureOut,
    FailurePageOut,
    FailureQuery,
    PageQuery,
    event_items,
)
from procedo.home.privacy import events_for_reader

router = Router(tags=["events"])


@router.get("", response=EventPageOut, auth=requires_api("events.view"))
def events_recent(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    """The whole log, newest first."""
    result = selectors.events_recent(before=page.before, limit=page.limit)
    items = events_for_reader(result.events, reader=request.auth)  # type: ignore[attr-defined]
    return {"items": event_items(items), "next_before": result.next_before}


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
    return {"items": event_items(items), "next_before": result.next_before}


@router.get("/failures", response=FailurePageOut, auth=requires_api("events.failures"))
def consumer_failures(request: HttpRequest, filters: Query[FailureQuery]) -> dict[str, Any]:
    """Events a consumer failed on, newest first: retried with backoff, then parked for a person
    (`open`: retrying, parked, and waiting behind a failing event of the same subject)."""
    page = selectors.consumer_failures(
        show=filters.show, consumer=filters.consumer, before=filters.before, limit=filters.limit
    )
    events_for_reader([f.event for f in page.failures], reader=request.auth)  # type: ignore[attr-defined]
    return {"items": page.failures, "next_before": page.next_before}


@router.post(
    "/failures/{int:failure_id}/retry", response=FailureOut, auth=requires_api("events.failures")
)
def consumer_failure_retry(request: HttpRequest, failure_id: PathId) -> ConsumerFailure:
    """Hand the event to its consumer again, now. `state` answers: `resolved` if it went
    through, else the new `error` and `attempts`. Retrying a resolved one changes nothing."""
    failure = services.consumer_failure_retry(failure_id=failure_id, actor=request.auth)  # type: ignore[attr-defined]
    events_for_reader([failure.event], reader=request.auth)  # type: ignore[attr-defined]
    return failure


@router.post(
    "/failures/{int:failure_id}/dismiss", response=FailureOut, auth=requires_api("events.failures")
)
def consumer_failure_dismiss(
    request: HttpRequest, failure_id: PathId, payload: DismissIn
) -> ConsumerFailure:
    """Decide the event needs no handling by this consumer; the reason is kept."""
    failure = services.consumer_failure_dismiss(
        failure_id=failure_id,
        actor=request.auth,  # type: ignore[attr-defined]
        reason=payload.reason,
    )
    events_for_reader([failure.event], reader=request.auth)  # type: ignore[attr-defined]
    return failure
