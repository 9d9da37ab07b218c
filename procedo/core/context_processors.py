from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from procedo.accounts.permissions import user_can
from procedo.core.navigation import nav_entries


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    current = request.resolver_match.view_name if request.resolver_match else ""
    current_area = current.split(":")[0]
    entries = [
        {
            "url": reverse(entry.url_name),
            "label": entry.label,
            "active": entry.url_name.split(":")[0] == current_area
            and (current_area != "core" or entry.url_name == current),
        }
        for entry in nav_entries()
        if user_can(user, entry.permission)
    ]
    return {"nav_entries": entries}
