"""The search page: each area's provider that the reader may use, with its hits."""

from __future__ import annotations

from typing import Any

from procedo.accounts.permissions import user_can
from procedo.core.search import SearchHit, SearchProvider, search_providers


def search_everywhere(
    *, query: str, user: Any, limit: int = 10
) -> list[tuple[SearchProvider, list[SearchHit]]]:
    query = query.strip()
    if len(query) < 2:
        return []
    return [
        (provider, provider.find(query, limit))
        for provider in search_providers()
        if user_can(user, provider.permission)
    ]
