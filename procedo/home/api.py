from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from ninja import Field, Path, Query, Router
from pydantic import field_validator

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.business import services as business_services
from procedo.business.selectors import business_get
from procedo.core.bounds import PathId
from procedo.core.exports import filters_known
from procedo.core.forms import filters_valid
from procedo.core.schemas import EXPORT_RESPONSE, Schema
from procedo.events import selectors
from procedo.events.exports import export_stream
from procedo.events.models import ConsumerFailure
from procedo.events.schemas import (
    ActivityExportQuery,
    ActivityPageQuery,
    ActivityQuery,
    DismissIn,
    EventOut,
    EventPageOut,
    FailureOut,
    FailurePageOut,
    FailureQuery,
    PageQuery,
    event_items,
    event_page,
    failure_page,
)
from procedo.events.services import failures
from procedo.home.forms import ActivityFilterForm
from procedo.home.privacy import events_for_reader
from procedo.home.search import search_everywhere

router = Router(tags=["events"])


def _activity_selection(filters: ActivityQuery) -> dict[str, Any]:
    """The activity page's own form reads the filters: the same kinds, days and zone."""
    data = {k: v for k, v in filters.dict(include=set(ActivityQuery.model_fields)).items()}
    form = ActivityFilterForm({k: v for k, v in data.items() if v not in (None, "")})
    filters_valid(form)
    return form.selection()


@router.get("", response=EventPageOut, auth=requires_api("events.view"))
def events_recent(request: ApiRequest, page: Query[ActivityPageQuery]) -> dict[str, Any]:
    """The log, newest first, with the activity page's filters (who, what, when)."""
    result = selectors.events_filtered(
        **_activity_selection(page), before=page.before_id(), limit=page.limit
    )
    items = events_for_reader(result.events, reader=request.auth)
    return event_page(items, result.next_before)


@router.get("/export", auth=requires_api("events.view"), openapi_extra=EXPORT_RESPONSE)
def events_export(
    request: ApiRequest, filters: Query[ActivityExportQuery]
) -> StreamingHttpResponse:
    """The activity log as a CSV (UTF-8 with a BOM) or XLSX file, streamed and recorded."""
    reader = request.auth
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
    request: ApiRequest,
    subject_type: Annotated[str, Path(max_length=40)],
    subject_id: PathId,
    page: Query[PageQuery],
) -> dict[str, Any]:
    """The timeline of one subject (an order, a user, a team…), newest first."""
    result = selectors.timeline_for_subject(
        subject_type=subject_type, subject_id=subject_id, before=page.before_id(), limit=page.limit
    )
    items = events_for_reader(result.events, reader=request.auth)
    return event_page(items, result.next_before)


@router.get("/failures", response=FailurePageOut, auth=requires_api("events.failures"))
def consumer_failures(request: ApiRequest, filters: Query[FailureQuery]) -> dict[str, Any]:
    """Events a consumer failed on, newest first: retried with backoff, then parked for a person
    (`open`: retrying, parked, and waiting behind a failing event of the same subject)."""
    page = selectors.consumer_failures(
        show=filters.show,
        consumer=filters.consumer,
        before=filters.before_id(),
        limit=filters.limit,
    )
    events_for_reader([f.event for f in page.failures], reader=request.auth)
    return failure_page(page.failures, page.next_before)


@router.post(
    "/failures/{int:failure_id}/retry", response=FailureOut, auth=requires_api("events.failures")
)
def consumer_failure_retry(request: ApiRequest, failure_id: PathId) -> ConsumerFailure:
    """Hand the event to its consumer again, now. `state` answers: `resolved` if it went
    through, else the new `error` and `attempts`. Retrying a resolved one changes nothing."""
    failure = failures.consumer_failure_retry(failure_id=failure_id, actor=request.auth)
    events_for_reader([failure.event], reader=request.auth)
    return failure


@router.post(
    "/failures/{int:failure_id}/dismiss", response=FailureOut, auth=requires_api("events.failures")
)
def consumer_failure_dismiss(
    request: ApiRequest, failure_id: PathId, payload: DismissIn
) -> ConsumerFailure:
    """Decide the event needs no handling by this consumer; the reason is kept."""
    failure = failures.consumer_failure_dismiss(
        failure_id=failure_id,
        actor=request.auth,
        reason=payload.reason,
    )
    events_for_reader([failure.event], reader=request.auth)
    return failure


