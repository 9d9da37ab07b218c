from __future__ import annotations

import time
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from procedo.business.selectors import business_get

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
