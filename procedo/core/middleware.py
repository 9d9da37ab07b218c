from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core import uploads
from procedo.core.selectors import business_get

logger = logging.getLogger(__name__)

_ZONE_TTL_SECONDS = 30.0


class BusinessTimezoneMiddleware:
    """Show every time in the business's zone; the database keeps UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._zone_name = ""
        self._read_at = 0.0

    def _zone(self) -> str:
        # The zone changes perhaps once in a store's life; re-reading it on
        # every request would add a query to every page and webhook.
        now = time.monotonic()
        if not self._zone_name or now - self._read_at > _ZONE_TTL_SECONDS:
            try:
                self._zone_name = business_get().time_zone
            except DatabaseError:
                return self._zone_name or "UTC"
            self._read_at = now
        return self._zone_name

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.activate(self._zone())
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


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


class RequestSizeMiddleware:
    """A body declared larger than the upload limit is refused with 413 before it is read.

    Listed before CsrfViewMiddleware, which would read it. A view marked
    `upload_limited` answers with its own page instead; JSON under /api/.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not uploads.declared_too_large(request) or getattr(view, "upload_limited", False):
            return None
        message = uploads.upload_limit_message()
        if request.path.startswith("/api/"):
            multipart = request.content_type == "multipart/form-data"
            body = {"detail": message, "field": "file" if multipart else "body"}
            return JsonResponse(body, status=413)
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
