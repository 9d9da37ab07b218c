from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.business import services
from procedo.business.forms import BusinessForm
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.exports import export_format, filters_known
from procedo.core.forms import filters_valid, refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.events import selectors as event_selectors
from procedo.events.exports import export_stream
from procedo.events.models import FAILURE_REASON_MAX, FailureState
from procedo.events.services import consumers as consumer_services
from procedo.events.services import failures as failure_services
from procedo.events.timeline import timeline_lines
from procedo.home.forms import ActivityFilterForm
from procedo.home.morning import morning
from procedo.home.privacy import events_for_reader
from procedo.home.search import SEARCH_QUERY_MAX, SEARCH_QUERY_MIN, search_everywhere

SUGGEST_LIMIT = 5


@requires("dashboard.view")
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = event_selectors.event_counts(today=timezone.localdate())
    recent = event_selectors.events_recent(limit=15)
    peak = max((n for _day, n in counts.by_day), default=0)
    return render(
        request,
        "home/dashboard.html",
        {
            "morning": morning(user=request.user),
            "counts": counts,
            "recent": timeline_lines(events_for_reader(recent.events, reader=request.user)),
            "peak": peak or 1,
        },
    )


@requires("dashboard.view")
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    results = search_everywhere(query=query, user=request.user)
    return render(request, "home/search.html", {"query": query, "results": results})


@requires("dashboard.view")
def suggest(request: HttpRequest) -> HttpResponse:
    """What the header search box shows under itself as people type (htmx, debounced)."""
    query = request.GET.get("q", "").strip()[:SEARCH_QUERY_MAX]
    if len(query) < SEARCH_QUERY_MIN:
        return HttpResponse("")  # empty: the box's suggestion list hides (app.css, .suggest:empty)
    results = search_everywhere(query=query, user=request.user, limit=SUGGEST_LIMIT)
    found = [(provider, hits) for provider, hits in results if hits]
    return render(request, "home/_suggest.html", {"query": query, "results": found})


@requires("business.change")
def business(request: HttpRequest) -> HttpResponse:
    current = business_get()
    form = BusinessForm(
        request.POST or None,
        initial={
            "name": current.name,
            "time_zone": current.time_zone,
            "currency": current.currency,
            "language": current.language,
            "quiet_hours_start": current.quiet_hours_start,
            "quiet_hours_end": current.quiet_hours_end,
            "marketing_cap_count": current.marketing_cap_count,
            "marketing_cap_days": current.marketing_cap_days,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            # An empty cap keeps the stored one; empty quiet hours mean none.
            data = {k: v for k, v in form.cleaned_data.items() if v is not None or "quiet" in k}
            services.business_update(**data, actor_id=request.user.pk)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("home:business")
    return render(request, "home/business.html", {"form": form}, status=422 if form.errors else 200)


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@requires("events.view")
def activity(request: HtmxHttpRequest) -> HttpResponse:
    """The whole event log, newest first; htmx asks for the next page into the same table."""
    form = ActivityFilterForm(request.GET or None)
    page = event_selectors.events_filtered(
        **form.selection(), before=_int_or_none(request.GET.get("before")), limit=50
    )
    events_for_reader(page.events, reader=request.user)
    template = "home/activity.html#rows" if request.htmx else "home/activity.html"
    query = request.GET.copy()
    query.pop("before", None)
    context = {"page": page, "form": form, "query": query.urlencode()}
    return render(request, template, context, status=200 if not form.errors else 422)


@requires("events.view")
def activity_export(request: HttpRequest) -> StreamingHttpResponse:
    """The log as a file (`?format=csv|xlsx`), with the activity page's filters."""
    fmt = export_format(request.GET.get("format"))
    applied = filters_known(request.GET, ActivityFilterForm.base_fields)
    form = ActivityFilterForm(request.GET)
    filters_valid(form)
    reader = request.user
    return export_stream(
        request=request,
        actor=reader,
        list_name="events",
        fmt=fmt,
        filters=applied,
        columns=event_selectors.EVENT_COLUMNS,
        rows=event_selectors.event_export_rows(
            prepare=lambda events: events_for_reader(events, reader=reader),
            **form.selection(),
        ),
    )


def _show(raw: str | None) -> str:
    return raw if raw in event_selectors.FAILURE_FILTERS else "open"


def _failures_page(request: HttpRequest, show: str, *, status: int = 200) -> HttpResponse:
    page = event_selectors.consumer_failures(
        show=show, before=_int_or_none(request.GET.get("before")), limit=50
    )
    events_for_reader([failure.event for failure in page.failures], reader=request.user)
    context = {
        "page": page,
        "show": show,
        "counts": event_selectors.consumer_failure_counts(),
        "filters": [("open", _("Needs handling"))]
        + [(state.value, state.label) for state in FailureState],
        "max_attempts": consumer_services.MAX_ATTEMPTS,
        "reason_max": FAILURE_REASON_MAX,
    }
    return render(request, "home/failures.html", context, status=status)


@requires("events.failures")
def consumer_failures(request: HttpRequest) -> HttpResponse:
    """Events a consumer failed on: retrying, parked for a person, or waiting behind one."""
    return _failures_page(request, _show(request.GET.get("show")))


def _back_to_failures(request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse('home:failures')}?show={_show(request.POST.get('show'))}")


@require_POST
@requires("events.failures")
def consumer_failure_retry(request: HttpRequest, failure_id: int) -> HttpResponse:
    try:
        failure = failure_services.consumer_failure_retry(failure_id=failure_id, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _failures_page(request, _show(request.POST.get("show")), status=exc.status_code)
    if failure.state == FailureState.RESOLVED:
        messages.success(request, _("Event %(id)s went through.") % {"id": failure.event_id})
    else:
        messages.error(
            request,
            _("Event %(id)s failed again: %(error)s")
            % {"id": failure.event_id, "error": failure.error},
        )
    return _back_to_failures(request)


@require_POST
@requires("events.failures")
def consumer_failure_dismiss(request: HttpRequest, failure_id: int) -> HttpResponse:
    try:
        failure_services.consumer_failure_dismiss(
            failure_id=failure_id, actor=request.user, reason=request.POST.get("reason", "")
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _failures_page(request, _show(request.POST.get("show")), status=exc.status_code)
    messages.success(request, _("The event is dismissed."))
    return _back_to_failures(request)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 in the shape of the place asked: the API's error JSON, or a page for people."""
    message = _("There is nothing at this address.")
    if request.path.startswith("/api/"):
        body = {"detail": message, "field": "path", "code": "not_found"}
        return JsonResponse(body, status=404)
    context = {"title": _("Not found"), "message": message}
    return render(request, "core/refused.html", context, status=404)
