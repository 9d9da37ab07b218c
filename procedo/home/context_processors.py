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
    entries: list[dict[str, Any]] = []
    for entry in nav_entries():
        if not user_can(user, entry.permission):
            continue
        badge = entry.badge(user) if entry.badge is not None else 0
        entries.append({"url": reverse(entry.url_name), "label": entry.label, "badge": badge})
    # A section is active on its own pages (/customers/42/ under /customers/), the
    # longest matching prefix only (/sops/mine/ is "My SOPs", not "SOPs"); "/" on itself.
    matching: list[str] = [
        item["url"]
        for item in entries
        if request.path == item["url"]
        or (item["url"] != "/" and request.path.startswith(item["url"]))
    ]
    current = max(matching, key=len, default=None)
    for item in entries:
        item["active"] = item["url"] == current
    return {"nav_entries": entries}
