"""The search page: each area's provider that the reader may use, with its hits."""

from __future__ import annotations

from typing import Any

from procedo.accounts.permissions import user_can
from procedo.core.search import SearchHit, SearchProvider, search_providers

SEARCH_QUERY_MIN = 2
SEARCH_QUERY_MAX = 100


def search_everywhere(
    *, query: str, user: Any, limit: int = 10
) -> list[tuple[SearchProvider, list[SearchHit]]]:
    # Longer than any name, email, phone or number anyone types; a pasted page is cut.
    query = query.strip()[:SEARCH_QUERY_MAX]
    if len(query) < SEARCH_QUERY_MIN:
        return []
    return [
        (provider, provider.find(query, limit))
        for provider in search_providers()
        if user_can(user, provider.permission)
    ]
