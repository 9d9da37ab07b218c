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


_providers: list[SearchProvider] = []


def search_provider_register(provider: SearchProvider) -> None:
    _providers.append(provider)


def search_providers() -> list[SearchProvider]:
    return list(_providers)
