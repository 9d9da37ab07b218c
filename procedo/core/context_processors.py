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
    entries = []
    for entry in nav_entries():
        if not user_can(user, entry.permission):
            continue
        url = reverse(entry.url_name)
        # A section is active on its own pages (/customers/42/ under /customers/);
        # the dashboard at "/" only on itself.
        active = request.path == url if url == "/" else request.path.startswith(url)
        entries.append({"url": url, "label": entry.label, "active": active})
    return {"nav_entries": entries}
