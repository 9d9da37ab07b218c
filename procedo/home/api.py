from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Path, Query, Router

from procedo.accounts.auth import requires_api
from procedo.core.bounds import PathId
from procedo.core.exports import filters_known
from procedo.core.forms import filters_valid
from procedo.core.schemas import EXPORT_RESPONSE
from procedo.events import selectors, services
from procedo.events.exports import export_stream
from procedo.events.models import ConsumerFailure
from procedo.events.schemas import (
    ActivityExportQuery,
    ActivityPageQuery,
    ActivityQuery,
    DismissIn,
    EventPageOut,
    FailureOut,
    FailurePageOut,
    FailureQuery,
    PageQuery,
    event_page,
    failure_page,
)
from procedo.home.forms import ActivityFilterForm
from procedo.home.privacy import events_for_reader

router = Router(tags=["events"])


def _activity_selection(filters: ActivityQuery) -> dict[str, Any]:
    """The activity page's own form reads the filters: the same kinds, days and zone."""
    data = {k: v for k, v in filters.dict(include=set(ActivityQuery.model_fields)).items()}
    form = ActivityFilterForm({k: v for k, v in data.items() if v not in (None, "")})
    filters_valid(form)
    return form.selection()


@router.get("", response=EventPageOut, auth=requires_api("events.view"))
def events_recent(request: HttpRequest, page: Query[ActivityPageQuery]) -> dict[str, Any]:
    """The log, newest first, with the activity page's filters (who, what, when)."""
    result = selectors.events_filtered(
        **_activity_selection(page), before=page.before_id(), limit=page.limit
    )
    items = events_for_reader(result.events, reader=request.auth)  # type: ignore[attr-defined]
    return event_page(items, result.next_before)


@router.get("/export", auth=requires_api("events.view"), openapi_extra=EXPORT_RESPONSE)
def events_export(
    request: HttpRequest, filters: Query[ActivityExportQuery]
) -> StreamingHttpResponse:
    """The activity log as a CSV (UTF-8 with a BOM) or XLSX file, streamed and recorded."""
    reader = request.auth  # type: ignore[attr-defined]
    return export_stream(
        request=request,
        actor=reader,
        list_name="events",
        fmt=filters.format,
        filters=filters_known(request.GET, ActivityExportQuery.model_fields),
        columns=selectors.EVENT_COLUMNS,
        rows=selectors.event_export_rows(
            prepare=lambda events: events_for_reader(events, reader=reader),
            **_activity_selection(filters),
        ),
    )


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
        subject_type=subject_type, subject_id=subject_id, before=page.before_id(), limit=page.limit
    )
    items = events_for_reader(result.events, reader=request.auth)  # type: ignore[attr-defined]
    return event_page(items, result.next_before)


@router.get("/failures", response=FailurePageOut, auth=requires_api("events.failures"))
def consumer_failures(request: HttpRequest, filters: Query[FailureQuery]) -> dict[str, Any]:
    """Events a consumer failed on, newest first: retried with backoff, then parked for a person
    (`open`: retrying, parked, and waiting behind a failing event of the same subject)."""
    page = selectors.consumer_failures(
        show=filters.show,
        consumer=filters.consumer,
        before=filters.before_id(),
        limit=filters.limit,
    )
    events_for_reader([f.event for f in page.failures], reader=request.auth)  # type: ignore[attr-defined]
    return failure_page(page.failures, page.next_before)


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
