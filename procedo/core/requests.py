"""What a page's request carries besides Django's: django-htmx's details.

Views that branch on `request.htmx` take an `HtmxHttpRequest`, so the type checker
knows the attribute that `django_htmx.middleware.HtmxMiddleware` sets on every request.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
