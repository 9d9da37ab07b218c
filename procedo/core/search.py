"""The search box: each area registers a provider; the page shows each provider's hits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class SearchHit:
    title: str
    detail: str
    url: str


@dataclass(frozen=True)
class SearchProvider:
    label: str | Promise
    permission: str
    find: Callable[[str, int], list[SearchHit]]


_providers: list[SearchProvider] = []


def search_provider_register(provider: SearchProvider) -> None:
    _providers.append(provider)


def search_everywhere(
    *, query: str, user: Any, limit: int = 10
) -> list[tuple[SearchProvider, list[SearchHit]]]:
    from procedo.accounts.permissions import user_can

    query = query.strip()
    if len(query) < 2:
        return []
    return [
        (provider, provider.find(query, limit))
        for provider in _providers
        if user_can(user, provider.permission)
    ]
