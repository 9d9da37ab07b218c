"""Platform deliveries answered without the browsers' middleware.

A delivery to /hooks/ has no session, no cookie, no CSRF token, no log-in and no page:
sessions, locale negotiation, messages, htmx, the business's time zone, axes and the
Content-Security-Policy header (for HTML) do nothing for it, yet together cost more than
storing the delivery (make bench, B1). Listed right after the lock wait, this answers
/hooks/ itself; every other address goes on down the list as before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver
from django.utils import translation

from procedo.core.middleware import database_unavailable
from procedo.integrations import hooks

PREFIX = "/hooks/"
# The hooks' own patterns, below PREFIX as config/urls.py includes them: matched alone, an
# address costs 4 µs; through the site's whole list, 37–64 µs (make bench, B1).
HOOK_URLS = "procedo.integrations.hook_urls"


class PlatformDeliveryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        try:
            match = get_resolver(HOOK_URLS).resolve(request.path_info[len(PREFIX) - 1 :])
        except Resolver404:
            return self.get_response(request)  # the site's own 404
        if match.func is not hooks.hook_receive:
            return self.get_response(request)
        # The platform's delivery log reads the answer in the site's language, whatever this
        # thread's last request was in.
        with translation.override(settings.LANGUAGE_CODE):
            try:
                response = match.func(request, *match.args, **match.kwargs)
            except (OperationalError, InterfaceError) as exc:  # as DatabaseUnavailableMiddleware
                response = database_unavailable(request, exc)
        # As CommonMiddleware does for every other answer: without it the server would send
        # the answer chunked, which a simple client cannot read on a kept-alive connection.
        response["Content-Length"] = str(len(response.content))
        return response
