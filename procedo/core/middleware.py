from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """A database that cannot be reached answers 503, so clients retry; never a 200 for nothing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            logger.error("database unavailable: %s", exception)
            response = HttpResponse(
                _("The database is unavailable; please retry shortly."),
                status=503,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = "5"
            return response
        return None


class DomainErrorMiddleware:
    """A rule's refusal that a page did not catch is the page's answer, never a 500.

    Pages catch what they can show next to a field; an unknown id in the address, a
    forbidden object or a stale move that reaches here is told to the person with
    its status (404, 403, 409, 422). The API answers these itself (config/api.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        titles = {
            NotFound: _("Not found"),
            PermissionDenied: _("Not allowed"),
            Conflict: _("Not possible now"),
        }
        title = next(
            (text for kind, text in titles.items() if isinstance(exception, kind)),
            _("Not accepted"),
        )
        context = {"title": title, "message": exception.message}
        return render(request, "core/refused.html", context, status=exception.status_code)
