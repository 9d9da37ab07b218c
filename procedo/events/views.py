from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from procedo.core.decorators import requires
from procedo.events import selectors


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@requires("events.view")
def log(request: HttpRequest) -> HttpResponse:
    """The whole event log, newest first; htmx asks for the next page into the same table."""
    page = selectors.events_recent(before=_int_or_none(request.GET.get("before")), limit=50)
    template = "events/log.html#rows" if request.htmx else "events/log.html"  # type: ignore[attr-defined]
    return render(request, template, {"page": page})