# The shell's own pages: the dashboard, search across areas, the business settings.
home_router = Router(tags=["home"])


class DayCountOut(Schema):
    day: date
    events: int


class DashboardOut(Schema):
    events_total: int
    events_today: int
    by_day: list[DayCountOut] = Field(description="The last 14 days in the business time zone.")
    recent: list[EventOut] = Field(description="The 15 latest events.")


class SearchHitOut(Schema):
    area: str
    title: str
    detail: str
    url: str


class BusinessOut(Schema):
    name: str
    time_zone: str
    currency: str = Field(description="ISO 4217.")
    language: str = Field(description="What the store writes to its customers in: en or uk.")
    quiet_hours_start: str | None = Field(
        description="Marketing waits from (business time), HH:MM."
    )
    quiet_hours_end: str | None = Field(description="HH:MM")
    marketing_cap_count: int = Field(description="Marketing messages per customer; 0: no cap.")
    marketing_cap_days: int

    @field_validator("quiet_hours_start", "quiet_hours_end", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        # HH:MM as the PATCH takes them: OpenAPI's `time` format is RFC 3339's, which
        # needs an offset, and a quiet hour is a wall-clock time in the business's zone.
        return value.strftime("%H:%M") if isinstance(value, time) else value


QuietTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class BusinessPatch(Schema):
    """Only the fields sent change; quiet hours go in pairs (both null: none)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    language: str | None = Field(default=None, min_length=2, max_length=8)
    quiet_hours_start: QuietTime | None = Field(default=None, description="HH:MM")
    quiet_hours_end: QuietTime | None = Field(default=None, description="HH:MM")
    marketing_cap_count: int | None = Field(default=None, ge=0, le=100)
    marketing_cap_days: int | None = Field(default=None, ge=1, le=365)


def _business_out() -> BusinessOut:
    business = business_get()
    return BusinessOut.model_validate(business, from_attributes=True)


@home_router.get("/dashboard", response=DashboardOut, auth=requires_api("dashboard.view"))
def dashboard(request: ApiRequest) -> dict[str, Any]:
    """What the dashboard shows: event counts by day and the latest events."""
    counts = selectors.event_counts(today=timezone.localdate())
    recent = selectors.events_recent(limit=15)
    items = events_for_reader(recent.events, reader=request.auth)
    return {
        "events_total": counts.total,
        "events_today": counts.today,
        "by_day": [{"day": day, "events": n} for day, n in counts.by_day],
        "recent": event_items(items),
    }


@home_router.get("/search", response=list[SearchHitOut], auth=requires_api("dashboard.view"))
def search(
    request: ApiRequest, q: Annotated[str, Query(max_length=100)] = ""
) -> list[dict[str, str]]:
    """Search every area the caller may see (`q`: 2 characters at least), 10 hits an area."""
    found = search_everywhere(query=q, user=request.auth)
    return [
        {"area": str(provider.label), "title": hit.title, "detail": hit.detail, "url": hit.url}
        for provider, hits in found
        for hit in hits
    ]


@home_router.get("/business", response=BusinessOut, auth=requires_api("business.change"))
def business_settings(request: ApiRequest) -> BusinessOut:
    """The business settings page: name, time zone, currency, quiet hours and the cap."""
    return _business_out()


@home_router.patch("/business", response=BusinessOut, auth=requires_api("business.change"))
def business_update(request: ApiRequest, payload: BusinessPatch) -> BusinessOut:
    """Change the settings sent; a refusal names its field (e.g. `time_zone`, `quiet_hours_end`)."""
    current = business_get()
    sent = payload.dict(exclude_unset=True)
    if not sent:
        return _business_out()  # nothing sent, nothing changed, nothing recorded
    for name in ("quiet_hours_start", "quiet_hours_end"):
        if sent.get(name) is not None:
            sent[name] = time.fromisoformat(sent[name])
    business_services.business_update(
        name=sent.pop("name", None) or current.name,
        time_zone=sent.pop("time_zone", None) or current.time_zone,
        currency=sent.pop("currency", None) or current.currency,
        actor_id=request.auth.pk,
        **sent,
    )
    return _business_out()
