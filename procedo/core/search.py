"""The search box: each area registers a provider; the page shows each provider's hits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    # Where its group stands on the search page and in the suggestions (customers first).
    order: int = 500


_providers: list[SearchProvider] = []


def search_provider_register(provider: SearchProvider) -> None:
    """Called from an app's ready(); registering the same provider twice keeps one."""
    if provider not in _providers:
        _providers.append(provider)
        _providers.sort(key=lambda item: item.order)


def search_providers() -> list[SearchProvider]:
    return list(_providers)
