"""`{% export_links "customers:export" %}`: the list as CSV or XLSX, with the filters shown now.

Placed inside the part of a list page that htmx re-renders when a filter changes, so
the links always carry the filters on screen (the request's query, less its page cursor).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()

_NOT_FILTERS = ("cursor", "before", "format")


@register.inclusion_tag("core/_export_links.html", takes_context=True)
def export_links(context: Any, url_name: str, *args: Any) -> dict[str, Any]:
    request = context["request"]
    query = request.GET.copy()
    for name in _NOT_FILTERS:
        query.pop(name, None)
    for name in [key for key, value in query.items() if value == ""]:
        query.pop(name)
    prefix = reverse(url_name, args=args) + "?" + (query.urlencode() + "&" if query else "")
    return {"csv_url": prefix + "format=csv", "xlsx_url": prefix + "format=xlsx"}
